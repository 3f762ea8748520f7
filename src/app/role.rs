//! Which program a process is, so it loads only the secrets it uses (least privilege: on AWS each
//! function's role may read only those, see `template.yaml` and `infra/lint_template.py`).

use crate::domain::SwyxUpdate;
use crate::swyx::client::{ConnectorError, DeliveryOutcome};
use crate::teams_to_swyx::ports::SwyxConnector;
use async_trait::async_trait;
use std::time::Duration;

/// What a process does; `serve` and the CLI do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `serve` and the CLI: every part that is configured.
    Everything,
    /// The `graph-webhook` Lambda: decrypts notifications, forwards to the connector.
    GraphWebhook,
    /// The `swyx-webhook` Lambda: verifies connector events, calls Graph (setPresence).
    SwyxWebhook,
    /// The `maintenance` Lambda: subscriptions and sync accounts (Graph, the token key), Swyx →
    /// Teams upkeep (Graph), pending deliveries (the connector).
    Maintenance,
}

impl Role {
    /// One of the Lambda functions (AWS credentials and region come from the environment).
    pub fn is_lambda_function(self) -> bool {
        self != Role::Everything
    }

    /// A Lambda function that needs its app (secrets, clients) for every event, so it builds it
    /// from its start rather than on its first event: Swyx events and the maintenance pass.
    /// Not graph-webhook: Graph's validation handshake needs nothing, and built from the start
    /// its app took CPU from that answer (1.2 → 1.8-1.9 × hello-world's cold start measured,
    /// while a first notification gained little: it fetches its three inputs at once anyway).
    pub fn builds_at_start(self) -> bool {
        matches!(self, Role::SwyxWebhook | Role::Maintenance)
    }

    /// Fetches the app-only Graph token as it starts, once its app is built: nearly every
    /// connector event is for a linked user, whose "In a call" is a Graph call, and a new
    /// process has no token. Not maintenance: many of its passes need no app-only token (no
    /// session to renew, nothing to read back, no users sync due).
    pub fn fetches_graph_token_at_start(self) -> bool {
        self == Role::SwyxWebhook
    }

    /// Loads the notification private keys (else only their ids are known).
    pub fn decrypts_notifications(self) -> bool {
        matches!(self, Role::Everything | Role::GraphWebhook)
    }

    /// Loads the bridge → connector signing secret.
    pub fn delivers_to_connector(self) -> bool {
        matches!(
            self,
            Role::Everything | Role::GraphWebhook | Role::Maintenance
        )
    }

    /// Loads the connector's event secrets (maintenance only needs to know Swyx → Teams is on).
    pub fn verifies_swyx_events(self) -> bool {
        matches!(self, Role::Everything | Role::SwyxWebhook)
    }

    /// Runs Swyx → Teams at all (the Graph webhook leaves it to the other two).
    pub fn runs_swyx_to_teams(self) -> bool {
        self != Role::GraphWebhook
    }

    /// Loads the app's Graph client secret.
    pub fn calls_graph(self) -> bool {
        self != Role::GraphWebhook
    }

    /// Loads the token key and the certificate: subscription maintenance.
    pub fn maintains_subscriptions(self) -> bool {
        matches!(self, Role::Everything | Role::Maintenance)
    }
}

/// The connector of a program that never delivers to it (it holds no signing secret).
pub(super) struct NoConnector;

#[async_trait]
impl SwyxConnector for NoConnector {
    async fn send_update(
        &self,
        _update: &SwyxUpdate,
        _budget: Duration,
    ) -> Result<DeliveryOutcome, ConnectorError> {
        Err(ConnectorError::NotSent {
            problem: "this function does not deliver to the connector".to_string(),
            source: None,
        })
    }

    async fn held_statuses(
        &self,
        _budget: Duration,
    ) -> Result<std::collections::HashMap<String, crate::domain::HeldStatus>, ConnectorError> {
        Err(ConnectorError::NotSent {
            problem: "this function does not read the connector".to_string(),
            source: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{App, StartupError};
    use crate::config::{Origin, RawConfig};

    /// A configuration whose notification key and connector signing secret are files that do
    /// not exist: a program that reads them cannot start.
    fn config(dir: &std::path::Path) -> crate::config::Config {
        let text = format!(
            "[graph]\ntenant_id = \"9f4ebab6-520d-49c0-85cc-7b25c78d4a93\"\n\
             client_id = \"925bff9f-f6e2-4a69-b858-f71ea2b9b6d0\"\nclient_secret = \"app-secret\"\n\
             [[graph.encryption_keys]]\nid = \"c1\"\nprivate_key = \"file:/nonexistent/notify.pem\"\n\
             [connector]\nurl = \"http://127.0.0.1:9/\"\nsigning_secret = \"file:/nonexistent/signing\"\n\
             event_secrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n\
             [store]\nsqlite_path = {:?}\n",
            dir.join("bridge.db").display().to_string()
        );
        RawConfig::from_toml(&text, "test.toml")
            .and_then(|raw| raw.validate(Origin::File))
            .expect("config")
    }

    fn failed_setting(result: Result<App, StartupError>) -> String {
        match result {
            Err(StartupError::Secret { setting, .. }) => setting,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("started without a secret it needs"),
        }
    }

    #[tokio::test]
    async fn each_function_reads_only_the_secrets_it_uses() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let clock = crate::domain::Clock::system();
        // The swyx-webhook starts without the notification key or the connector signing secret.
        let swyx = App::for_role(&cfg, Role::SwyxWebhook, clock.clone()).await;
        let swyx = swyx.unwrap_or_else(|e| panic!("{e}"));
        assert!(swyx.swyx_to_teams.is_some() && swyx.keys.is_empty());
        let graph = App::for_role(&cfg, Role::GraphWebhook, clock.clone()).await;
        assert!(failed_setting(graph).starts_with("graph.encryption_keys"));
        // Maintenance does not read the key, but signs its pending deliveries to the connector.
        let maintenance = App::for_role(&cfg, Role::Maintenance, clock.clone()).await;
        assert_eq!(failed_setting(maintenance), "connector.signing_secret");
        let everything = App::for_role(&cfg, Role::Everything, clock).await;
        assert!(failed_setting(everything).starts_with("graph.encryption_keys"));
    }
}
