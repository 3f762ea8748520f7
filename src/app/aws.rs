//! The AWS configuration of a process. In a Lambda function only what its first event needs:
//! credentials and region from the environment (Lambda always sets `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION`), so no profile, web-identity
//! (STS) or instance-metadata provider is built; and one HTTPS client for every AWS client of the
//! process, trusting Mozilla's roots compiled in ([`trusted_roots`]), made when its first
//! connection is. `serve` and the CLI keep the SDK's defaults (profiles, SSO, instance roles,
//! the platform's roots).

mod trusted_roots;

use crate::config::DynamoTimeouts;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::TrustStore;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use trusted_roots::{RootsError, RootsSource};

/// The AWS configuration: the environment's alone in a Lambda function (`lambda`), the SDK's
/// default chains otherwise. `timeouts`: the store's, for every AWS client of a Lambda function
/// (see [`lambda_loader`]).
pub(super) async fn load(lambda: bool, timeouts: Option<DynamoTimeouts>) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    if !lambda {
        return loader.load().await;
    }
    let roots = RootsSource::from_env(|k| std::env::var_os(k));
    let timeouts = timeouts.map(super::store::timeout_config);
    lambda_loader(loader, ConnectOnUse::new(roots), timeouts)
        .load()
        .await
}

/// A Lambda function's configuration: credentials and region from the environment, `http` for
/// every client, and the same timeouts for all of them. The same connect timeout: the SDK's
/// client makes a connector (its TLS setup: the roots parsed from PEM again, a third of a
/// millisecond) for each distinct pair of connect and read timeouts, so Secrets Manager on the
/// SDK's default and DynamoDB on the store's made two before the first answer. The same attempt
/// and operation timeouts: without them a Secrets Manager request on a connection that died
/// silently (a process frozen with it in flight) waited until the function timed out.
fn lambda_loader(
    loader: ConfigLoader,
    http: ConnectOnUse,
    timeouts: Option<TimeoutConfig>,
) -> ConfigLoader {
    let loader = loader
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .region(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .http_client(http);
    match timeouts {
        Some(timeouts) => loader.timeout_config(timeouts),
        None => loader,
    }
}

/// The SDK's own default HTTPS client (hyper, rustls on aws-lc-rs, the proxy from the
/// environment), as `aws-smithy-runtime` builds it for the current behaviour version, trusting
/// `roots`.
fn sdk_https_client(roots: TrustStore, made: Arc<AtomicUsize>) -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, TlsContext, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    Builder::new().build_with_connector_fn(move |settings, components| {
        made.fetch_add(1, Ordering::Relaxed);
        let mut conn =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        // Never fails (the builder only keeps what it is given).
        if let Ok(tls) = TlsContext::builder()
            .with_trust_store(roots.clone())
            .build()
        {
            conn.set_tls_context(tls);
        }
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// An HTTP client made, roots and all, for the first request. The SDK's own client builds its
/// connector as soon as a service client is made, "so that native certs load at client
/// initialization", and again for the first request of each service client. Roots that cannot
/// be read fail every request with the reason (and so the function's start, with
/// `SSL_CERT_FILE` named in its log) rather than panic.
#[derive(Debug)]
struct ConnectOnUse {
    roots: RootsSource,
    client: OnceLock<Result<SharedHttpClient, Arc<RootsError>>>,
    /// What the SDK's client says it is (for the user agent), before it is made.
    metadata: Option<ConnectorMetadata>,
    /// Connectors (TLS setups) the SDK's client made: one per distinct pair of timeouts.
    connectors_made: Arc<AtomicUsize>,
}

impl ConnectOnUse {
    fn new(roots: RootsSource) -> Self {
        Self {
            roots,
            client: OnceLock::new(),
            metadata: aws_smithy_http_client::Builder::new()
                .build_http()
                .connector_metadata(),
            connectors_made: Arc::default(),
        }
    }
}

impl HttpClient for ConnectOnUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let client = self.client.get_or_init(|| {
            let roots = self.roots.trust_store().map_err(Arc::new);
            if let Err(e) = &roots {
                tracing::error!(error = %crate::telemetry::with_causes(e.as_ref()), "the AWS client's trusted roots cannot be read; every AWS request fails");
            }
            roots.map(|roots| sdk_https_client(roots, Arc::clone(&self.connectors_made)))
        });
        match client {
            Ok(client) => client.http_connector(settings, components),
            Err(e) => SharedHttpConnector::new(Refuse(Arc::clone(e))),
        }
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.metadata.clone()
    }
}

/// Fails every request with why the roots could not be read.
#[derive(Debug)]
struct Refuse(Arc<RootsError>);

impl HttpConnector for Refuse {
    fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
        let reason: Box<dyn std::error::Error + Send + Sync> =
            Box::new(Shared(Arc::clone(&self.0)));
        HttpConnectorFuture::ready(Err(ConnectorError::other(reason, None)))
    }
}

/// A shared [`RootsError`] as the error of one request, its causes kept.
#[derive(Debug)]
struct Shared(Arc<RootsError>);

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
