//! Everything a webhook invocation needs, built once per process (Lambda cold start or `serve`).
//! The one wiring place: the store, the connector and Graph are held as their ports (trait
//! objects), so tests wire in-memory fakes the same way.

mod aws;
mod certificate;
mod error;
mod parts;
mod role;
mod secrets;
mod store;

use crate::config::{Config, SecretRef};
use crate::domain::{Clock, Directions};
use crate::domain::{MappingRules, RuleOverride};
use crate::graph::crypto::NotificationKeys;
use crate::graph::validation_token::{TokenSettings, TokenValidator};
use crate::metrics::Metrics;
use crate::outbound::tls::Trust;
use crate::outbound::trusted_roots::RootsSource;
use crate::store::Store;
use crate::subscriptions::sync_accounts::SyncAccounts;
use crate::swyx_to_teams::session::SwyxToTeams;
use crate::teams_to_swyx::decide::Judge;
use crate::teams_to_swyx::deliver::Delivery;
use crate::teams_to_swyx::known_subscriptions::KnownSubscriptions;
use crate::teams_to_swyx::ports::SwyxConnector;
use crate::teams_to_swyx::store_refusals::StoreRefusals;
use crate::users_sync::UsersSync;
pub use certificate::CertificateError;
pub use error::StartupError;
pub use parts::token_sealer;
use parts::{connector_client, graph_client, notification_keys, swyx_to_teams, sync_accounts};
pub use role::Role;
pub use secrets::{SecretError, SecretResolver};
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
    /// Users judged by rules of their own (`[[mapping.override]]`).
    pub rule_overrides: Vec<RuleOverride>,
    pub keys: Arc<NotificationKeys>,
    pub tokens: Arc<TokenValidator>,
    pub store: Arc<dyn Store>,
    pub connector: Arc<dyn SwyxConnector>,
    pub metrics: Arc<Metrics>,
    /// Swyx → Teams; `None` when not configured (no connector event secrets).
    pub swyx_to_teams: Option<Arc<SwyxToTeams>>,
    /// Subscription maintenance (sync accounts); `None` when `[subscriptions]` is not set.
    pub accounts: Option<Arc<SyncAccounts>>,
    /// Automatic user linking; `None` without Graph's app-only token (`graph.client_secret`).
    pub users_sync: Option<Arc<UsersSync>>,
    /// Wakes the self-hosted maintenance loop early (a lifecycle notification arrived).
    pub wake_maintenance: Arc<tokio::sync::Notify>,
    /// The directions of users without switches of their own (`[users]`).
    pub directions: Directions,
    /// The Graph intake's brief cache of the subscriptions (one store read for many items).
    pub known_subscriptions: KnownSubscriptions,
    /// Whether the Graph intake refused notifications, or a maintenance pass met the store down,
    /// since a reconciliation was last asked for (asked once the store answers again).
    pub store_refusals: StoreRefusals,
    /// The time of both directions and of maintenance (the sandbox's clock in tests).
    pub clock: Clock,
}

