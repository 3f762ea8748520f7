//! AWS Lambda: the Swyx connector's event webhook (Function URL / HTTP API payload v2).

use presence_bridge::lambda_adapter::run_webhook;
use presence_bridge::service::swyx_webhook;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_webhook(|app, req| async move { swyx_webhook::handle(&app, req).await }).await
}
