//! AWS Lambda: the scheduled maintenance pass (EventBridge, every minute).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    presence_bridge::entry::lambda::run_maintenance().await
}
