//! Configuration: a TOML file for the CLI and the self-hosted server, environment variables for
//! Lambda. Both fill the same [`RawConfig`]; [`RawConfig::validate`] turns it into a [`Config`]
//! or an error that names the setting (as the operator wrote it: `graph.tenant_id` in a file,
//! `GRAPH_TENANT_ID` in the environment) and the problem. Secrets are references, resolved once at
//! start: a literal value, `file:PATH`, or an AWS Secrets Manager ARN.

mod check;
pub(crate) use check::is_loopback_host;
mod env;
mod mapping;
mod raw;
mod sections;
mod store;
mod subscriptions;
mod users;

pub use raw::{
    RawConfig, RawConnector, RawGraph, RawKey, RawMapping, RawRuleOverride, RawServer, RawSpeaking,
    RawStore, RawWebhook,
};
pub use store::{is_guid, validate_store};
pub use subscriptions::{RawAccounts, RawSubscriptions, SubscriptionsConfig};
pub use users::{RawUsers, UsersConfig};

use check::Check;
use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_JWKS_URL: &str = "https://login.microsoftonline.com/common/discovery/v2.0/keys";
pub const DEFAULT_AUTHORITY_URL: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com/v1.0";

/// Why a configuration cannot be used. Every variant names the setting (or the file and line) the
/// way the operator wrote it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting is missing, malformed or out of range.
    #[error("configuration: {setting}: {problem}")]
    Invalid { setting: String, problem: String },
    /// The configuration file could not be read.
    #[error("configuration: {}: cannot read the configuration file", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML of the configuration's shape. Only the parser's message is kept: its
    /// full error quotes the offending line, which may hold an inline secret.
    #[error("configuration: {location}: {problem}")]
    Syntax { location: String, problem: String },
    /// An environment variable is not the whole number it must be.
    #[error("configuration: {setting}: {value:?} is not a whole number")]
    NotANumber {
        setting: String,
        value: String,
        #[source]
        source: std::num::ParseIntError,
    },
    /// An environment variable is not the JSON it must be.
    #[error("configuration: {setting}: expected {expected}")]
    NotJson {
        setting: String,
        expected: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl ConfigError {
    /// The setting, or the file and line, the error is about.
    pub fn setting(&self) -> Cow<'_, str> {
        match self {
            ConfigError::Invalid { setting, .. }
            | ConfigError::NotANumber { setting, .. }
            | ConfigError::NotJson { setting, .. } => Cow::Borrowed(setting),
            ConfigError::Syntax { location, .. } => Cow::Borrowed(location),
            ConfigError::Unreadable { path, .. } => path.to_string_lossy(),
        }
    }
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

#[derive(Debug, Clone)]
pub struct EncryptionKeyConfig {
    pub certificate_id: String,
    pub private_key: SecretRef,
}

/// `[[mapping.override]]`: these users are judged by the rules in `file`, not the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOverrideConfig {
    /// Swyx ids, Entra ids or e-mail addresses (compared without regard to case).
    pub users: Vec<String>,
    /// Swyx group names (compared trimmed, without regard to case).
    pub swyx_groups: Vec<String>,
    pub file: PathBuf,
}

#[derive(Debug, Clone)]
pub enum StoreConfig {
    Sqlite {
        path: PathBuf,
    },
    DynamoDb {
        table: String,
        endpoint_url: Option<String>,
        timeouts: DynamoTimeouts,
    },
}

