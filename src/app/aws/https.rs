//! The HTTPS client under a Lambda function's AWS clients: reqwest, the HTTP stack the bridge
//! already has for Graph and the connector, given to the SDK as its [`HttpConnector`].
//!
//! Why not the SDK's own client: it takes custom roots only as PEM, so Mozilla's roots were
//! written out as PEM, decoded back and parsed into a root store in every cold start. That was
//! a quarter of swyx-webhook's own start-up time (a build trusting no root at all answered its
//! first event 0.6–0.7 × hello-world sooner, `infra/measure_lambdas.py`). Here the root store is
//! Mozilla's trust anchors as `webpki-roots` compiles them in, already parsed: nothing is decoded.
//!
//! What the SDK's client did and this one keeps: HTTP/1.1 on rustls (aws-lc-rs), the proxy from
//! the environment (`HTTPS_PROXY`, `NO_PROXY`), no redirect followed, the connect and read
//! timeouts the SDK asks for, and its errors sorted as the SDK's retry policy expects
//! (timeouts, I/O errors that are retried, a request that cannot be sent that is not).

use crate::outbound::http::ClientError;
use crate::outbound::tls::{Trust, client_config};
use aws_smithy_runtime_api::client::http::HttpConnectorSettings;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use std::sync::Arc;

/// A reqwest client trusting `roots` with the SDK's connect and read timeouts: the outbound
/// client's TLS configuration ([`crate::outbound::tls`]), no redirects.
pub fn client(
    roots: Arc<rustls::RootCertStore>,
    settings: &HttpConnectorSettings,
) -> Result<reqwest::Client, ClientError> {
    let tls = client_config(Trust::Roots(roots)).map_err(ClientError::Tls)?;
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(connect) = settings.connect_timeout() {
        builder = builder.connect_timeout(connect);
    }
    if let Some(read) = settings.read_timeout() {
        builder = builder.read_timeout(read);
    }
    builder.build().map_err(ClientError::Build)
}

/// The SDK's [`HttpConnector`] on a reqwest client.
#[derive(Debug, Clone)]
pub struct ReqwestConnector(pub reqwest::Client);

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match into_reqwest(request) {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(e)),
        };
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let response = client.execute(request).await.map_err(connector_error)?;
            let response = http::Response::from(response).map(SdkBody::from_body_1_x);
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// The SDK's request as reqwest's. A body in memory (every DynamoDB and Secrets Manager request)
/// is handed over as bytes, so its length is known; any other is streamed.
fn into_reqwest(request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?
        .map(|body: SdkBody| match body.bytes() {
            Some(bytes) => reqwest::Body::from(bytes::Bytes::copy_from_slice(bytes)),
            None => reqwest::Body::wrap(body),
        });
    reqwest::Request::try_from(request).map_err(|e| ConnectorError::user(e.into()))
}

/// A reqwest error as the SDK's retry policy sorts a connector's: a timeout (connect or read) and
/// a connection that failed or broke are retried; a request reqwest could not build is not.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_builder() {
        ConnectorError::user(e.into())
    } else if e.is_connect() {
        ConnectorError::io(e.into()).never_connected()
    } else if e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}
