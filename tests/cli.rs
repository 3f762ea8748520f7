//! The `presence-bridge` binary as an operator runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bridge(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_presence-bridge"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run presence-bridge");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn map_prints_exactly_one_word() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--availability", "Busy", "--activity", "InACall"],
            "Speaking\n",
        ),
        (
            &["--availability", "available", "--activity", "outofoffice"],
            "Available\n",
        ),
        (
            &[
                "--availability",
                "Busy",
                "--activity",
                "InACall",
                "--out-of-office",
            ],
            "Speaking\n",
        ),
        (
            &["--availability", "DoNotDisturb", "--activity", "Focusing"],
            "DoNotDisturb\n",
        ),
        (
            &["--availability", "Offline", "--activity", "OffWork"],
            "Away\n",
        ),
        (
            &["--availability", "Offline", "--activity", "Offline"],
            "NoSync\n",
        ),
        (
            &["--availability", "Whatever", "--activity", "New"],
            "NoSync\n",
        ),
    ];
    for (args, want) in cases {
        let mut full = vec!["map"];
        full.extend_from_slice(args);
        let out = bridge(&full, None);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), *want, "{args:?}");
    }
}

#[test]
fn map_with_an_operator_rules_file_and_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("rules.toml");
    std::fs::write(
        &good,
        "[[rule]]\navailability = \"*\"\nactivity = \"*\"\nstatus = \"Away\"\n",
    )
    .unwrap();
    let out = bridge(
        &[
            "map",
            "--availability",
            "Available",
            "--activity",
            "Available",
            "--rules",
            good.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(stdout(&out), "Away\n");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\navailability = \"*\"\nactivity = \"*\"\nstatus = \"Speeking\"\n",
    )
    .unwrap();
    let out = bridge(
        &[
            "map",
            "--availability",
            "Available",
            "--activity",
            "Available",
            "--rules",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(err.contains("line 4") && err.contains("Speeking"), "{err}");
}

#[test]
fn default_rules_print_and_parse_back() {
    let out = bridge(&["default-rules"], None);
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, out.stdout).unwrap();
    let out = bridge(
        &[
            "map",
            "--availability",
            "BeRightBack",
            "--activity",
            "BeRightBack",
            "--rules",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(stdout(&out), "Away\n");
}

#[test]
fn decrypt_prints_resources_and_names_a_tampered_item() {
    let input = std::fs::read("tests/fixtures/crypto/notifications-2048.json").unwrap();
    let out = bridge(
        &[
            "decrypt",
            "--key",
            "tests/fixtures/crypto/key2048.pkcs8.pem",
        ],
        Some(&input),
    );
    assert!(!out.status.success(), "the fixture's last item is tampered");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read("tests/fixtures/crypto/manifest.json").unwrap())
            .unwrap();
    // Byte for byte as decrypted, one per line, in order: the good items' expected plaintexts.
    use base64::Engine;
    let mut want = Vec::new();
    for e in manifest["sets"][0]["expected"].as_array().unwrap() {
        if !e["tampered"].as_bool().unwrap() {
            want.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(e["plaintextBase64"].as_str().unwrap())
                    .unwrap(),
            );
            want.push(b'\n');
        }
    }
    assert_eq!(out.stdout, want);
    assert!(stderr(&out).contains("signature"), "{}", stderr(&out));

    let out = bridge(
        &[
            "decrypt",
            "--key",
            "tests/fixtures/crypto/other2048.pkcs8.pem",
        ],
        Some(&input),
    );
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
}

#[test]
fn users_import_links_and_reports_refused_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bridge.db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[store]\nsqlite_path = {:?}\n", db.to_str().unwrap()),
    )
    .unwrap();
    let csv = dir.path().join("users.csv");
    std::fs::write(
        &csv,
        "entra_id,swyx_user_id,email\n\
         6e1b1a6c-3d4e-4f5a-9b8c-7d6e5f4a3b2c,101,anna@contoso.example\n\
         bogus,102,ben@contoso.example\n\
         0f0e0d0c-0b0a-4908-8706-050403020100,103,carl@contoso.example\n",
    )
    .unwrap();
    let out = bridge(
        &[
            "users",
            "import",
            csv.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("2 users linked"), "{text}");
    assert!(
        text.contains(":3: entra_id \"bogus\" is not a GUID"),
        "{text}"
    );

    // Importing again changes nothing; listing shows both.
    let again = bridge(
        &[
            "users",
            "import",
            csv.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        stdout(&again).contains("0 users linked, 2 already linked"),
        "{}",
        stdout(&again)
    );
    let list = bridge(
        &["users", "list", "--config", config.to_str().unwrap()],
        None,
    );
    assert_eq!(
        stdout(&list),
        "entra_id,swyx_user_id,email\n0f0e0d0c-0b0a-4908-8706-050403020100,103,carl@contoso.example\n6e1b1a6c-3d4e-4f5a-9b8c-7d6e5f4a3b2c,101,anna@contoso.example\n"
    );

    // `status`: totals first (no sync account yet, so nobody is covered), then one row each.
    let cfg = config.to_str().unwrap();
    let status = bridge(&["status", "--config", cfg], None);
    let text = stdout(&status);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(
        text.starts_with("linked 2 · covered 0 · uncovered 2 · pending 0"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains(" NO ")).count(),
        2,
        "{text}"
    );
    let one = bridge(
        &[
            "status",
            "--config",
            cfg,
            "--user",
            "ANNA@contoso.example",
            "--json",
        ],
        None,
    );
    let json: serde_json::Value = serde_json::from_slice(&one.stdout).expect("JSON");
    assert_eq!(json["users"][0]["swyxUserId"], "101");
    assert_eq!(json["users"].as_array().map(Vec::len), Some(1));
    let unknown = bridge(&["status", "--config", cfg, "--user", "nobody"], None);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no linked user matches \"nobody\""),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn users_link_by_hand_and_include_need_only_the_store_and_sync_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bridge.db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[store]\nsqlite_path = {:?}\n", db.to_str().unwrap()),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let entra = "6e1b1a6c-3d4e-4f5a-9b8c-7d6e5f4a3b2c";
    let out = bridge(&["users", "link", entra, "101", "--config", cfg], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("by hand"), "{}", stdout(&out));
    let taken = bridge(
        &[
            "users",
            "link",
            "0f0e0d0c-0b0a-4908-8706-050403020100",
            "101",
            "--config",
            cfg,
        ],
        None,
    );
    assert!(!taken.status.success());
    assert!(
        stderr(&taken).contains("users unlink 101"),
        "{}",
        stderr(&taken)
    );
    let bad = bridge(&["users", "link", "bogus", "102", "--config", cfg], None);
    assert!(stderr(&bad).contains("not a GUID"), "{}", stderr(&bad));
    let list = bridge(&["users", "list", "--config", cfg], None);
    assert!(
        stdout(&list).contains(&format!("{entra},101,")),
        "{}",
        stdout(&list)
    );
    let include = bridge(&["users", "include", "101", "--config", cfg], None);
    assert!(
        stdout(&include).contains("not excluded"),
        "{}",
        stdout(&include)
    );
    // A sync reads Graph and the connector: the whole configuration is needed.
    let sync = bridge(&["users", "sync", "--dry-run", "--config", cfg], None);
    assert!(!sync.status.success());
    assert!(
        stderr(&sync).contains("graph.tenant_id"),
        "{}",
        stderr(&sync)
    );
}

#[test]
fn check_config_names_the_bad_setting() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[graph]\ntenant_id = \"contoso\"\n").unwrap();
    let out = bridge(
        &["check-config", "--config", config.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("graph.tenant_id"), "{}", stderr(&out));
}
