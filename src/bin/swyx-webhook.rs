//! AWS Lambda: the Swyx connector's event webhook (Function URL / HTTP API payload v2).

use presence_bridge::app::Role;
use presence_bridge::entry::lambda::run_webhook;
use presence_bridge::swyx_to_teams::intake;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_webhook(
        Role::SwyxWebhook,
        |_| None,
        intake::read_early,
        |app, req, early| async move { intake::handle_with(&app, req, early).await },
    )
    .await
}
