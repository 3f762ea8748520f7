//! Adopting the subscription of a create whose answer never came: Graph may make a subscription
//! and still not answer in time (it validates both notification URLs first). The clientState of
//! a create is stored before it is sent, so a subscription that carries it is the bridge's own:
//! found by `GET /subscriptions`, or named by the 409 of the next create, it is adopted, never
//! deleted and made again.

use super::{AccountOutcome, StepError, Upkeep};
use crate::graph::client::GraphError;
use crate::graph::subscriptions::ListedSubscription;
use crate::store::{SubscriptionRecord, SyncAccount};
use subtle::ConstantTimeEq;

impl Upkeep<'_> {
    /// Looks in Graph for the subscription of a create whose answer never came (by its
    /// clientState) and adopts it. `None` when Graph has none: the create made nothing, or has
    /// not finished yet.
    pub(super) async fn adopt_unconfirmed(
        &self,
        token: &str,
        acct: &mut SyncAccount,
        out: &mut AccountOutcome,
    ) -> Result<Option<SubscriptionRecord>, StepError> {
        let Some(sent) = acct.unconfirmed_client_state.clone() else {
            return Ok(None);
        };
        let now = self.sa.now();
        let url = &self.sa.settings.notification_url;
        let listed = self
            .sa
            .subscriptions
            .list_subscriptions(token, self.call_budget())
            .await?;
        let mut unseen = Vec::new();
        for s in listed.into_iter().filter(|s| s.info.expires_at > now) {
            if carries(&s, &sent) {
                return Ok(Some(self.adopt(acct, s, sent, out).await?));
            }
            // Graph's list leaves the clientState out ("not returned for security purposes",
            // https://learn.microsoft.com/en-us/graph/api/subscription-list): a presence
            // subscription to this bridge's URL is read on its own, where Graph shows it.
            if s.client_state.is_none()
                && s.user_ids.is_some()
                && s.notification_url.as_ref() == Some(url)
            {
                unseen.push(s.info.id);
            }
        }
        for id in unseen {
            let one = match self
                .sa
                .subscriptions
                .get_subscription(token, &id, self.call_budget())
                .await
            {
                Ok(one) => one,
                // Gone meanwhile: not the one the create made.
                Err(GraphError::Refused { status: 404, .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if one.info.expires_at > now && carries(&one, &sent) {
                return Ok(Some(self.adopt(acct, one, sent, out).await?));
            }
        }
        Ok(None)
    }

    /// After a 409 naming `id`: adopts it when it carries the clientState of a create whose
    /// answer never came. `false` when it is not the bridge's own.
    pub(super) async fn adopt_own(
        &self,
        token: &str,
        acct: &mut SyncAccount,
        id: &str,
        out: &mut AccountOutcome,
    ) -> Result<bool, StepError> {
        let Some(sent) = acct.unconfirmed_client_state.clone() else {
            return Ok(false);
        };
        let existing = match self
            .sa
            .subscriptions
            .get_subscription(token, id, self.call_budget())
            .await
        {
            Ok(s) => s,
            // Gone meanwhile: nothing to adopt, and nothing in the way of a create.
            Err(GraphError::Refused { status: 404, .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        if !carries(&existing, &sent) {
            return Ok(false);
        }
        self.adopt(acct, existing, sent, out).await?;
        Ok(true)
    }

    /// After a 409 whose message names no subscription: the id of the live presence subscription
    /// in `GET /subscriptions` that delivers to this bridge's notification URL and covers this
    /// account's users (the one it was asked for, else one sharing users with it: accounts'
    /// users never overlap). `None` when Graph lists none.
    pub(super) async fn find_conflicting(
        &self,
        token: &str,
        acct: &SyncAccount,
    ) -> Result<Option<String>, StepError> {
        let now = self.sa.now();
        let url = &self.sa.settings.notification_url;
        // Sorted and lower-cased, as the users read back from a resource are.
        let mut assigned: Vec<String> = acct
            .assigned
            .iter()
            .map(|id| id.to_ascii_lowercase())
            .collect();
        assigned.sort();
        let listed = self
            .sa
            .subscriptions
            .list_subscriptions(token, self.call_budget())
            .await?;
        let candidates: Vec<(String, Vec<String>)> = listed
            .into_iter()
            .filter(|s| s.info.expires_at > now && s.notification_url.as_ref() == Some(url))
            .filter_map(|s| Some((s.info.id, s.user_ids?)))
            .filter(|(_, users)| users.iter().any(|u| assigned.binary_search(u).is_ok()))
            .collect();
        let exact = candidates.iter().find(|(_, users)| *users == assigned);
        let found = exact.or(candidates.first()).map(|(id, _)| id.clone());
        if let Some(id) = &found {
            tracing::info!(account = %acct.name, subscription_id = %id, "409 on create named no subscription: found the account's existing one by listing");
        }
        Ok(found)
    }

    /// Records `own` (made by a create with `client_state`) as the account's subscription. Its
    /// users are read back from its resource; when they cannot be, the next run rebuilds it.
    async fn adopt(
        &self,
        acct: &mut SyncAccount,
        own: ListedSubscription,
        client_state: String,
        out: &mut AccountOutcome,
    ) -> Result<SubscriptionRecord, StepError> {
        let record = SubscriptionRecord {
            id: own.info.id,
            client_state,
            expires_at: own.info.expires_at,
            account: Some(acct.name.clone()),
            resource: "/communications/presences".to_string(),
            encryption_certificate_id: own
                .info
                .encryption_certificate_id
                .or_else(|| Some(self.sa.settings.certificate_id.clone())),
            renewed_at: None,
        };
        self.store().put_subscription(&record).await?;
        acct.subscription_id = Some(record.id.clone());
        acct.covered = own.user_ids.unwrap_or_default();
        acct.unconfirmed_client_state = None;
        // Changes between the create and now were not delivered to a subscription we knew.
        acct.reconcile_requested = true;
        out.adopted = true;
        tracing::info!(account = %acct.name, subscription_id = %record.id, expires_at = %record.expires_at, "adopted the subscription of a create whose answer never came");
        Ok(record)
    }
}

/// Whether `sub` carries `client_state` (compared in constant time: it is a secret).
fn carries(sub: &ListedSubscription, client_state: &str) -> bool {
    sub.client_state
        .as_deref()
        .is_some_and(|cs| bool::from(cs.as_bytes().ct_eq(client_state.as_bytes())))
}