impl App {
    /// How Teams presences are judged: the mapping rules, and the echo guard when Swyx → Teams
    /// runs.
    pub fn judge(&self) -> Judge<'_> {
        Judge {
            rules: &self.rules,
            overrides: &self.rule_overrides,
            // Always: the graph-webhook Lambda runs no Swyx → Teams itself (it holds none of its
            // secrets), but the maintenance and swyx-webhook functions do, and their sessions are
            // in the store. Without Swyx → Teams there are no sessions and the guard finds none.
            own_sessions: Some(&self.clock),
            directions: self.directions,
        }
    }

    /// Where Swyx updates go: the connector, or the pending deliveries.
    pub fn delivery(&self) -> Delivery<'_> {
        Delivery {
            connector: self.connector.as_ref(),
            pending: self.store.as_ref(),
            clock: &self.clock,
            metrics: &self.metrics,
        }
    }

    /// Builds the app from a validated configuration: resolves secrets (once), loads keys and
    /// rules, opens the store. Every failure names the setting.
    pub async fn from_config(cfg: &Config) -> Result<Self, StartupError> {
        Self::from_config_with_clock(cfg, Clock::system()).await
    }

    /// As [`App::from_config`], on another time source (the sandbox clock in tests).
    pub async fn from_config_with_clock(cfg: &Config, clock: Clock) -> Result<Self, StartupError> {
        Self::for_role(cfg, Role::Everything, clock).await
    }

    /// The app of one program (a Lambda function): only the secrets `role` uses are read.
    pub async fn for_role(cfg: &Config, role: Role, clock: Clock) -> Result<Self, StartupError> {
        let opened = OpenedStore::for_role(cfg, role).await?;
        Self::on_store(cfg, role, clock, opened).await
    }

    /// As [`App::for_role`], on a store opened before (a Lambda function's cold start reads it
    /// while this reads the secrets).
    pub async fn on_store(
        cfg: &Config,
        role: Role,
        clock: Clock,
        opened: OpenedStore,
    ) -> Result<Self, StartupError> {
        let OpenedStore {
            store,
            aws,
            aws_source,
        } = opened;
        // The secrets' request goes out first; what needs no secret is made while it is
        // answered, not before it is sent.
        let secrets = prefetched_secrets(cfg, role, SecretResolver::new(aws, aws_source));
        let without_secrets = async {
            let trust = outbound_trust(role, RootsSource::from_env(|k| std::env::var_os(k)))?;
            let http = crate::outbound::http::client(CONNECT_TIMEOUT, trust)
                .map_err(StartupError::HttpClient)?;
            let tokens = TokenValidator::new(
                TokenSettings {
                    jwks_url: cfg.jwks_url.clone(),
                    app_id: cfg.client_id.clone(),
                    authority_url: cfg.graph_authority_url.clone(),
                    tenant_id: Some(cfg.tenant_id.clone()),
                    ..TokenSettings::default()
                },
                http.clone(),
            );
            // A graph-webhook function builds its app for a notification, whose validation
            // tokens need Microsoft's signing keys: fetched while the secrets are read too.
            let keys_ahead = async {
                if role == Role::GraphWebhook {
                    tokens.fetch_keys_ahead().await;
                }
            };
            let ((), rules) = tokio::join!(keys_ahead, async { rules_of(cfg) });
            let (rules, rule_overrides) = rules?;
            Ok::<_, StartupError>((http, tokens, rules, rule_overrides))
        };
        let (mut secrets, without_secrets) = tokio::join!(secrets, without_secrets);
        let (http, tokens, rules, rule_overrides) = without_secrets?;
        let keys = notification_keys(cfg, &mut secrets, role).await?;
        let graph = if role.calls_graph() {
            graph_client(cfg, &mut secrets, http.clone(), clock.clone()).await?
        } else {
            None
        };
        let swyx_to_teams = if role.runs_swyx_to_teams() {
            swyx_to_teams(cfg, &mut secrets, graph.clone(), clock.clone(), role).await?
        } else {
            None
        };
        // User linking runs in maintenance, next to the subscriptions.
        let directory = graph.clone().filter(|_| role.maintains_subscriptions());
        let accounts = if role.maintains_subscriptions() {
            sync_accounts(cfg, &mut secrets, graph, http.clone(), clock.clone()).await?
        } else {
            None
        };
        let connector_client = if role.delivers_to_connector() {
            Some(connector_client(cfg, &mut secrets, http).await?)
        } else {
            None
        };
        let users_sync = match (directory, &connector_client) {
            (Some(graph), Some(connector)) => Some(Arc::new(UsersSync {
                graph: Arc::new(graph),
                connector: Arc::new(connector.clone()),
                settings: cfg.users.clone(),
            })),
            _ => None,
        };
        let connector: Arc<dyn SwyxConnector> = match connector_client {
            Some(client) => Arc::new(client),
            None => Arc::new(role::NoConnector),
        };
        Ok(App {
            swyx_to_teams,
            accounts,
            users_sync,
            wake_maintenance: Arc::new(tokio::sync::Notify::new()),
            directions: cfg.users.directions,
            known_subscriptions: KnownSubscriptions::default(),
            store_refusals: StoreRefusals::default(),
            clock,
            settings: AppSettings {
                tenant_id: cfg.tenant_id.clone(),
                client_id: cfg.client_id.clone(),
                max_body_bytes: cfg.max_body_bytes,
                time_budget: cfg.time_budget,
            },
            rules,
            rule_overrides,
            keys: Arc::new(keys),
            tokens: Arc::new(tokens),
            store,
            connector,
            metrics: Arc::new(Metrics::default()),
        })
    }
}

/// Cold start: every Secrets Manager read at once, on the AWS configuration of the DynamoDB
/// client if there is one, instead of one round trip after another.
async fn prefetched_secrets(
    cfg: &Config,
    role: Role,
    mut secrets: SecretResolver,
) -> SecretResolver {
    let mut refs: Vec<&SecretRef> = Vec::new();
    if role.decrypts_notifications() {
        refs.extend(cfg.encryption_keys.iter().map(|k| &k.private_key));
    }
    if role.delivers_to_connector() {
        refs.push(&cfg.connector_secret);
    }
    if role.verifies_swyx_events() {
        refs.extend(cfg.connector_event_secrets.iter());
    }
    if role.calls_graph() {
        refs.extend(cfg.graph_client_secret.iter());
    }
    if role.maintains_subscriptions() {
        refs.extend(cfg.token_key.iter());
        refs.extend(cfg.subscriptions.as_ref().map(|s| &s.certificate));
    }
    secrets.prefetch(&refs).await;
    secrets
}

/// The roots the Graph, Entra and connector client of `role` trusts: a Lambda function's the
/// same as its AWS client (`roots`: Mozilla's compiled in, or `SSL_CERT_FILE`), so its first
/// handshake parses no bundle; `serve` and the CLI the platform's.
fn outbound_trust(role: Role, roots: RootsSource) -> Result<Trust, StartupError> {
    if !role.is_lambda_function() {
        return Ok(Trust::Platform);
    }
    let store = roots.shared_store().map_err(StartupError::TrustedRoots)?;
    Ok(Trust::Roots(store))
}

pub use aws::AwsSource;
pub use store::{OpenedStore, REQUEST_LOCK_WAIT, open_store, open_store_with};

/// The mapping rules and each override's, read and checked.
fn rules_of(cfg: &Config) -> Result<(MappingRules, Vec<RuleOverride>), StartupError> {
    let rules = match &cfg.rules_file {
        Some(path) => MappingRules::load(path).map_err(StartupError::Rules)?,
        None => MappingRules::default(),
    };
    Ok((rules, load_overrides(cfg)?))
}

/// Reads and checks every override's rules file; the first bad one stops the start, named.
pub fn load_overrides(cfg: &Config) -> Result<Vec<RuleOverride>, StartupError> {
    cfg.rule_overrides
        .iter()
        .map(|o| {
            Ok(RuleOverride {
                users: o.users.clone(),
                swyx_groups: o.swyx_groups.clone(),
                rules: MappingRules::load(&o.file).map_err(StartupError::RuleOverride)?,
                source: o.file.display().to_string(),
            })
        })
        .collect()
}
