//! Configuration: files, environment, and the errors that name the setting.

use super::*;
use std::collections::HashMap;

mod keep_alive;

const GOOD: &str = r#"
[graph]
tenant_id = "9F4EBAB6-520D-49C0-85CC-7B25C78D4A93"
client_id = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0"

[[graph.encryption_keys]]
id = "bridge-2026"
private_key = "file:/etc/pb/notify.pem"

[connector]
url = "https://connector.example/"
signing_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[store]
sqlite_path = "bridge.db"
"#;

#[test]
fn a_good_file_validates_with_defaults() {
    let cfg = RawConfig::from_toml(GOOD, "c.toml")
        .unwrap()
        .validate(Origin::File)
        .unwrap();
    assert_eq!(cfg.tenant_id, "9f4ebab6-520d-49c0-85cc-7b25c78d4a93");
    assert_eq!(cfg.jwks_url, DEFAULT_JWKS_URL);
    assert_eq!(
        cfg.encryption_keys[0].private_key,
        SecretRef::File(PathBuf::from("/etc/pb/notify.pem"))
    );
    assert_eq!(
        cfg.connector_secret,
        SecretRef::Inline("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into())
    );
    assert_eq!(cfg.time_budget, Duration::from_millis(2000));
    assert!(matches!(cfg.store, StoreConfig::Sqlite { .. }));
    let no_store = RawConfig::from_toml(
        &GOOD.replace("[store]\nsqlite_path = \"bridge.db\"", ""),
        "c.toml",
    )
    .unwrap();
    let cfg2 = no_store.validate(Origin::File).unwrap();
    assert!(
        matches!(cfg2.store, StoreConfig::Sqlite { ref path } if path == std::path::Path::new("presence-bridge.db"))
    );
    assert_eq!(cfg.graph_base_url, DEFAULT_GRAPH_BASE_URL);
    assert_eq!(cfg.graph_authority_url, DEFAULT_AUTHORITY_URL);
    assert!(
        cfg.connector_event_secrets.is_empty(),
        "Swyx → Teams is off by default"
    );
    assert_eq!(cfg.speaking_expiration, Duration::from_secs(300));
    assert_eq!(cfg.speaking_max_call, Duration::from_secs(240 * 60));
    assert_eq!(
        cfg.admin_listen, None,
        "the admin routes stay on server.listen by default"
    );
    assert_eq!(cfg.admin_token, None, "no admin page by default");
    // The secret never shows in Debug output.
    assert!(!format!("{cfg:?}").contains("MfKQ9r8"));
}

#[test]
fn file_errors_name_the_setting() {
    let e = RawConfig::from_toml(
        &GOOD.replace("925bff9f-f6e2-4a69-b858-f71ea2b9b6d0", "my-app"),
        "c.toml",
    )
    .unwrap()
    .validate(Origin::File)
    .unwrap_err();
    assert_eq!(e.setting(), "graph.client_id");
    assert!(e.to_string().contains("GUID"));

    let e = RawConfig::from_toml(
        &GOOD.replace("[store]", "[store]\ndynamodb_table = \"t\""),
        "c.toml",
    )
    .unwrap()
    .validate(Origin::File)
    .unwrap_err();
    assert!(e.to_string().contains("not both"), "{e}");

    let e = RawConfig::from_toml(&GOOD.replace("url = ", "ur1 = "), "c.toml").unwrap_err();
    assert!(e.setting().starts_with("c.toml line"), "{e}");
    assert!(e.to_string().contains("ur1"), "{e}");

    let e = RawConfig::from_toml(
        &format!("{GOOD}\n[webhook]\ntime_budget_ms = 5000\n"),
        "c.toml",
    )
    .unwrap()
    .validate(Origin::File)
    .unwrap_err();
    assert_eq!(e.setting(), "webhook.time_budget_ms");
}

/// GOOD with `line` added to `[section]` (the section is added when GOOD has none).
fn with(section: &str, line: &str) -> String {
    let header = format!("[{section}]\n");
    if GOOD.contains(&header) {
        GOOD.replacen(&header, &format!("{header}{line}\n"), 1)
    } else {
        format!("{GOOD}\n{header}{line}\n")
    }
}

fn first_problem(text: &str) -> ConfigError {
    RawConfig::from_toml(text, "c.toml")
        .unwrap()
        .validate(Origin::File)
        .unwrap_err()
}

#[test]
fn every_section_names_the_setting_and_the_problem() {
    let cases = [
        (
            with("graph", "jwks_url = \"ftp://keys\""),
            "graph.jwks_url",
            "is not an https URL",
        ),
        (
            with("graph", "authority_url = \"login\""),
            "graph.authority_url",
            "\"login\" is not a URL",
        ),
        (
            with("graph", "base_url = \"graph\""),
            "graph.base_url",
            "\"graph\" is not a URL",
        ),
        (
            GOOD.replace("tenant_id = \"9F4EBAB6-520D-49C0-85CC-7B25C78D4A93\"", ""),
            "graph.tenant_id",
            "missing (required)",
        ),
        (
            format!(
                "{GOOD}\n[[graph.encryption_keys]]\nid = \"bridge-2026\"\nprivate_key = \"file:/k\"\n"
            ),
            "graph.encryption_keys",
            "key id \"bridge-2026\" is configured twice",
        ),
        (
            format!("{GOOD}\n[[graph.encryption_keys]]\nid = \"next\"\n"),
            "graph.encryption_keys",
            "key \"next\" has no `private_key`",
        ),
        (
            format!("{GOOD}\n[[graph.encryption_keys]]\nprivate_key = \"file:/k\"\n"),
            "graph.encryption_keys",
            "key #2 needs an `id` of 1 to 128 characters",
        ),
        (
            with("connector", "timeout_ms = 10"),
            "connector.timeout_ms",
            "10 is outside 50..=30000",
        ),
        (
            with("connector", "max_attempts = 0"),
            "connector.max_attempts",
            "0 is outside 1..=10",
        ),
        (
            with("webhook", "max_body_bytes = 10"),
            "webhook.max_body_bytes",
            "10 is outside 1024..=6291456 (Lambda's payload limit)",
        ),
        (
            with("server", "listen = \"everywhere\""),
            "server.listen",
            "\"everywhere\" is not an address like 127.0.0.1:8080",
        ),
        (
            with("server", "admin_listen = \"metrics\""),
            "server.admin_listen",
            "\"metrics\" is not an address like 127.0.0.1:9090",
        ),
        (
            with(
                "server",
                "listen = \"0.0.0.0:8080\"\nadmin_listen = \"0.0.0.0:8080\"",
            ),
            "server.admin_listen",
            "0.0.0.0:8080 is server.listen too",
        ),
        (
            with("server", "admin_token = \"file:/etc/pb/admin.token\""),
            "server.admin_token",
            "served on server.admin_listen only",
        ),
        (
            with("server", "maintenance_interval_secs = 0"),
            "server.maintenance_interval_secs",
            "0 is outside 1..=3600",
        ),
        (
            with("speaking", "max_call_minutes = 0"),
            "speaking.max_call_minutes",
            "0 is outside 1..=1440",
        ),
        (
            format!(
                "{}\n[subscriptions]\nnotification_url = \"https://b.example/n\"\ncertificate = \"file:/c\"\ncertificate_id = \"bridge-2026\"\n",
                with("graph", "client_secret = \"s\"")
            ),
            "accounts.token_key",
            "missing: the sync accounts' refresh tokens are sealed with it",
        ),
    ];
    for (text, setting, problem) in cases {
        let e = first_problem(&text);
        assert_eq!(e.setting(), setting, "{e}\n{text}");
        assert!(e.to_string().contains(problem), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("configuration: {setting}: ")),
            "{e}"
        );
    }
}

