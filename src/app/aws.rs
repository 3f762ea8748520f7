//! The AWS configuration of a process. In a Lambda function only what its first event needs:
//! credentials and region from the environment (Lambda always sets `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION`), so no profile, web-identity
//! (STS) or instance-metadata provider is built; and one HTTPS client for every AWS client of the
//! process (reqwest as the SDK's connector, [`https`]), trusting Mozilla's roots compiled in
//! ([`crate::outbound::trusted_roots`]), made when its first connection is. `serve` and the CLI
//! keep the SDK's defaults (profiles, SSO, instance roles, the platform's roots). Which of the
//! two a program uses, its entry point says ([`AwsSource`]), so that a Lambda function's binary
//! does not carry the other.

mod https;

use crate::config::DynamoTimeouts;
use crate::outbound::trusted_roots::{RootsError, RootsSource};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
// The SDK's shared type, as every service crate re-exports it (aws-config does not).
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Where a program's AWS configuration comes from, chosen by its entry point: a Lambda
/// function's binary then holds no trace of the SDK's default chains (the configuration loader,
/// profiles, SSO, STS, instance metadata), which it never runs; they were a tenth of its size
/// and of the relocations applied at each cold start.
#[derive(Clone, Copy)]
pub struct AwsSource(fn(Option<DynamoTimeouts>) -> LoadingConfig);

type LoadingConfig = Pin<Box<dyn Future<Output = SdkConfig> + Send>>;

impl AwsSource {
    /// A Lambda function's: the environment's alone (see [`lambda_config`]).
    pub fn lambda() -> Self {
        Self(|timeouts| Box::pin(std::future::ready(lambda_config(timeouts))))
    }

    /// `serve`'s and the CLI's: the SDK's default chains (the store sets its own timeouts).
    pub fn default_chains() -> Self {
        Self(|_| Box::pin(aws_config::load_defaults(BehaviorVersion::latest())))
    }

    /// The configuration; `timeouts`, the store's, for every AWS client of a Lambda function.
    pub async fn load(self, timeouts: Option<DynamoTimeouts>) -> SdkConfig {
        (self.0)(timeouts).await
    }
}

impl std::fmt::Debug for AwsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AwsSource")
    }
}

/// A Lambda function's configuration, made without the SDK's loader: credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and region (`AWS_REGION`,
/// else `AWS_DEFAULT_REGION`) from the environment, as Lambda sets them, and `AWS_ENDPOINT_URL`
/// for every service when set (a local stand-in); no profile file is read. Retries, the
/// identity cache, sleep and clock are the service clients' defaults, as the loader left them.
fn lambda_config(timeouts: Option<DynamoTimeouts>) -> SdkConfig {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let roots = RootsSource::from_env(|k| std::env::var_os(k));
    let mut builder = lambda_config_with(
        ConnectOnUse::new(roots),
        timeouts.map(super::store::timeout_config),
    )
    .to_builder()
    .credentials_provider(SharedCredentialsProvider::new(
        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
    ))
    .region(
        env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .map(Region::new),
    );
    builder.set_endpoint_url(env("AWS_ENDPOINT_URL"));
    builder.build()
}

/// What every Lambda function's configuration holds besides where it runs and who it is:
/// `http` for every client, and the same timeouts for all of them (`None`: the SDK's). The same
/// connect timeout: `http` makes a client (its TLS setup and connection pool) for each distinct
/// pair of connect and read timeouts, so Secrets Manager on the SDK's default and DynamoDB on
/// the store's would make two before the first answer, and connect twice. The same attempt and
/// operation timeouts: without them a Secrets Manager request on a connection that died
/// silently (a process frozen with it in flight) waited until the function timed out.
fn lambda_config_with(http: ConnectOnUse, timeouts: Option<TimeoutConfig>) -> SdkConfig {
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http);
    builder.set_timeout_config(timeouts);
    builder.build()
}

/// The HTTPS client of every AWS client of a Lambda function ([`https`]), made, roots and all,
/// for the first request. The SDK asks for a connector as soon as a service client is made, and
/// again for the first request of each; one reqwest client is made for each distinct pair of
/// connect and read timeouts, all trusting one root store. Roots that cannot be read fail every
/// request with the reason (and so the function's start, with `SSL_CERT_FILE` named in its log)
/// rather than panic.
#[derive(Debug)]
struct ConnectOnUse {
    roots: RootsSource,
    store: OnceLock<Result<Arc<rustls::RootCertStore>, Arc<RootsError>>>,
    /// The clients made, by their (connect, read) timeouts. A process has one or two.
    clients: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
    /// Clients (TLS setups) made, for the test that all of a function's share one.
    connectors_made: Arc<AtomicUsize>,
}

type Timeouts = (Option<Duration>, Option<Duration>);

impl ConnectOnUse {
    fn new(roots: RootsSource) -> Self {
        Self {
            roots,
            store: OnceLock::new(),
            clients: Mutex::default(),
            connectors_made: Arc::default(),
        }
    }

    fn root_store(&self) -> Result<Arc<rustls::RootCertStore>, Arc<RootsError>> {
        self.store
            .get_or_init(|| {
                let store = self.roots.shared_store().map_err(Arc::new);
                if let Err(e) = &store {
                    tracing::error!(error = %crate::telemetry::with_causes(e.as_ref()), "the AWS client's trusted roots cannot be read; every AWS request fails");
                }
                store
            })
            .clone()
    }

    fn connector(&self, settings: &HttpConnectorSettings) -> SharedHttpConnector {
        let roots = match self.root_store() {
            Ok(roots) => roots,
            Err(e) => return SharedHttpConnector::new(Refuse(Arc::new(e.into()))),
        };
        let key = (settings.connect_timeout(), settings.read_timeout());
        // A poisoned lock only means another thread panicked while pushing: the list is whole.
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, connector)) = clients.iter().find(|(k, _)| *k == key) {
            return connector.clone();
        }
        let connector = match https::client(roots, settings) {
            Ok(client) => SharedHttpConnector::new(https::ReqwestConnector(client)),
            Err(e) => {
                tracing::error!(error = %crate::telemetry::with_causes(&e), "the AWS client cannot be made; every AWS request fails");
                return SharedHttpConnector::new(Refuse(Arc::new(e.into())));
            }
        };
        self.connectors_made.fetch_add(1, Ordering::Relaxed);
        clients.push((key, connector.clone()));
        connector
    }
}

impl HttpClient for ConnectOnUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector(settings)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("reqwest", None))
    }
}

/// Why no AWS request can be sent.
#[derive(Debug, thiserror::Error)]
enum Unusable {
    #[error(transparent)]
    Roots(#[from] Arc<RootsError>),
    #[error(transparent)]
    Client(#[from] crate::outbound::http::ClientError),
}

/// Fails every request with why no AWS request can be sent.
#[derive(Debug)]
struct Refuse(Arc<Unusable>);

impl HttpConnector for Refuse {
    fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
        let reason: Box<dyn std::error::Error + Send + Sync> =
            Box::new(Shared(Arc::clone(&self.0)));
        HttpConnectorFuture::ready(Err(ConnectorError::other(reason, None)))
    }
}

/// A shared [`Unusable`] as the error of one request, its causes kept.
#[derive(Debug)]
struct Shared(Arc<Unusable>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(self.0.as_ref())
    }
}

#[cfg(test)]
mod tests;
