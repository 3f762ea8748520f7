//! Configuration: a TOML file for the CLI and the self-hosted server, environment variables for
//! Lambda. Both fill the same [`RawConfig`]; [`RawConfig::validate`] turns it into a [`Config`]
//! or an error that names the setting (as the operator wrote it: `graph.tenant_id` in a file,
//! `GRAPH_TENANT_ID` in the environment) and the problem. Secrets are references, resolved once at
//! start: a literal value, `file:PATH`, or an AWS Secrets Manager ARN.

mod env;
mod store;
mod subscriptions;

pub use store::{is_guid, validate_store};

pub use subscriptions::{RawAccounts, RawSubscriptions, SubscriptionsConfig};

use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_JWKS_URL: &str = "https://login.microsoftonline.com/common/discovery/v2.0/keys";
pub const DEFAULT_AUTHORITY_URL: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com/v1.0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration: {setting}: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

/// Where a setting came from, so errors use the operator's own name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    File,
    Env,
}

/// A reference to a secret value; never printed.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    Inline(String),
    File(PathBuf),
    SecretsManager(String),
}

impl SecretRef {
    pub fn parse(s: &str) -> Self {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("file:") {
            SecretRef::File(PathBuf::from(path))
        } else if s.starts_with("arn:aws:secretsmanager:")
            || s.starts_with("arn:aws-") && s.contains(":secretsmanager:")
        {
            SecretRef::SecretsManager(s.to_string())
        } else {
            SecretRef::Inline(s.to_string())
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Inline(_) => f.write_str("SecretRef::Inline(***)"),
            SecretRef::File(p) => write!(f, "SecretRef::File({})", p.display()),
            SecretRef::SecretsManager(arn) => write!(f, "SecretRef::SecretsManager({arn})"),
        }
    }
}

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
}

#[derive(Debug, Clone)]
pub struct EncryptionKeyConfig {
    pub certificate_id: String,
    pub private_key: SecretRef,
}

