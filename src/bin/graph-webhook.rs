//! AWS Lambda: the Graph change-notification webhook (Function URL / HTTP API payload v2).

use presence_bridge::app::Role;
use presence_bridge::entry::lambda::run_webhook;
use presence_bridge::teams_to_swyx::intake;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_webhook(
        Role::GraphWebhook,
        intake::validation_handshake,
        intake::read_early,
        |app, req, early| async move { intake::handle_with(&app, req, early).await },
    )
    .await
}
