//! Everything a webhook invocation needs, built once per process (Lambda cold start or `serve`).

mod secrets;

use crate::config::{Config, SecretRef, StoreConfig};
use crate::domain::Clock;
use crate::domain::MappingRules;
use crate::graph::client::{GraphClient, GraphSettings};
use crate::graph::crypto::NotificationKeys;
use crate::graph::delegated::LoginEndpoint;
use crate::graph::sealed::TokenSealer;
use crate::graph::token::ClientSecret;
use crate::graph::validation_token::{TokenSettings, TokenValidator};
use crate::metrics::Metrics;
use crate::store::{DynamoStore, SqliteStore, Store};
use crate::subscriptions::sync_accounts::SyncAccounts;
use crate::swyx::client::{ConnectorClient, ConnectorSettings};
use crate::swyx::signature::WebhookSecret;
use crate::swyx_to_teams::session::SwyxToTeams;
use anyhow::Context;
pub use secrets::SecretResolver;
use std::sync::Arc;
use std::time::Duration;

/// A webhook's budget is a few seconds: a connection that takes longer will not be in time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct AppSettings {
    pub tenant_id: String,
    pub client_id: String,
    pub max_body_bytes: usize,
    /// How long a webhook may spend on downstream work before it answers; what is not delivered
    /// by then stays pending for maintenance.
    pub time_budget: Duration,
}

pub struct App {
    pub settings: AppSettings,
    pub rules: MappingRules,
    pub keys: Arc<NotificationKeys>,
    pub tokens: Arc<TokenValidator>,
    pub store: Arc<dyn Store>,
    pub connector: ConnectorClient,
    pub metrics: Arc<Metrics>,
    /// Swyx → Teams; `None` when not configured (no connector event secrets).
    pub swyx_to_teams: Option<Arc<SwyxToTeams>>,
    /// Subscription maintenance (sync accounts); `None` when `[subscriptions]` is not set.
    pub accounts: Option<Arc<SyncAccounts>>,
    /// Wakes the self-hosted maintenance loop early (a lifecycle notification arrived).
    pub wake_maintenance: Arc<tokio::sync::Notify>,
}

impl App {
    /// Builds the app from a validated configuration: resolves secrets (once), loads keys and
    /// rules, opens the store. Every failure names the setting.
    pub async fn from_config(cfg: &Config) -> anyhow::Result<Self> {
        Self::from_config_with_clock(cfg, Clock::system()).await
    }

