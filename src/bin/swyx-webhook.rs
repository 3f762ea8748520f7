//! AWS Lambda: the Swyx connector's event webhook (Function URL / HTTP API payload v2).

use presence_bridge::config::{Origin, RawConfig};
use presence_bridge::lambda_adapter::{request_from_lambda, response_to_lambda};
use presence_bridge::service::{App, swyx_webhook};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    presence_bridge::telemetry::init(true);
    let config = RawConfig::from_env(|k| std::env::var(k).ok())?.validate(Origin::Env)?;
    let app = Arc::new(App::from_config(&config).await?);
    lambda_http::run(lambda_http::service_fn(move |req| {
        let app = Arc::clone(&app);
        async move {
            let resp = swyx_webhook::handle(&app, request_from_lambda(req)).await;
            Ok::<_, lambda_http::Error>(response_to_lambda(resp))
        }
    }))
    .await
}
