//! What Teams → Swyx needs from outside besides the store: the connector takes a Swyx user's new
//! status, and Graph reads presences in bulk for reconciliation. The real clients implement
//! these here; unit tests put in-memory fakes in their place.

use crate::domain::{HeldStatus, SwyxCalls, SwyxUpdate};
use crate::graph::client::{GraphClient, GraphError};
use crate::graph::notification::PresenceResource;
use crate::swyx::client::{ConnectorClient, ConnectorError, DeliveryOutcome};
use async_trait::async_trait;
use std::collections::HashMap;
use std::time::Duration;

/// The Swyx connector's side of a status update (`PUT /v1/users/{id}/teams-status`).
#[async_trait]
pub trait SwyxConnector: Send + Sync {
    /// Sends `update`, retrying transient failures, within `budget` in total.
    async fn send_update(
        &self,
        update: &SwyxUpdate,
        budget: Duration,
    ) -> Result<DeliveryOutcome, ConnectorError>;

    /// What the connector holds in each user's Teams-derived slot, by Swyx user id
    /// (`teamsStatus` in `GET /v1/users`, contract 1.1); users a 1.0 connector lists without it
    /// are left out.
    async fn held_statuses(
        &self,
        budget: Duration,
    ) -> Result<HashMap<String, HeldStatus>, ConnectorError>;

    /// The calls each Swyx user is speaking in now (contract 1.2, `GET /v1/users?speaking=true`),
    /// for Swyx → Teams maintenance. A connector that does not report them: `NotReported`.
    async fn speaking_now(&self, _budget: Duration) -> Result<SwyxCalls, ConnectorError> {
        Ok(SwyxCalls::NotReported)
    }
}

/// Graph's bulk presence read (`getPresencesByUserId`, app-only).
#[async_trait]
pub trait PresenceReader: Send + Sync {
    /// The presences of `ids` (at most 650), within `budget`.
    async fn get_presences(
        &self,
        ids: &[String],
        budget: Duration,
    ) -> Result<Vec<PresenceResource>, GraphError>;
}

#[async_trait]
impl SwyxConnector for ConnectorClient {
    async fn send_update(
        &self,
        update: &SwyxUpdate,
        budget: Duration,
    ) -> Result<DeliveryOutcome, ConnectorError> {
        ConnectorClient::send_update(self, update, budget).await
    }

    async fn held_statuses(
        &self,
        budget: Duration,
    ) -> Result<HashMap<String, HeldStatus>, ConnectorError> {
        // Page by page: of each user only the id and the held status are kept.
        let mut held = HashMap::new();
        self.for_each_user_page(budget, |page| {
            held.extend(page.into_iter().filter_map(|u| {
                let teams = u.teams_status?;
                let status = teams.status.map(crate::swyx::wire::from_wire);
                Some((
                    u.swyx_user_id,
                    HeldStatus {
                        status,
                        revision: teams.revision,
                    },
                ))
            }));
        })
        .await?;
        Ok(held)
    }

    async fn speaking_now(&self, budget: Duration) -> Result<SwyxCalls, ConnectorError> {
        ConnectorClient::speaking_now(self, budget).await
    }
}

#[async_trait]
impl PresenceReader for GraphClient {
    async fn get_presences(
        &self,
        ids: &[String],
        budget: Duration,
    ) -> Result<Vec<PresenceResource>, GraphError> {
        GraphClient::get_presences(self, ids, budget).await
    }
}
