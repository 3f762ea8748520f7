//! The settings as the operator wrote them, before validation: one struct per TOML section, filled
//! from a file by serde or from the environment by [`RawConfig::from_env`](super::RawConfig).
//! Every field is optional here so that a missing setting is reported by name, not by serde.

use super::subscriptions::{RawAccounts, RawSubscriptions};
use super::users::RawUsers;
use serde::Deserialize;

/// The settings as written, before validation. Field names are the TOML names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub graph: RawGraph,
    #[serde(default)]
    pub connector: RawConnector,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub webhook: RawWebhook,
    #[serde(default)]
    pub mapping: RawMapping,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub speaking: RawSpeaking,
    #[serde(default)]
    pub subscriptions: RawSubscriptions,
    #[serde(default)]
    pub accounts: RawAccounts,
    #[serde(default)]
    pub users: RawUsers,
}

/// Swyx → Teams: how the bridge's "In a call" session lives.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpeaking {
    pub expiration_minutes: Option<u64>,
    pub max_call_minutes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    /// `/metrics` and `/healthz` on a listener of their own (off: on `listen`).
    pub admin_listen: Option<String>,
    /// The admin page's credential (a secret reference); no page without it.
    pub admin_token: Option<String>,
    pub maintenance_interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGraph {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub jwks_url: Option<String>,
    #[serde(default)]
    pub encryption_keys: Vec<RawKey>,
    /// App-only token for writing presence (Swyx → Teams).
    pub client_secret: Option<String>,
    pub authority_url: Option<String>,
    pub base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub id: Option<String>,
    pub private_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnector {
    pub url: Option<String>,
    pub signing_secret: Option<String>,
    pub timeout_ms: Option<u64>,
    pub max_attempts: Option<u32>,
    /// Secrets the connector signs its events with (several while one is rotated).
    #[serde(default)]
    pub event_secrets: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub sqlite_path: Option<String>,
    pub dynamodb_table: Option<String>,
    pub dynamodb_endpoint: Option<String>,
    pub dynamodb_connect_timeout_ms: Option<u64>,
    pub dynamodb_attempt_timeout_ms: Option<u64>,
    pub dynamodb_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub max_body_bytes: Option<usize>,
    pub time_budget_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapping {
    pub rules_file: Option<String>,
    /// `[[mapping.override]]`: users judged by rules files of their own.
    #[serde(default, rename = "override")]
    pub overrides: Vec<RawRuleOverride>,
}

/// One `[[mapping.override]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuleOverride {
    /// Swyx ids, Entra ids or e-mail addresses.
    #[serde(default)]
    pub users: Vec<String>,
    /// Swyx groups (their names as the connector lists them).
    #[serde(default)]
    pub swyx_groups: Vec<String>,
    pub file: Option<String>,
}
