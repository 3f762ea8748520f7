//! Configuration: a TOML file for the CLI and the self-hosted server, environment variables for
//! Lambda. Both fill the same [`RawConfig`]; [`RawConfig::validate`] turns it into a [`Config`]
//! or an error that names the setting (as the operator wrote it: `graph.tenant_id` in a file,
//! `GRAPH_TENANT_ID` in the environment) and the problem. Secrets are references, resolved once at
//! start: a literal value, `file:PATH`, or an AWS Secrets Manager ARN.

mod subscriptions;

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

    /// Reads the environment variables of [`NAMES`] through `get` (so tests need not touch the
    /// process environment).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var =
            |toml_path: &str| get(&name(Origin::Env, toml_path)).filter(|v| !v.trim().is_empty());
        let num = |toml_path: &str| -> Result<Option<u64>, ConfigError> {
            var(toml_path)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| ConfigError {
                        setting: name(Origin::Env, toml_path),
                        problem: format!("{v:?} is not a whole number"),
                    })
                })
                .transpose()
        };
        let keys = match var("graph.encryption_keys") {
            None => Vec::new(),
            Some(json) => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct EnvKey {
                    id: String,
                    private_key: String,
                }
                let parsed: Vec<EnvKey> = serde_json::from_str(&json).map_err(|e| ConfigError {
                    setting: name(Origin::Env, "graph.encryption_keys"),
                    problem: format!(
                        "expected a JSON list like [{{\"id\":\"cert-2026\",\"private_key\":\"arn:aws:secretsmanager:…\"}}]: {e}"
                    ),
                })?;
                parsed
                    .into_iter()
                    .map(|k| RawKey {
                        id: Some(k.id),
                        private_key: Some(k.private_key),
                    })
                    .collect()
            }
        };
        let (subscriptions, accounts) = subscriptions::raw_from_env(&var, &num)?;
        Ok(RawConfig {
            subscriptions,
            accounts,
            graph: RawGraph {
                tenant_id: var("graph.tenant_id"),
                client_id: var("graph.client_id"),
                jwks_url: var("graph.jwks_url"),
                encryption_keys: keys,
                client_secret: var("graph.client_secret"),
                authority_url: var("graph.authority_url"),
                base_url: var("graph.base_url"),
            },
            connector: RawConnector {
                url: var("connector.url"),
                signing_secret: var("connector.signing_secret"),
                timeout_ms: num("connector.timeout_ms")?,
                max_attempts: num("connector.max_attempts")?.map(|n| n.min(u32::MAX as u64) as u32),
                // A comma list of references (ARNs and file: paths hold no commas).
                event_secrets: var("connector.event_secrets")
                    .map(|v| {
                        v.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            store: RawStore {
                sqlite_path: var("store.sqlite_path"),
                dynamodb_table: var("store.dynamodb_table"),
                dynamodb_endpoint: var("store.dynamodb_endpoint"),
            },
            webhook: RawWebhook {
                max_body_bytes: num("webhook.max_body_bytes")?.map(|n| n as usize),
                time_budget_ms: num("webhook.time_budget_ms")?,
            },
            mapping: RawMapping {
                rules_file: var("mapping.rules_file"),
            },
            server: RawServer {
                listen: var("server.listen"),
                maintenance_interval_secs: num("server.maintenance_interval_secs")?,
            },
            speaking: RawSpeaking {
                expiration_minutes: num("speaking.expiration_minutes")?,
                max_call_minutes: num("speaking.max_call_minutes")?,
            },
        })
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
            match reqwest::Url::parse(&v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(v),
                _ => Err(err(path, format!("{v:?} is not an http(s) URL"))),
            }
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

/// The `[store]` part alone: admin commands such as `users import` need nothing else. In a file
/// it defaults to the embedded store `presence-bridge.db`; in the (Lambda) environment it is required.
pub fn validate_store(raw: RawStore, origin: Origin) -> Result<StoreConfig, ConfigError> {
    let err = |path: &str, problem: String| ConfigError {
        setting: name(origin, path),
        problem,
    };
    let nonempty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    match (nonempty(raw.sqlite_path), nonempty(raw.dynamodb_table)) {
        (Some(_), Some(_)) => Err(err(
            "store.dynamodb_table",
            format!(
                "set either {} or {}, not both",
                name(origin, "store.sqlite_path"),
                name(origin, "store.dynamodb_table")
            ),
        )),
        (Some(path), None) => Ok(StoreConfig::Sqlite {
            path: PathBuf::from(path),
        }),
        (None, Some(table)) => Ok(StoreConfig::DynamoDb {
            table,
            endpoint_url: nonempty(raw.dynamodb_endpoint),
        }),
        // Self-hosted: the embedded store next to the process. Lambda has no durable disk.
        (None, None) if origin == Origin::File => Ok(StoreConfig::Sqlite {
            path: PathBuf::from("presence-bridge.db"),
        }),
        (None, None) => Err(err(
            "store",
            format!(
                "missing: set {} or {}",
                name(origin, "store.sqlite_path"),
                name(origin, "store.dynamodb_table")
            ),
        )),
    }
}

pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
        assert_eq!(e.setting, "graph.client_id");
        assert!(e.problem.contains("GUID"));

        let e = RawConfig::from_toml(
            &GOOD.replace("[store]", "[store]\ndynamodb_table = \"t\""),
            "c.toml",
        )
        .unwrap()
        .validate(Origin::File)
        .unwrap_err();
        assert!(e.problem.contains("not both"), "{e}");

        let e = RawConfig::from_toml(&GOOD.replace("url = ", "ur1 = "), "c.toml").unwrap_err();
        assert!(e.setting.starts_with("c.toml line"), "{e}");
        assert!(e.problem.contains("ur1"), "{e}");

        let e = RawConfig::from_toml(
            &format!("{GOOD}\n[webhook]\ntime_budget_ms = 5000\n"),
            "c.toml",
        )
        .unwrap()
        .validate(Origin::File)
        .unwrap_err();
        assert_eq!(e.setting, "webhook.time_budget_ms");
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
        assert_eq!(e.setting, "graph.client_secret");
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
        assert_eq!(e.setting, "speaking.expiration_minutes");
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
        assert_eq!(e.setting, "CONNECTOR_URL");
        assert!(e.problem.contains("missing"));

        let mut swyx = base.to_vec();
        swyx.push((
            "CONNECTOR_EVENT_SECRETS",
            "arn:aws:secretsmanager:eu-west-1:1:secret:a, file:/b",
        ));
        let e = RawConfig::from_env(env(&swyx))
            .unwrap()
            .validate(Origin::Env)
            .unwrap_err();
        assert_eq!(e.setting, "GRAPH_CLIENT_SECRET");
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
        assert_eq!(e.setting, "CONNECTOR_TIMEOUT_MS");

        let mut bad_keys = base.to_vec();
        bad_keys[2] = ("GRAPH_ENCRYPTION_KEYS", "c1=/path");
        let e = RawConfig::from_env(env(&bad_keys)).unwrap_err();
        assert_eq!(e.setting, "GRAPH_ENCRYPTION_KEYS");
    }
}
