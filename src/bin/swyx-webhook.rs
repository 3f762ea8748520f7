//! AWS Lambda: the Swyx connector's event webhook (Function URL / HTTP API payload v2).

use presence_bridge::app::Role;
use presence_bridge::entry::lambda::run_webhook;
use presence_bridge::swyx_to_teams::intake;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_webhook(
        Role::SwyxWebhook,
        |_| None,
        |app, req| async move { intake::handle(&app, req).await },
    )
    .await
}