#[derive(Debug, Clone)]
pub enum StoreConfig {
    Sqlite {
        path: PathBuf,
    },
    DynamoDb {
        table: String,
        endpoint_url: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub tenant_id: String,
    pub client_id: String,
    pub jwks_url: String,
    pub encryption_keys: Vec<EncryptionKeyConfig>,
    pub connector_url: String,
    pub connector_secret: SecretRef,
    pub connector_timeout: Duration,
    pub connector_max_attempts: u32,
    pub store: StoreConfig,
    pub max_body_bytes: usize,
    pub time_budget: Duration,
    pub rules_file: Option<PathBuf>,
    /// `serve` only.
    pub listen: std::net::SocketAddr,
    pub maintenance_interval: Duration,
    /// Swyx → Teams (on when `connector_event_secrets` is not empty; then the client secret is set).
    pub graph_client_secret: Option<SecretRef>,
    pub graph_authority_url: String,
    pub graph_base_url: String,
    pub connector_event_secrets: Vec<SecretRef>,
    pub speaking_expiration: Duration,
    pub speaking_max_call: Duration,
    /// Subscription maintenance (sync accounts, renewal, reconciliation); `None` = not set up.
    pub subscriptions: Option<SubscriptionsConfig>,
    /// Seals the sync accounts' refresh tokens.
    pub token_key: Option<SecretRef>,
}

/// (TOML path, environment variable) of every setting.
const NAMES: &[(&str, &str)] = &[
    ("graph.tenant_id", "GRAPH_TENANT_ID"),
    ("graph.client_id", "GRAPH_CLIENT_ID"),
    ("graph.jwks_url", "GRAPH_JWKS_URL"),
    ("graph.encryption_keys", "GRAPH_ENCRYPTION_KEYS"),
    ("graph.client_secret", "GRAPH_CLIENT_SECRET"),
    ("graph.authority_url", "GRAPH_AUTHORITY_URL"),
    ("graph.base_url", "GRAPH_BASE_URL"),
    ("connector.event_secrets", "CONNECTOR_EVENT_SECRETS"),
    ("speaking.expiration_minutes", "SPEAKING_EXPIRATION_MINUTES"),
    ("speaking.max_call_minutes", "SPEAKING_MAX_CALL_MINUTES"),
    ("connector.url", "CONNECTOR_URL"),
    ("connector.signing_secret", "CONNECTOR_SIGNING_SECRET"),
    ("connector.timeout_ms", "CONNECTOR_TIMEOUT_MS"),
    ("connector.max_attempts", "CONNECTOR_MAX_ATTEMPTS"),
    ("store.sqlite_path", "SQLITE_PATH"),
    ("store.dynamodb_table", "TABLE_NAME"),
    ("store.dynamodb_endpoint", "DYNAMODB_ENDPOINT"),
    ("webhook.max_body_bytes", "WEBHOOK_MAX_BODY_BYTES"),
    ("webhook.time_budget_ms", "WEBHOOK_TIME_BUDGET_MS"),
    ("mapping.rules_file", "MAPPING_RULES_FILE"),
    ("server.listen", "LISTEN"),
    (
        "server.maintenance_interval_secs",
        "MAINTENANCE_INTERVAL_SECS",
    ),
];

fn name(origin: Origin, toml_path: &str) -> String {
    match origin {
        Origin::File => toml_path.to_string(),
        Origin::Env => NAMES
            .iter()
            .chain(subscriptions::NAMES)
            .find(|(t, _)| *t == toml_path)
            .map_or(toml_path.to_string(), |(_, e)| e.to_string()),
    }
}

impl RawConfig {
    pub fn from_toml(text: &str, source_name: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1
            });
            ConfigError {
                setting: match line {
                    Some(l) => format!("{source_name} line {l}"),
                    None => source_name.to_string(),
                },
                problem: e.message().trim().to_string(),
            }
        })
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            setting: path.display().to_string(),
            problem: format!("cannot read the configuration file: {e}"),
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    pub fn validate(self, origin: Origin) -> Result<Config, ConfigError> {
        let err = |path: &str, problem: String| ConfigError {
            setting: name(origin, path),
            problem,
        };
        let required = |path: &str, v: Option<String>| {
            v.map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err(path, "missing (required)".to_string()))
        };
        let guid = |path: &str, v: Option<String>| -> Result<String, ConfigError> {
            let v = required(path, v)?;
            if is_guid(&v) {
                Ok(v.to_ascii_lowercase())
            } else {
                Err(err(
                    path,
                    format!("{v:?} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"),
                ))
            }
        };
        let url = |path: &str, v: String| -> Result<String, ConfigError> {
            check_outbound_url(&v).map_err(|problem| err(path, problem))?;
            Ok(v)
        };

        let tenant_id = guid("graph.tenant_id", self.graph.tenant_id)?;
        let client_id = guid("graph.client_id", self.graph.client_id)?;
        let jwks_url = url(
            "graph.jwks_url",
            self.graph
                .jwks_url
                .unwrap_or_else(|| DEFAULT_JWKS_URL.to_string()),
        )?;
        if self.graph.encryption_keys.is_empty() {
            return Err(err(
                "graph.encryption_keys",
                "no encryption key configured: presence notifications are always encrypted"
                    .to_string(),
            ));
        }
        let mut encryption_keys = Vec::new();
        for (i, k) in self.graph.encryption_keys.into_iter().enumerate() {
            let path = "graph.encryption_keys";
            let id = k
                .id
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && s.len() <= 128)
                .ok_or_else(|| err(path, format!("key #{} needs an `id` of 1 to 128 characters (the subscription's encryptionCertificateId)", i + 1)))?;
            if encryption_keys
                .iter()
                .any(|e: &EncryptionKeyConfig| e.certificate_id == id)
            {
                return Err(err(path, format!("key id {id:?} is configured twice")));
            }
            let private_key = k
                .private_key
                .filter(|s| !s.trim().is_empty())
                .map(|s| SecretRef::parse(&s))
                .ok_or_else(|| err(path, format!("key {id:?} has no `private_key` (file:PATH, a Secrets Manager ARN or the PEM itself)")))?;
            encryption_keys.push(EncryptionKeyConfig {
                certificate_id: id,
                private_key,
            });
        }
        let connector_url = url(
            "connector.url",
            required("connector.url", self.connector.url)?,
        )?;
        let connector_secret = SecretRef::parse(&required(
            "connector.signing_secret",
            self.connector.signing_secret,
        )?);
        let connector_timeout_ms = self.connector.timeout_ms.unwrap_or(2_000);
        if !(50..=30_000).contains(&connector_timeout_ms) {
            return Err(err(
                "connector.timeout_ms",
                format!("{connector_timeout_ms} is outside 50..=30000"),
            ));
        }
        let connector_max_attempts = self.connector.max_attempts.unwrap_or(3);
        if !(1..=10).contains(&connector_max_attempts) {
            return Err(err(
                "connector.max_attempts",
                format!("{connector_max_attempts} is outside 1..=10"),
            ));
        }
        let store = validate_store(self.store, origin)?;
        let max_body_bytes = self.webhook.max_body_bytes.unwrap_or(1024 * 1024);
        if !(1024..=6 * 1024 * 1024).contains(&max_body_bytes) {
            return Err(err(
                "webhook.max_body_bytes",
                format!("{max_body_bytes} is outside 1024..=6291456 (Lambda's payload limit)"),
            ));
        }
        let time_budget_ms = self.webhook.time_budget_ms.unwrap_or(2_000);
        if !(100..=2_800).contains(&time_budget_ms) {
            return Err(err(
                "webhook.time_budget_ms",
                format!("{time_budget_ms} is outside 100..=2800: Graph wants an answer within 3 s"),
            ));
        }
        let listen_text = self
            .server
            .listen
            .unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let listen = listen_text
            .trim()
            .parse::<std::net::SocketAddr>()
            .map_err(|_| {
                err(
                    "server.listen",
                    format!("{listen_text:?} is not an address like 127.0.0.1:8080"),
                )
            })?;
        let maintenance_secs = self.server.maintenance_interval_secs.unwrap_or(10);
        if !(1..=3600).contains(&maintenance_secs) {
            return Err(err(
                "server.maintenance_interval_secs",
                format!("{maintenance_secs} is outside 1..=3600"),
            ));
        }
        let graph_authority_url = url(
            "graph.authority_url",
            self.graph
                .authority_url
                .unwrap_or_else(|| DEFAULT_AUTHORITY_URL.to_string()),
        )?;
        let graph_base_url = url(
            "graph.base_url",
            self.graph
                .base_url
                .unwrap_or_else(|| DEFAULT_GRAPH_BASE_URL.to_string()),
        )?;
        let graph_client_secret = self
            .graph
            .client_secret
            .filter(|s| !s.trim().is_empty())
            .map(|s| SecretRef::parse(&s));
        let connector_event_secrets: Vec<SecretRef> = self
            .connector
            .event_secrets
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| SecretRef::parse(s))
            .collect();
        if !connector_event_secrets.is_empty() && graph_client_secret.is_none() {
            return Err(err(
                "graph.client_secret",
                format!(
                    "missing: Swyx → Teams ({} is set) writes presence with the app's own token",
                    name(origin, "connector.event_secrets")
                ),
            ));
        }
        let expiration_minutes = self.speaking.expiration_minutes.unwrap_or(5);
        if !(5..=240).contains(&expiration_minutes) {
            return Err(err(
                "speaking.expiration_minutes",
                format!("{expiration_minutes} is outside 5..=240 (Graph's setPresence range)"),
            ));
        }
        let max_call_minutes = self.speaking.max_call_minutes.unwrap_or(240);
        if !(1..=24 * 60).contains(&max_call_minutes) {
            return Err(err(
                "speaking.max_call_minutes",
                format!("{max_call_minutes} is outside 1..=1440"),
            ));
        }
        let key_ids: Vec<&str> = encryption_keys
            .iter()
            .map(|k| k.certificate_id.as_str())
            .collect();
        let token_key = self
            .accounts
            .token_key
            .filter(|s| !s.trim().is_empty())
            .map(|s| SecretRef::parse(&s));
        let subscriptions = subscriptions::validate(
            self.subscriptions,
            origin,
            &key_ids,
            graph_client_secret.is_some(),
            token_key.is_some(),
        )?;
        Ok(Config {
            subscriptions,
            token_key,
            graph_client_secret,
            graph_authority_url,
            graph_base_url,
            connector_event_secrets,
            speaking_expiration: Duration::from_secs(expiration_minutes * 60),
            speaking_max_call: Duration::from_secs(max_call_minutes * 60),
            listen,
            maintenance_interval: Duration::from_secs(maintenance_secs),
            tenant_id,
            client_id,
            jwks_url,
            encryption_keys,
            connector_url,
            connector_secret,
            connector_timeout: Duration::from_millis(connector_timeout_ms),
            connector_max_attempts,
            store,
            max_body_bytes,
            time_budget: Duration::from_millis(time_budget_ms),
            rules_file: self.mapping.rules_file.map(PathBuf::from),
        })
    }
}

/// A URL the bridge sends secrets or tokens to (Graph, Entra, the signing keys, the connector):
/// https, or plain http to a loopback host only (the sandbox, a connector on the same machine).
fn check_outbound_url(v: &str) -> Result<(), String> {
    let Ok(url) = reqwest::Url::parse(v) else {
        return Err(format!("{v:?} is not a URL"));
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if url.host_str().is_some_and(is_loopback_host) => Ok(()),
        "http" => Err(format!(
            "{v:?} must be https: plain http is allowed only to a loopback host (127.0.0.0/8, ::1, localhost)"
        )),
        _ => Err(format!("{v:?} is not an https URL")),
    }
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests;
