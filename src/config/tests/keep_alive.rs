//! The maintenance interval against the "In a call" session's life.

use super::*;

fn validate(text: &str, origin: Origin) -> Result<Config, ConfigError> {
    RawConfig::from_toml(text, "c.toml")
        .unwrap()
        .validate(origin)
}

#[test]
fn an_interval_of_half_the_session_life_or_more_is_refused_naming_both_settings() {
    // Default session PT5M: renewed 150 s before it ends, so a 150 s pass could miss it.
    let e = validate(
        &with("server", "maintenance_interval_secs = 150"),
        Origin::File,
    )
    .unwrap_err();
    assert_eq!(e.setting(), "server.maintenance_interval_secs", "{e}");
    let text = e.to_string();
    assert!(
        text.contains("150 s must be below half of speaking.expiration_minutes (150 s)"),
        "{text}"
    );
    // A longer session makes room for the same interval.
    let longer = with("server", "maintenance_interval_secs = 150")
        + "\n[speaking]\nexpiration_minutes = 10\n";
    assert!(validate(&longer, Origin::File).is_ok());
    assert!(
        validate(
            &with("server", "maintenance_interval_secs = 149"),
            Origin::File
        )
        .is_ok()
    );
}

#[test]
fn the_environment_names_both_variables() {
    let vars = [
        ("GRAPH_TENANT_ID", "9f4ebab6-520d-49c0-85cc-7b25c78d4a93"),
        ("GRAPH_CLIENT_ID", "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0"),
        (
            "GRAPH_ENCRYPTION_KEYS",
            r#"[{"id":"c1","private_key":"file:/run/notify.pem"}]"#,
        ),
        ("CONNECTOR_URL", "https://connector.example/"),
        ("CONNECTOR_SIGNING_SECRET", "file:/run/connector"),
        ("TABLE_NAME", "presence-bridge"),
        ("MAINTENANCE_INTERVAL_SECS", "3600"),
        ("SPEAKING_EXPIRATION_MINUTES", "60"),
    ];
    let e = RawConfig::from_env(env(&vars))
        .unwrap()
        .validate(Origin::Env)
        .unwrap_err();
    assert!(
        e.to_string().contains(
            "MAINTENANCE_INTERVAL_SECS: 3600 s must be below half of SPEAKING_EXPIRATION_MINUTES (1800 s)"
        ),
        "{e}"
    );
}
