//! The parts of an app, each built from its settings and the secrets it reads: the notification
//! keys, the Graph client, the connector client, Swyx → Teams and the sync accounts.

use super::certificate::load_certificate;
use super::{Role, SecretResolver, StartupError};
use crate::config::Config;
use crate::domain::Clock;
use crate::domain::timestamp::millis_of;
use crate::graph::client::{GraphClient, GraphSettings};
use crate::graph::crypto::NotificationKeys;
use crate::graph::delegated::LoginEndpoint;
use crate::graph::sealed::TokenSealer;
use crate::graph::token::ClientSecret;
use crate::subscriptions::sync_accounts::SyncAccounts;
use crate::swyx::client::{ConnectorClient, ConnectorSettings};
use crate::swyx::signature::WebhookSecret;
use crate::swyx_to_teams::session::SwyxToTeams;
use std::sync::Arc;
use std::time::Duration;

/// The private keys that unwrap Graph's data keys, by certificate id; for a `role` that does not
/// decrypt, their ids only (maintenance reports keys no subscription uses any more).
pub(super) async fn notification_keys(
    cfg: &Config,
    secrets: &mut SecretResolver,
    role: Role,
) -> Result<NotificationKeys, StartupError> {
    let mut keys = NotificationKeys::new();
    if !role.decrypts_notifications() {
        for k in &cfg.encryption_keys {
            keys.declare(&k.certificate_id);
        }
        return Ok(keys);
    }
    for k in &cfg.encryption_keys {
        let pem = secrets
            .resolve(&k.private_key)
            .await
            .map_err(|source| StartupError::Secret {
                setting: format!("graph.encryption_keys: key {:?}", k.certificate_id),
                source,
            })?;
        keys.add_pem(Some(&k.certificate_id), pem.as_bytes())
            .map_err(|source| StartupError::EncryptionKey {
                certificate_id: k.certificate_id.clone(),
                source,
            })?;
    }
    Ok(keys)
}

/// The one Graph client (app-only token), when a client secret is configured. Graph gets what is
/// left of a webhook's budget per call by default; maintenance names its own budgets.
pub(super) async fn graph_client(
    cfg: &Config,
    secrets: &mut SecretResolver,
    http: reqwest::Client,
    clock: Clock,
) -> Result<Option<GraphClient>, StartupError> {
    let Some(r) = &cfg.graph_client_secret else {
        return Ok(None);
    };
    let client_secret = secrets
        .resolve(r)
        .await
        .map_err(StartupError::secret("graph.client_secret"))?;
    let mut graph = GraphSettings::new(
        &cfg.graph_base_url,
        &cfg.graph_authority_url,
        &cfg.tenant_id,
        &cfg.client_id,
        ClientSecret::new(client_secret.trim()),
    );
    graph.call_budget = webhook_graph_budget(cfg);
    // The throttle gate's holds run on the app's clock (a test's controllable one included).
    graph.clock = clock;
    Ok(Some(GraphClient::new(graph, http)))
}

/// The connector waits 2 s per attempt; Graph gets at most 1.5 s of a webhook's budget.
fn webhook_graph_budget(cfg: &Config) -> Duration {
    cfg.time_budget.min(Duration::from_millis(1_500))
}

/// The bridge → connector client, signing with `connector.signing_secret`.
pub(super) async fn connector_client(
    cfg: &Config,
    secrets: &mut SecretResolver,
    http: reqwest::Client,
) -> Result<ConnectorClient, StartupError> {
    let signing_secret = secrets
        .resolve(&cfg.connector_secret)
        .await
        .map_err(StartupError::secret("connector.signing_secret"))?;
    let signing_secret = WebhookSecret::parse(signing_secret.trim())
        .map_err(StartupError::webhook_secret("connector.signing_secret"))?;
    Ok(ConnectorClient::new(
        ConnectorSettings {
            base_url: cfg.connector_url.clone(),
            signing_secret,
            request_timeout: cfg.connector_timeout,
            max_attempts: cfg.connector_max_attempts,
            backoff_base: Duration::from_millis(100),
        },
        http,
    ))
}