    /// As [`App::from_config`], on another time source (the sandbox clock in tests).
    pub async fn from_config_with_clock(cfg: &Config, clock: Clock) -> anyhow::Result<Self> {
        let mut secrets = SecretResolver::default();
        // Cold start: every Secrets Manager read at once, on one AWS configuration shared with
        // the DynamoDB client, instead of one round trip after another.
        let mut refs: Vec<&SecretRef> =
            cfg.encryption_keys.iter().map(|k| &k.private_key).collect();
        refs.push(&cfg.connector_secret);
        refs.extend(cfg.connector_event_secrets.iter());
        refs.extend(cfg.graph_client_secret.iter());
        refs.extend(cfg.token_key.iter());
        refs.extend(cfg.subscriptions.as_ref().map(|s| &s.certificate));
        if matches!(cfg.store, StoreConfig::DynamoDb { .. }) {
            secrets.aws_config().await;
        }
        secrets.prefetch(&refs).await;
        let rules = match &cfg.rules_file {
            Some(path) => MappingRules::load(path)?,
            None => MappingRules::default(),
        };
        let mut keys = NotificationKeys::new();
        for k in &cfg.encryption_keys {
            let pem = secrets
                .resolve(&k.private_key)
                .await
                .with_context(|| format!("graph.encryption_keys: key {:?}", k.certificate_id))?;
            keys.add_pem(Some(&k.certificate_id), pem.as_bytes())
                .with_context(|| format!("graph.encryption_keys: key {:?}", k.certificate_id))?;
        }
        let connector_secret = secrets
            .resolve(&cfg.connector_secret)
            .await
            .context("connector.signing_secret")?;
        let connector_secret = WebhookSecret::parse(connector_secret.trim())
            .map_err(|e| anyhow::anyhow!("connector.signing_secret: {e}"))?;
        let store = open_store_with(&cfg.store, secrets.aws.as_ref()).await?;
        let http = crate::outbound::http::client(CONNECT_TIMEOUT).context("HTTP client")?;
        let tokens = TokenValidator::new(
            TokenSettings {
                jwks_url: cfg.jwks_url.clone(),
                app_id: cfg.client_id.clone(),
                tenant_id: Some(cfg.tenant_id.clone()),
                ..TokenSettings::default()
            },
            http.clone(),
        );
        let graph = graph_client(cfg, &mut secrets, http.clone()).await?;
        let swyx_to_teams = swyx_to_teams(cfg, &mut secrets, graph.clone(), clock.clone()).await?;
        let accounts = sync_accounts(cfg, &mut secrets, graph, http.clone(), clock).await?;
        let connector = ConnectorClient::new(
            ConnectorSettings {
                base_url: cfg.connector_url.clone(),
                signing_secret: connector_secret,
                request_timeout: cfg.connector_timeout,
                max_attempts: cfg.connector_max_attempts,
                backoff_base: Duration::from_millis(100),
            },
            http,
        );
        Ok(App {
            swyx_to_teams,
            accounts,
            wake_maintenance: Arc::new(tokio::sync::Notify::new()),
            settings: AppSettings {
                tenant_id: cfg.tenant_id.clone(),
                client_id: cfg.client_id.clone(),
                max_body_bytes: cfg.max_body_bytes,
                time_budget: cfg.time_budget,
            },
            rules,
            keys: Arc::new(keys),
            tokens: Arc::new(tokens),
            store,
            connector,
            metrics: Arc::new(Metrics::default()),
        })
    }
}

/// The one Graph client (app-only token), when a client secret is configured. Graph gets what is
/// left of a webhook's budget per call by default; maintenance names its own budgets.
async fn graph_client(
    cfg: &Config,
    secrets: &mut SecretResolver,
    http: reqwest::Client,
) -> anyhow::Result<Option<GraphClient>> {
    let Some(r) = &cfg.graph_client_secret else {
        return Ok(None);
    };
    let client_secret = secrets.resolve(r).await.context("graph.client_secret")?;
    let mut graph = GraphSettings::new(
        &cfg.graph_base_url,
        &cfg.graph_authority_url,
        &cfg.tenant_id,
        &cfg.client_id,
        ClientSecret::new(client_secret.trim()),
    );
    graph.call_budget = webhook_graph_budget(cfg);
    Ok(Some(GraphClient::new(graph, http)))
}

/// The connector waits 2 s per attempt; Graph gets at most 1.5 s of a webhook's budget.
fn webhook_graph_budget(cfg: &Config) -> Duration {
    cfg.time_budget.min(Duration::from_millis(1_500))
}

/// Swyx → Teams when `connector.event_secrets` is set (validation then requires the client secret).
async fn swyx_to_teams(
    cfg: &Config,
    secrets: &mut SecretResolver,
    graph: Option<GraphClient>,
    clock: Clock,
) -> anyhow::Result<Option<Arc<SwyxToTeams>>> {
    use crate::domain::SpeakingSettings;
    use crate::swyx::signature::Verifier;
    if cfg.connector_event_secrets.is_empty() {
        return Ok(None);
    }
    let mut event_secrets = Vec::new();
    for (i, r) in cfg.connector_event_secrets.iter().enumerate() {
        let value = secrets
            .resolve(r)
            .await
            .with_context(|| format!("connector.event_secrets #{}", i + 1))?;
        event_secrets.push(
            WebhookSecret::parse(value.trim())
                .map_err(|e| anyhow::anyhow!("connector.event_secrets #{}: {e}", i + 1))?,
        );
    }
    let Some(graph) = graph else {
        anyhow::bail!("graph.client_secret: missing (required for Swyx → Teams)");
    };
    Ok(Some(Arc::new(SwyxToTeams {
        graph,
        verifier: Verifier::new(event_secrets, Duration::from_secs(5 * 60)),
        settings: SpeakingSettings {
            expiration_ms: cfg.speaking_expiration.as_millis() as i64,
            max_call_ms: cfg.speaking_max_call.as_millis() as i64,
            ..SpeakingSettings::default()
        },
        request_budget: webhook_graph_budget(cfg),
        clock,
    })))
}

