//! The thin seam between `lambda_http` and the framework-neutral handlers.

use crate::config::{Origin, RawConfig};
use crate::service::App;
use crate::service::http_types::{HttpRequest, HttpResponse};
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;

/// The whole `main` of a webhook Lambda: JSON logs, configuration from the environment (a bad
/// setting fails the cold start with its name), the app built once, then `handler` per request.
pub async fn run_webhook<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Arc<App>, HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    crate::telemetry::init(true);
    let config = RawConfig::from_env(|k| std::env::var(k).ok())?.validate(Origin::Env)?;
    let app = Arc::new(App::from_config(&config).await?);
    let handler = Arc::new(handler);
    lambda_http::run(lambda_http::service_fn(move |req| {
        let response = handler(Arc::clone(&app), request_from_lambda(req));
        async move { Ok::<_, lambda_http::Error>(response_to_lambda(response.await)) }
    }))
    .await
}

pub fn request_from_lambda(req: lambda_http::Request) -> HttpRequest {
    let (parts, body) = req.into_parts();
    http::Request::from_parts(parts, Bytes::copy_from_slice(body.as_ref()))
}

pub fn response_to_lambda(resp: HttpResponse) -> lambda_http::Response<lambda_http::Body> {
    let (parts, body) = resp.into_parts();
    let body = if body.is_empty() {
        lambda_http::Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(s) => lambda_http::Body::Text(s),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    };
    lambda_http::Response::from_parts(parts, body)
}
