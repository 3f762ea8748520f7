//! The operator's commands, run as the real binary: `check-config` names the bad setting (and
//! never prints a secret), `status` reads a running connector.

use crate::support::*;
use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_swyx-connector");

fn check(dir: &std::path::Path, extra_sip: &str) -> (bool, String, String) {
    let cfg = format!(
        "[store]\npath = \"c.db\"\n[bridge]\nevents_url = \"http://127.0.0.1:9/swyx/events\"\ninbound_secrets = [\"{INBOUND}\"]\noutbound_secret = \"{OUTBOUND}\"\n\
         [directory]\nsource = \"csv\"\ncsv_path = \"users.csv\"\n[writer]\nkind = \"log\"\n{extra_sip}"
    );
    std::fs::write(dir.join("users.csv"), USERS).unwrap();
    std::fs::write(dir.join("c.toml"), cfg).unwrap();
    let out = Command::new(EXE)
        .args(["check-config", "--config"])
        .arg(dir.join("c.toml"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn check_config_names_the_setting_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, _) = check(dir.path(), "[sip]\nenabled = false\n");
    assert!(ok && out.contains("OK (3 users"), "{out}");
    let (ok, _, err) = check(
        dir.path(),
        "[sip]\nserver = \"127.0.0.1:5060\"\ntransport = \"sctp\"\nusername = \"m\"\npassword = \"hunter2-very-secret\"\n",
    );
    assert!(
        !ok && err.contains("sip.transport") && err.contains("sctp"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    let (ok, _, err) = check(dir.path(), "[sip]\nenabled = false\nserver = 5060\n");
    assert!(
        !ok && err.contains("line") && !err.contains(INBOUND),
        "{err}"
    );
    let (ok, _, err) = check(
        dir.path(),
        "[sip]\nenabled = false\n[presence]\nspeaking = [\"active\"]\naway = [\"Active\"]\n",
    );
    assert!(
        !ok && err.contains("\"active\" is listed for two states"),
        "{err}"
    );
}

#[tokio::test]
async fn status_reads_a_running_connector() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = FakeBridge::start().await;
    let cfg = config(
        dir.path(),
        &bridge.url(),
        "[sip]\nenabled = false",
        "[writer]\nkind = \"log\"\n",
        USERS,
    );
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    // The file names port 0; point `status` at the port actually bound.
    let text = std::fs::read_to_string(dir.path().join("connector.toml"))
        .unwrap()
        .replace(
            "admin_listen = \"127.0.0.1:0\"",
            &format!("admin_listen = \"{}\"", c.admin_addr.unwrap()),
        )
        .replace("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:1\"");
    std::fs::write(dir.path().join("status.toml"), text).unwrap();
    let out = tokio::task::spawn_blocking({
        let path = dir.path().join("status.toml");
        move || {
            Command::new(EXE)
                .args(["status", "--config"])
                .arg(path)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("registration:   disabled") && text.contains("directory:      3 users"),
        "{text}"
    );
    c.stop().await;
}