/// How long the DynamoDB client waits before it gives up: a table that does not answer must
/// fail a webhook's store call in time for a 503 within Graph's 3 s, so that Graph redelivers,
/// rather than hold the request until Graph counts the endpoint slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamoTimeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// One HTTP attempt (the SDK retries a timed-out attempt while the operation has time).
    pub attempt: Duration,
    /// One operation, all its attempts and back-offs included.
    pub operation: Duration,
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
    pub rule_overrides: Vec<RuleOverrideConfig>,
    /// `serve` only.
    pub listen: std::net::SocketAddr,
    /// `serve`: the operator's routes on a listener of their own; `None` = on `listen`.
    pub admin_listen: Option<std::net::SocketAddr>,
    /// `serve`: the admin page's credential (bearer token, or basic-auth password); `None` = no
    /// page. Only with `admin_listen`.
    pub admin_token: Option<SecretRef>,
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
    /// Automatic user linking (`[users]`).
    pub users: UsersConfig,
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
    (
        "store.dynamodb_connect_timeout_ms",
        "DYNAMODB_CONNECT_TIMEOUT_MS",
    ),
    (
        "store.dynamodb_attempt_timeout_ms",
        "DYNAMODB_ATTEMPT_TIMEOUT_MS",
    ),
    ("store.dynamodb_timeout_ms", "DYNAMODB_TIMEOUT_MS"),
    ("webhook.max_body_bytes", "WEBHOOK_MAX_BODY_BYTES"),
    ("webhook.time_budget_ms", "WEBHOOK_TIME_BUDGET_MS"),
    ("mapping.rules_file", "MAPPING_RULES_FILE"),
    ("mapping.override", "MAPPING_RULE_OVERRIDES"),
    ("server.listen", "LISTEN"),
    ("server.admin_listen", "ADMIN_LISTEN"),
    ("server.admin_token", "ADMIN_TOKEN"),
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
            .chain(users::NAMES)
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
            ConfigError::Syntax {
                location: match line {
                    Some(l) => format!("{source_name} line {l}"),
                    None => source_name.to_string(),
                },
                problem: e.message().trim().to_string(),
            }
        })
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Checks every section in the order of the file and names the first problem found.
    pub fn validate(self, origin: Origin) -> Result<Config, ConfigError> {
        let check = Check::new(origin);
        let graph = sections::graph(self.graph, check)?;
        let connector = sections::connector(self.connector, check)?;
        sections::swyx_to_teams_needs_client_secret(&graph, &connector, check)?;
        let store = validate_store(self.store, origin)?;
        let webhook = sections::webhook(self.webhook, check)?;
        let (rules_file, rule_overrides) = mapping::validate(self.mapping, check)?;
        let server = sections::server(self.server, check)?;
        let speaking = sections::speaking(self.speaking, check)?;
        sections::maintenance_renews_in_time(&server, &speaking, check)?;
        let token_key = sections::accounts(self.accounts);
        let users = users::validate(self.users, check)?;
        let key_ids: Vec<&str> = graph
            .encryption_keys
            .iter()
            .map(|k| k.certificate_id.as_str())
            .collect();
        let subscriptions = subscriptions::validate(
            self.subscriptions,
            check,
            &key_ids,
            graph.client_secret.is_some(),
            token_key.is_some(),
        )?;
        Ok(Config {
            tenant_id: graph.tenant_id,
            client_id: graph.client_id,
            jwks_url: graph.jwks_url,
            encryption_keys: graph.encryption_keys,
            connector_url: connector.url,
            connector_secret: connector.signing_secret,
            connector_timeout: connector.timeout,
            connector_max_attempts: connector.max_attempts,
            store,
            max_body_bytes: webhook.max_body_bytes,
            time_budget: webhook.time_budget,
            rules_file,
            rule_overrides,
            listen: server.listen,
            admin_listen: server.admin_listen,
            admin_token: server.admin_token,
            maintenance_interval: server.maintenance_interval,
            graph_client_secret: graph.client_secret,
            graph_authority_url: graph.authority_url,
            graph_base_url: graph.base_url,
            connector_event_secrets: connector.event_secrets,
            speaking_expiration: speaking.expiration,
            speaking_max_call: speaking.max_call,
            subscriptions,
            token_key,
            users,
        })
    }
}

/// Only the `[users]` section, validated: for commands that read the store and show the
/// configured directions without needing the rest of the file.
pub fn validate_users(raw: RawUsers, origin: Origin) -> Result<UsersConfig, ConfigError> {
    users::validate(raw, Check::new(origin))
}

/// A URL the bridge sends secrets or tokens to (Graph, Entra, the signing keys, the connector):
#[cfg(test)]
mod tests;