/// Subscription maintenance when `[subscriptions]` is configured (validation made sure the client
/// secret and the token key are there).
async fn sync_accounts(
    cfg: &Config,
    secrets: &mut SecretResolver,
    graph: Option<GraphClient>,
    http: reqwest::Client,
    clock: Clock,
) -> anyhow::Result<Option<Arc<SyncAccounts>>> {
    let Some(settings) = &cfg.subscriptions else {
        return Ok(None);
    };
    let Some(graph) = graph else {
        anyhow::bail!("graph.client_secret: missing (required for subscription maintenance)");
    };
    let sealer = token_sealer(cfg, secrets).await?;
    let certificate_b64 = load_certificate(&settings.certificate, secrets)
        .await
        .context("subscriptions.certificate")?;
    let login = LoginEndpoint::new(
        http,
        &cfg.graph_authority_url,
        &cfg.tenant_id,
        &cfg.client_id,
    );
    Ok(Some(Arc::new(SyncAccounts::new(
        settings.clone(),
        certificate_b64,
        sealer,
        login,
        graph,
        clock,
    ))))
}

/// The key that seals refresh tokens (`accounts.token_key`).
pub async fn token_sealer(
    cfg: &Config,
    secrets: &mut SecretResolver,
) -> anyhow::Result<TokenSealer> {
    let Some(r) = &cfg.token_key else {
        anyhow::bail!(
            "accounts.token_key: missing (a file with 32 random bytes in base64: `openssl rand -base64 32`)"
        );
    };
    let text = secrets.resolve(r).await.context("accounts.token_key")?;
    TokenSealer::from_key_text(&text).map_err(|e| anyhow::anyhow!("accounts.token_key: {e}"))
}

/// The encryption certificate as Graph wants it: base64 of the DER. Accepts a PEM certificate, a
/// DER file, or base64 DER.
async fn load_certificate(r: &SecretRef, secrets: &mut SecretResolver) -> anyhow::Result<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    if let SecretRef::File(path) = r {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !bytes.starts_with(b"-----") && !bytes.is_empty() && bytes[0] == 0x30 {
            return Ok(b64.encode(bytes)); // DER
        }
    }
    let text = secrets.resolve(r).await?;
    let body: String = if text.contains("-----BEGIN CERTIFICATE-----") {
        text.lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .map(str::trim)
            .collect()
    } else {
        text.split_whitespace().collect()
    };
    let der = b64
        .decode(body.as_bytes())
        .map_err(|_| anyhow::anyhow!("not a PEM certificate, DER file or base64 DER"))?;
    if der.first() != Some(&0x30) {
        anyhow::bail!("not an X.509 certificate (DER must start with a SEQUENCE)");
    }
    Ok(b64.encode(der))
}

pub async fn open_store(cfg: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    open_store_with(cfg, None).await
}

/// Opens the store; a DynamoDB store reuses `aws` when given (one configuration load per process).
pub async fn open_store_with(
    cfg: &StoreConfig,
    aws: Option<&aws_config::SdkConfig>,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match cfg {
        StoreConfig::Sqlite { path } => Arc::new(
            SqliteStore::open(path)
                .with_context(|| format!("store.sqlite_path {}", path.display()))?,
        ),
        StoreConfig::DynamoDb {
            table,
            endpoint_url,
        } => match aws {
            Some(conf) => {
                let mut builder = aws_sdk_dynamodb::config::Builder::from(conf);
                if let Some(url) = endpoint_url {
                    builder = builder.endpoint_url(url);
                }
                Arc::new(DynamoStore::new(
                    aws_sdk_dynamodb::Client::from_conf(builder.build()),
                    table.clone(),
                ))
            }
            None => Arc::new(DynamoStore::from_env_config(table, endpoint_url.as_deref()).await),
        },
    })
}