/// Swyx → Teams when `connector.event_secrets` is set (validation then requires the client secret).
/// The event secrets are read only by a `role` that verifies events.
pub(super) async fn swyx_to_teams(
    cfg: &Config,
    secrets: &mut SecretResolver,
    graph: Option<GraphClient>,
    clock: Clock,
    role: Role,
) -> Result<Option<Arc<SwyxToTeams>>, StartupError> {
    use crate::domain::SpeakingSettings;
    use crate::swyx::signature::Verifier;
    if cfg.connector_event_secrets.is_empty() {
        return Ok(None);
    }
    let mut event_secrets = Vec::new();
    let verified = cfg
        .connector_event_secrets
        .iter()
        .filter(|_| role.verifies_swyx_events());
    for (i, r) in verified.enumerate() {
        let setting = format!("connector.event_secrets #{}", i + 1);
        let value = secrets
            .resolve(r)
            .await
            .map_err(StartupError::secret(&setting))?;
        event_secrets.push(
            WebhookSecret::parse(value.trim()).map_err(StartupError::webhook_secret(setting))?,
        );
    }
    let Some(graph) = graph else {
        return Err(StartupError::Missing {
            setting: "graph.client_secret",
            why: "required for Swyx → Teams",
        });
    };
    Ok(Some(Arc::new(SwyxToTeams {
        graph: Arc::new(graph),
        verifier: Verifier::new(event_secrets, Duration::from_secs(5 * 60)),
        settings: SpeakingSettings {
            expiration_ms: millis_of(cfg.speaking_expiration),
            max_call_ms: millis_of(cfg.speaking_max_call),
            ..SpeakingSettings::default()
        },
        request_budget: webhook_graph_budget(cfg),
        clock,
    })))
}

/// Subscription maintenance when `[subscriptions]` is configured (validation made sure the client
/// secret and the token key are there).
pub(super) async fn sync_accounts(
    cfg: &Config,
    secrets: &mut SecretResolver,
    graph: Option<GraphClient>,
    http: reqwest::Client,
    clock: Clock,
) -> Result<Option<Arc<SyncAccounts>>, StartupError> {
    let Some(settings) = &cfg.subscriptions else {
        return Ok(None);
    };
    let Some(graph) = graph else {
        return Err(StartupError::Missing {
            setting: "graph.client_secret",
            why: "required for subscription maintenance",
        });
    };
    let sealer = token_sealer(cfg, secrets).await?;
    let certificate_b64 = load_certificate(&settings.certificate, secrets)
        .await
        .map_err(StartupError::Certificate)?;
    let login = LoginEndpoint::new(
        http,
        &cfg.graph_authority_url,
        &cfg.tenant_id,
        &cfg.client_id,
    );
    Ok(Some(Arc::new(
        SyncAccounts::new(
            settings.clone(),
            certificate_b64,
            sealer,
            Arc::new(login),
            Arc::new(graph.clone()),
            Arc::new(graph),
            clock,
        )
        .for_graph_at(&cfg.graph_base_url),
    )))
}

/// The key that seals refresh tokens (`accounts.token_key`).
pub async fn token_sealer(
    cfg: &Config,
    secrets: &mut SecretResolver,
) -> Result<TokenSealer, StartupError> {
    let Some(r) = &cfg.token_key else {
        return Err(StartupError::Missing {
            setting: "accounts.token_key",
            why: "a file with 32 random bytes in base64: `openssl rand -base64 32`",
        });
    };
    let text = secrets
        .resolve(r)
        .await
        .map_err(StartupError::secret("accounts.token_key"))?;
    TokenSealer::from_key_text(&text).map_err(StartupError::TokenKey)
}
