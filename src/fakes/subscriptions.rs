//! `FakeGraph`'s `/subscriptions`: it holds what it made and what a test gave it, so that a list,
//! a read or a delete answers as Graph would, and it refuses as the test's switches say.

use super::{FakeGraph, GraphCall, lock};
use crate::domain::Timestamp;
use crate::graph::client::GraphError;
use crate::graph::subscriptions::{ListedSubscription, NewSubscription, SubscriptionInfo};
use crate::subscriptions::ports::SubscriptionApi;
use async_trait::async_trait;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A subscription Graph has. Certificates are not kept: no test reads them back from Graph.
pub struct HeldSubscription {
    pub id: String,
    pub client_state: String,
    pub users: Vec<String>,
    pub notification_url: String,
    pub expires_at: Timestamp,
}

impl FakeGraph {
    /// Gives Graph a subscription the bridge did not make here (a restored backup, another
    /// installation).
    pub fn hold(&self, sub: HeldSubscription) {
        lock(&self.subscriptions).push(sub);
    }

    /// The ids of the subscriptions Graph has, oldest first.
    pub fn held_ids(&self) -> Vec<String> {
        lock(&self.subscriptions)
            .iter()
            .map(|s| s.id.clone())
            .collect()
    }

    fn info(id: String, expires_at: Timestamp) -> SubscriptionInfo {
        SubscriptionInfo {
            id,
            expires_at,
            encryption_certificate_id: None,
        }
    }

    fn listed(s: &HeldSubscription) -> ListedSubscription {
        ListedSubscription {
            info: Self::info(s.id.clone(), s.expires_at),
            client_state: Some(s.client_state.clone()),
            user_ids: Some(s.users.clone()),
            notification_url: Some(s.notification_url.clone()),
        }
    }

    fn refuse_writes(&self) -> Result<(), GraphError> {
        if !self.forbid_subscriptions.load(Ordering::SeqCst) {
            return Ok(());
        }
        Err(GraphError::Refused {
            status: 403,
            message: "Forbidden: the request is not authorized for this user or application".into(),
        })
    }
}

fn not_found() -> GraphError {
    GraphError::Refused {
        status: 404,
        message: "not found".into(),
    }
}

#[async_trait]
impl SubscriptionApi for FakeGraph {
    async fn create_subscription(
        &self,
        _token: &str,
        sub: &NewSubscription<'_>,
        _budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        self.record(GraphCall::Create {
            users: sub.user_ids.to_vec(),
        });
        self.refuse_writes()?;
        let mut held = lock(&self.subscriptions);
        let taken = |s: &HeldSubscription| s.users.iter().any(|u| sub.user_ids.contains(u));
        if self.unnamed_conflicts.load(Ordering::SeqCst) && held.iter().any(taken) {
            return Err(GraphError::Refused {
                status: 409,
                message: "Conflict".into(),
            });
        }
        let n = self.created.fetch_add(1, Ordering::SeqCst) + 1;
        let id = format!("sub-{n}");
        held.push(HeldSubscription {
            id: id.clone(),
            client_state: sub.client_state.into(),
            users: sub.user_ids.to_vec(),
            notification_url: sub.notification_url.into(),
            expires_at: sub.expires_at,
        });
        Ok(Self::info(id, sub.expires_at))
    }

    /// One it does not hold is renewed too: tests put subscriptions in the store alone.
    async fn renew_subscription(
        &self,
        _token: &str,
        id: &str,
        expires_at: Timestamp,
        _certificate: Option<(&str, &str)>,
        _budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        self.record(GraphCall::Renew { id: id.into() });
        self.refuse_writes()?;
        if let Some(s) = lock(&self.subscriptions).iter_mut().find(|s| s.id == id) {
            s.expires_at = expires_at;
        }
        Ok(Self::info(id.into(), expires_at))
    }

    async fn delete_subscription(
        &self,
        _token: &str,
        id: &str,
        _budget: Duration,
    ) -> Result<(), GraphError> {
        self.record(GraphCall::Delete { id: id.into() });
        lock(&self.subscriptions).retain(|s| s.id != id);
        Ok(())
    }

    async fn list_subscriptions(
        &self,
        _token: &str,
        _budget: Duration,
    ) -> Result<Vec<ListedSubscription>, GraphError> {
        self.record(GraphCall::List);
        // As Graph: "the clientState property value is not returned for security purposes"
        // (https://learn.microsoft.com/en-us/graph/api/subscription-list).
        let held = lock(&self.subscriptions);
        Ok(held
            .iter()
            .map(|s| ListedSubscription {
                client_state: None,
                ..Self::listed(s)
            })
            .collect())
    }

    async fn get_subscription(
        &self,
        _token: &str,
        id: &str,
        _budget: Duration,
    ) -> Result<ListedSubscription, GraphError> {
        self.record(GraphCall::Get { id: id.into() });
        lock(&self.subscriptions)
            .iter()
            .find(|s| s.id == id)
            .map(Self::listed)
            .ok_or_else(not_found)
    }
}
