//! The TOML file as written, before validation: every field optional, unknown keys refused, so a
//! typo is reported with the key's name instead of being silently ignored.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub bridge: RawBridge,
    #[serde(default)]
    pub directory: RawDirectory,
    #[serde(default)]
    pub sip: RawSip,
    #[serde(default)]
    pub presence: RawPresence,
    #[serde(default)]
    pub writer: RawWriter,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub tls_cert_file: Option<String>,
    pub tls_key_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBridge {
    pub events_url: Option<String>,
    pub inbound_secrets: Option<Vec<String>>,
    pub outbound_secret: Option<String>,
    pub timeout_ms: Option<u64>,
    pub retry_max_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    pub source: Option<String>,
    pub refresh_secs: Option<u64>,
    pub csv_path: Option<String>,
    pub ldap: Option<RawLdap>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLdap {
    pub url: Option<String>,
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    pub base_dn: Option<String>,
    pub filter: Option<String>,
    pub attr_id: Option<String>,
    pub attr_name: Option<String>,
    pub attr_email: Option<String>,
    pub attr_sip_uri: Option<String>,
    pub attr_groups: Option<String>,
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSip {
    pub enabled: Option<bool>,
    pub server: Option<String>,
    pub transport: Option<String>,
    pub domain: Option<String>,
    pub username: Option<String>,
    pub auth_username: Option<String>,
    pub password: Option<String>,
    pub local_address: Option<String>,
    pub register_expires_secs: Option<u32>,
    pub subscribe_expires_secs: Option<u32>,
    pub subscribe_rate_per_sec: Option<u32>,
    pub retry_min_ms: Option<u64>,
    pub retry_max_secs: Option<u64>,
    pub watch_uri_template: Option<String>,
    pub t1_ms: Option<u64>,
    pub tls_ca_file: Option<String>,
    pub tls_server_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPresence {
    pub speaking: Option<Vec<String>>,
    pub available: Option<Vec<String>>,
    pub away: Option<Vec<String>>,
    pub do_not_disturb: Option<Vec<String>>,
    pub logged_off: Option<Vec<String>>,
    pub status_changed: Option<bool>,
    pub teams_echo_window_secs: Option<u64>,
    pub ignore_active_while_teams_speaking: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWriter {
    pub kind: Option<String>,
    pub command: Option<RawCommandWriter>,
    pub http: Option<RawHttpWriter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommandWriter {
    pub program: Option<String>,
    pub args: Option<Vec<String>>,
    pub timeout_secs: Option<u64>,
    pub retries: Option<u32>,
    pub retry_backoff_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpWriter {
    pub url: Option<String>,
    pub secret: Option<String>,
    pub timeout_ms: Option<u64>,
    pub retries: Option<u32>,
}
