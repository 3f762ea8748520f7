//! The Lambda side of the configuration: every setting from an environment variable (names in
//! [`NAMES`](super::NAMES)), into the same [`RawConfig`] a file gives.

use super::*;
use serde::Deserialize;

impl RawConfig {
    /// Reads the environment variables of [`NAMES`] through `get` (so tests need not touch the
    /// process environment).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var =
            |toml_path: &str| get(&name(Origin::Env, toml_path)).filter(|v| !v.trim().is_empty());
        let num = |toml_path: &str| -> Result<Option<u64>, ConfigError> {
            var(toml_path)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|source| ConfigError::NotANumber {
                            setting: name(Origin::Env, toml_path),
                            value: v.clone(),
                            source,
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
                let parsed: Vec<EnvKey> =
                    serde_json::from_str(&json).map_err(|source| ConfigError::NotJson {
                        setting: name(Origin::Env, "graph.encryption_keys"),
                        expected: r#"a JSON list like [{"id":"cert-2026","private_key":"arn:aws:secretsmanager:…"}]"#,
                        source,
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
            users: users::raw_from_env(&var, &num)?,
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
                dynamodb_connect_timeout_ms: num("store.dynamodb_connect_timeout_ms")?,
                dynamodb_attempt_timeout_ms: num("store.dynamodb_attempt_timeout_ms")?,
                dynamodb_timeout_ms: num("store.dynamodb_timeout_ms")?,
            },
            webhook: RawWebhook {
                max_body_bytes: num("webhook.max_body_bytes")?.map(|n| n as usize),
                time_budget_ms: num("webhook.time_budget_ms")?,
            },
            mapping: RawMapping {
                rules_file: var("mapping.rules_file"),
                overrides: match var("mapping.override") {
                    None => Vec::new(),
                    Some(json) => {
                        #[derive(Deserialize)]
                        #[serde(deny_unknown_fields)]
                        struct EnvOverride {
                            #[serde(default)]
                            users: Vec<String>,
                            #[serde(default, rename = "swyxGroups")]
                            swyx_groups: Vec<String>,
                            file: String,
                        }
                        let parsed: Vec<EnvOverride> = serde_json::from_str(&json).map_err(
                            |source| ConfigError::NotJson {
                                setting: name(Origin::Env, "mapping.override"),
                                expected: r#"a JSON list like [{"users":["1001","anna@contoso.example"],"swyxGroups":["Sales"],"file":"/opt/rules/sales.toml"}]"#,
                                source,
                            },
                        )?;
                        parsed
                            .into_iter()
                            .map(|o| RawRuleOverride {
                                users: o.users,
                                swyx_groups: o.swyx_groups,
                                file: Some(o.file),
                            })
                            .collect()
                    }
                },
            },
            server: RawServer {
                listen: var("server.listen"),
                admin_listen: var("server.admin_listen"),
                admin_token: var("server.admin_token"),
                maintenance_interval_secs: num("server.maintenance_interval_secs")?,
            },
            speaking: RawSpeaking {
                expiration_minutes: num("speaking.expiration_minutes")?,
                max_call_minutes: num("speaking.max_call_minutes")?,
            },
        })
    }
}