#[test]
fn an_unreadable_file_keeps_the_reason() {
    let missing = std::path::Path::new("/nonexistent/presence-bridge.toml");
    let e = RawConfig::from_file(missing).unwrap_err();
    assert_eq!(e.setting(), "/nonexistent/presence-bridge.toml");
    let cause = std::error::Error::source(&e).expect("the I/O error is kept");
    let io = cause
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn swyx_to_teams_settings() {
    let with = GOOD.replace(
        "[connector]",
        "[connector]\nevent_secrets = [\"whsec_AAAAAAAAAAAAAAAAAAAAAAAA\", \"file:/etc/pb/old\"]",
    );
    let e = RawConfig::from_toml(&with, "c.toml")
        .unwrap()
        .validate(Origin::File)
        .unwrap_err();
    assert_eq!(e.setting(), "graph.client_secret");
    let with = with.replace(
        "[graph]",
        "[speaking]\nexpiration_minutes = 10\n\n[graph]\nclient_secret = \"app-s3cret\"\nbase_url = \"http://127.0.0.1:9/v1.0\"",
    );
    let cfg = RawConfig::from_toml(&with, "c.toml")
        .unwrap()
        .validate(Origin::File)
        .unwrap();
    assert_eq!(cfg.connector_event_secrets.len(), 2);
    assert_eq!(cfg.graph_base_url, "http://127.0.0.1:9/v1.0");
    assert_eq!(cfg.speaking_expiration, Duration::from_secs(600));
    assert!(!format!("{cfg:?}").contains("app-s3cret"));
    let e = RawConfig::from_toml(&with.replace("= 10", "= 4"), "c.toml")
        .unwrap()
        .validate(Origin::File)
        .unwrap_err();
    assert_eq!(e.setting(), "speaking.expiration_minutes");
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn environment_for_lambda() {
    let base = [
        ("GRAPH_TENANT_ID", "9f4ebab6-520d-49c0-85cc-7b25c78d4a93"),
        ("GRAPH_CLIENT_ID", "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0"),
        (
            "GRAPH_ENCRYPTION_KEYS",
            r#"[{"id":"c1","private_key":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:notify-AbCdEf"}]"#,
        ),
        ("CONNECTOR_URL", "https://connector.example/"),
        (
            "CONNECTOR_SIGNING_SECRET",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:conn-AbCdEf",
        ),
        ("TABLE_NAME", "presence-bridge"),
    ];
    let cfg = RawConfig::from_env(env(&base))
        .unwrap()
        .validate(Origin::Env)
        .unwrap();
    assert!(matches!(
        cfg.encryption_keys[0].private_key,
        SecretRef::SecretsManager(_)
    ));
    assert!(
        matches!(cfg.store, StoreConfig::DynamoDb { ref table, .. } if table == "presence-bridge")
    );

    let missing: Vec<_> = base
        .iter()
        .filter(|(k, _)| *k != "CONNECTOR_URL")
        .cloned()
        .collect();
    let e = RawConfig::from_env(env(&missing))
        .unwrap()
        .validate(Origin::Env)
        .unwrap_err();
    assert_eq!(e.setting(), "CONNECTOR_URL");
    assert!(e.to_string().contains("missing"));

    let mut swyx = base.to_vec();
    swyx.push((
        "CONNECTOR_EVENT_SECRETS",
        "arn:aws:secretsmanager:eu-west-1:1:secret:a, file:/b",
    ));
    let e = RawConfig::from_env(env(&swyx))
        .unwrap()
        .validate(Origin::Env)
        .unwrap_err();
    assert_eq!(e.setting(), "GRAPH_CLIENT_SECRET");
    swyx.push(("GRAPH_CLIENT_SECRET", "file:/run/secret"));
    swyx.push(("SPEAKING_MAX_CALL_MINUTES", "60"));
    let cfg = RawConfig::from_env(env(&swyx))
        .unwrap()
        .validate(Origin::Env)
        .unwrap();
    assert_eq!(
        cfg.connector_event_secrets,
        vec![
            SecretRef::SecretsManager("arn:aws:secretsmanager:eu-west-1:1:secret:a".into()),
            SecretRef::File(PathBuf::from("/b"))
        ]
    );
    assert_eq!(cfg.speaking_max_call, Duration::from_secs(3600));

    let mut bad = base.to_vec();
    bad.push(("CONNECTOR_TIMEOUT_MS", "soon"));
    let e = RawConfig::from_env(env(&bad)).unwrap_err();
    assert_eq!(e.setting(), "CONNECTOR_TIMEOUT_MS");
    assert!(
        e.to_string().contains("\"soon\" is not a whole number"),
        "{e}"
    );
    assert!(
        std::error::Error::source(&e).is_some(),
        "the parse error is kept"
    );

    let mut bad_keys = base.to_vec();
    bad_keys[2] = ("GRAPH_ENCRYPTION_KEYS", "c1=/path");
    let e = RawConfig::from_env(env(&bad_keys)).unwrap_err();
    assert_eq!(e.setting(), "GRAPH_ENCRYPTION_KEYS");
    assert!(e.to_string().contains("expected a JSON list"), "{e}");
    let cause = std::error::Error::source(&e).expect("the JSON error is kept");
    assert!(cause.is::<serde_json::Error>());
}

#[test]
fn secrets_travel_over_https_except_to_loopback_hosts() {
    let with = |setting: &str, url: &str| {
        let text = match setting {
            "connector.url" => GOOD.replace("https://connector.example/", url),
            _ => {
                let (section, key) = setting.split_once('.').unwrap();
                GOOD.replace(
                    &format!("[{section}]\n"),
                    &format!("[{section}]\n{key} = {url:?}\n"),
                )
            }
        };
        RawConfig::from_toml(&text, "c.toml")
            .unwrap()
            .validate(Origin::File)
    };
    for setting in [
        "graph.base_url",
        "graph.authority_url",
        "graph.jwks_url",
        "connector.url",
    ] {
        for url in [
            "http://graph.example/v1.0",
            "http://10.0.0.5:8080/",
            "http://[fe80::1]/",
            "ftp://127.0.0.1/",
        ] {
            let e = with(setting, url).unwrap_err();
            assert_eq!(e.setting(), setting, "{url}");
            assert!(e.to_string().contains("https"), "{setting} {url}: {e}");
        }
        for url in [
            "https://graph.example/v1.0",
            "http://127.0.0.1:9/",
            "http://127.8.9.10/",
            "http://[::1]:8080/",
            "http://localhost:8080/",
        ] {
            assert!(with(setting, url).is_ok(), "{setting} {url}");
        }
    }
    let e = RawConfig::from_env(env(&[
        ("GRAPH_TENANT_ID", "9f4ebab6-520d-49c0-85cc-7b25c78d4a93"),
        ("GRAPH_CLIENT_ID", "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0"),
        (
            "GRAPH_ENCRYPTION_KEYS",
            r#"[{"id":"k","private_key":"file:/k.pem"}]"#,
        ),
        ("CONNECTOR_URL", "http://connector.example/"),
        (
            "CONNECTOR_SIGNING_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
    ]))
    .unwrap()
    .validate(Origin::Env)
    .unwrap_err();
    assert_eq!(e.setting(), "CONNECTOR_URL");
}
