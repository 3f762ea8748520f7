//! AWS Lambda: the Graph change-notification webhook (Function URL / HTTP API payload v2).

use presence_bridge::lambda_adapter::run_webhook;
use presence_bridge::service::graph_webhook;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_webhook(|app, req| async move { graph_webhook::handle(&app, req).await }).await
}
