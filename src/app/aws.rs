//! The AWS configuration of a process. In a Lambda function only what its first event needs:
//! credentials and region from the environment (Lambda always sets `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION`), so no profile, web-identity
//! (STS) or instance-metadata provider is built; and one HTTPS client for every AWS client of the
//! process, whose trusted roots are read when its first connection is made rather than once per
//! client built. `serve` and the CLI keep the SDK's defaults (profiles, SSO, instance roles).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The AWS configuration: the environment's alone in a Lambda function (`lambda`), the SDK's
/// default chains otherwise.
pub(super) async fn load(lambda: bool) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    if !lambda {
        return loader.load().await;
    }
    loader
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .region(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .http_client(ConnectOnUse(sdk_https_client()))
        .load()
        .await
}

/// The SDK's own default HTTPS client (hyper, rustls on aws-lc-rs, the proxy from the
/// environment), as `aws-smithy-runtime` builds it for the current behaviour version.
fn sdk_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// An HTTP client that builds its connector (and so reads the trusted roots) for the first
/// request only. The SDK's client builds one as soon as a service client is made, "so that
/// native certs load at client initialization", and again for the first request of each
/// service client: three root-store builds before a function's first answer where one is used.
#[derive(Debug)]
struct ConnectOnUse(SharedHttpClient);

impl HttpClient for ConnectOnUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}
