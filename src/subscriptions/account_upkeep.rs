//! One sync account's upkeep in one maintenance run: make its subscription cover its users
//! (create, rebuild, adopt on 409), keep it alive (PATCH before expiry, after a
//! `reauthorizationRequired`, onto a new certificate; recreate on 404), then reconcile its users
//! when due. Every step is idempotent, so a run cut short by its budget continues next time.
//!
//! Creating a subscription is the one step that is not: Graph may make it and still not answer
//! in time (it validates both notification URLs first). The clientState of a create is stored
//! before it is sent; a subscription that carries it is the bridge's own and is adopted (found by
//! `GET /subscriptions`, or named by the 409 of the next create), never deleted and made again.

mod adoption;
mod backoff;
mod save;

use super::sync_accounts::{AccountError, SyncAccounts};
use crate::app::App;
use crate::domain::Timestamp;
use crate::domain::sharding::needs_rebuild;
use crate::graph::client::GraphError;
use crate::graph::subscriptions::NewSubscription;
use crate::store::{Store, StoreError, SubscriptionRecord, SyncAccount};
use crate::teams_to_swyx::reconcile::{ReconcileSummary, reconcile};
use crate::teams_to_swyx::swyx_truth::owe_comparison;
use std::time::Duration;
use tokio::time::Instant;

/// Graph allows 60 minutes; two are left for clocks that disagree.
const LIFE_REQUESTED_MS: i64 = 58 * 60_000;
/// Longest budget of one Graph call (429 waits included).
const CALL_BUDGET: Duration = Duration::from_secs(30);

/// What lifecycle notifications asked for this account's subscription.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Asks {
    /// When the latest `reauthorizationRequired` arrived: a PATCH sent before then does not
    /// answer it. (Graph's 10-minute rule is against a reauthorize and a PATCH for one
    /// subscription; the bridge reauthorizes by PATCH only, so two PATCHes are allowed.)
    pub renew_asked_at: Option<Timestamp>,
    pub recreate: bool,
    pub reconcile: bool,
}

#[derive(Debug, Default)]
pub struct AccountOutcome {
    pub created: bool,
    pub recreated: bool,
    pub adopted: bool,
    pub renewed: bool,
    pub certificate_moved: bool,
    pub reconciled: Option<ReconcileSummary>,
    pub error: Option<String>,
    /// Stopped before all its work was done (time budget).
    pub unfinished: bool,
}

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error("{0}")]
    Account(#[from] AccountError),
    #[error("Graph: {0}")]
    Graph(#[from] GraphError),
    /// A create or renewal failed: a 403 to one of them backs the account off.
    #[error("Graph: {0}")]
    Write(GraphError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

pub struct Upkeep<'a> {
    pub app: &'a App,
    pub sa: &'a SyncAccounts,
    pub deadline: Instant,
}

impl Upkeep<'_> {
    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn call_budget(&self) -> Duration {
        self.left().min(CALL_BUDGET)
    }

    /// Brings `account` up to date; always saves what changed, also after a failure.
    pub async fn run(
        &self,
        account: SyncAccount,
        sub: Option<SubscriptionRecord>,
        asks: Asks,
    ) -> AccountOutcome {
        let mut out = AccountOutcome::default();
        if let Some(waiting) = backoff::waiting(&account, self.sa.now()) {
            // Graph asked for the wait (or keeps refusing): not one call before it ends. The
            // lifecycle requests stay for the run after it.
            out.error = Some(waiting);
            return out;
        }
        let before = account.clone();
        let mut acct = account;
        let result = self.work(&mut acct, sub, asks, &mut out).await;
        acct.graph_backoff = backoff::after(&acct, &result, self.sa.now());
        acct.last_error = match &result {
            Ok(()) => None,
            Err(e) => Some(backoff::described(e, acct.graph_backoff.as_ref())),
        };
        out.error = acct.last_error.clone();
        if let Err(e) = self.save(&before, &acct).await {
            out.error.get_or_insert_with(|| format!("store: {e}"));
        }
        out
    }

    async fn work(
        &self,
        acct: &mut SyncAccount,
        sub: Option<SubscriptionRecord>,
        asks: Asks,
        out: &mut AccountOutcome,
    ) -> Result<(), StepError> {
        let now = self.sa.now();
        let before_sub = acct.subscription_id.clone();
        // Graph deletes an expired subscription: it is as good as missing.
        let sub = sub.filter(|s| s.expires_at > now);
        if acct.assigned.is_empty() {
            if let Some(s) = sub {
                let token = self.sa.access_token(self.store(), &acct.name).await?;
                self.remove_subscription(&token, acct, &s.id).await?;
            }
            return Ok(());
        }
        let sub = match sub {
            None if acct.unconfirmed_client_state.is_some() => {
                let token = self.sa.access_token(self.store(), &acct.name).await?;
                self.adopt_unconfirmed(&token, acct, out).await?
            }
            known => known,
        };
        match sub {
            Some(s) if !asks.recreate && !needs_rebuild(&acct.assigned, &acct.covered) => {
                self.keep_alive(acct, s, asks, out).await?;
            }
            existing => {
                let old = existing.map(|s| s.id).or(acct.subscription_id.clone());
                self.rebuild(acct, old.as_deref(), out).await?;
            }
        }
        // The subscription is recorded before the (longer) reconciliation, so a run cut short
        // by its deadline never forgets a subscription it made.
        if acct.subscription_id != before_sub {
            self.save_fields(acct).await?;
        }
        let due = acct.reconcile_requested
            || asks.reconcile
            || acct
                .reconciled_at
                .is_none_or(|t| now >= t.plus_duration(self.sa.settings.reconcile_interval));
        if due {
            if self.left().is_zero() {
                out.unfinished = true;
                acct.reconcile_requested = true;
                return Ok(());
            }
            let users = acct.assigned.clone();
            let app = self.app;
            let read = self.sa.presences.as_ref();
            let (store, judge, delivery) = (self.store(), app.judge(), app.delivery());
            let result = reconcile(store, judge, delivery, read, &users, now, self.left()).await;
            // Swyx is compared after a reconciliation (maintenance, `swyx_truth`): owed before
            // `reconciled_at` is stored, so a run cut short before the comparison still
            // compares at the next, not an hour later.
            let result: Result<_, StepError> = match result {
                Ok(summary) if summary.read > 0 => owe_comparison(store, now)
                    .await
                    .map(|()| summary)
                    .map_err(StepError::from),
                other => other.map_err(StepError::from),
            };
            match result {
                Ok(summary) if summary.unfinished => {
                    acct.reconcile_requested = true;
                    out.unfinished = true;
                    out.reconciled = Some(summary);
                }
                Ok(summary) => {
                    acct.reconciled_at = Some(now);
                    // A user whose decision could not be stored (a busy or throttled store) is
                    // read again at the next run, not at the next interval.
                    acct.reconcile_requested = summary.failed > 0;
                    out.reconciled = Some(summary);
                }
                Err(e) => {
                    acct.reconcile_requested = true;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn store(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    /// PATCH when it expires within the margin, when Graph asked for reauthorization since it
    /// was last renewed, or to move it onto the configured certificate.
    async fn keep_alive(
        &self,
        acct: &mut SyncAccount,
        sub: SubscriptionRecord,
        asks: Asks,
        out: &mut AccountOutcome,
    ) -> Result<(), StepError> {
        let now = self.sa.now();
        let settings = &self.sa.settings;
        let expiring = sub.expires_at < now.plus_duration(settings.renew_margin);
        let reauth = asks
            .renew_asked_at
            .is_some_and(|asked| sub.renewed_at.is_none_or(|renewed| renewed < asked));
        let new_cert = sub.encryption_certificate_id.as_deref() != Some(&settings.certificate_id);
        if !(expiring || reauth || new_cert) {
            return Ok(());
        }
        let token = self.sa.access_token(self.store(), &acct.name).await?;
        let certificate = new_cert.then_some((
            self.sa.certificate_b64.as_str(),
            settings.certificate_id.as_str(),
        ));
        let expires = now.plus_millis(LIFE_REQUESTED_MS);
        match self
            .sa
            .subscriptions
            .renew_subscription(&token, &sub.id, expires, certificate, self.call_budget())
            .await
        {
            Ok(info) => {
                let mut next = sub.clone();
                next.expires_at = info.expires_at;
                next.renewed_at = Some(now);
                if info.encryption_certificate_id.is_some() {
                    next.encryption_certificate_id = info.encryption_certificate_id;
                } else if new_cert {
                    next.encryption_certificate_id = Some(settings.certificate_id.clone());
                }
                self.store().put_subscription(&next).await?;
                out.renewed = true;
                out.certificate_moved = new_cert;
                if new_cert {
                    tracing::info!(account = %acct.name, subscription_id = %sub.id, certificate_id = %settings.certificate_id, "subscription moved to the configured encryption certificate");
                }
                Ok(())
            }
            Err(GraphError::Refused { status: 404, .. }) => {
                tracing::warn!(account = %acct.name, subscription_id = %sub.id, "subscription is gone in Graph: recreating it");
                self.rebuild(acct, Some(&sub.id), out).await
            }
            Err(e) => {
                if matches!(e, GraphError::DelegatedToken(_)) {
                    self.sa.forget(&acct.name);
                }
                Err(StepError::Write(e))
            }
        }
    }

    /// Replaces the account's subscription by one covering exactly its assigned users, then asks
    /// for their reconciliation (changes in the gap are read back, not lost).
    async fn rebuild(
        &self,
        acct: &mut SyncAccount,
        old: Option<&str>,
        out: &mut AccountOutcome,
    ) -> Result<(), StepError> {
        let token = self.sa.access_token(self.store(), &acct.name).await?;
        if let Some(old) = old {
            self.remove_subscription(&token, acct, old).await?;
            out.recreated = true;
        }
        let created = match self.create(&token, acct).await {
            Err(StepError::Write(e @ GraphError::Refused { status: 409, .. })) => {
                // Graph has a subscription of this account that the store does not know. Its
                // message names it only in Microsoft's example text: otherwise it is looked up.
                let existing = match e.existing_subscription_id() {
                    Some(id) => id,
                    None => match self.find_conflicting(&token, acct).await? {
                        Some(id) => id,
                        None => return Err(StepError::Write(e)),
                    },
                };
                if self.adopt_own(&token, acct, &existing, out).await? {
                    return Ok(());
                }
                // Not one the bridge asked for (a restored backup, another installation): take
                // its place, since its clientState is unknown.
                tracing::warn!(account = %acct.name, subscription_id = %existing, "replacing the account's existing subscription, which the bridge did not make, by one it knows");
                self.remove_subscription(&token, acct, &existing).await?;
                out.adopted = true;
                self.create(&token, acct).await?
            }
            Err(StepError::Write(e)) if e.may_have_taken_effect() => {
                // No answer: Graph may have made it. Look for it now if there is time; the next
                // run looks again (and a create then gets the 409 that names it).
                tracing::warn!(account = %acct.name, error = %e, "no answer to the subscription create; looking for the subscription it may have made");
                if !self.left().is_zero()
                    && self.adopt_unconfirmed(&token, acct, out).await?.is_some()
                {
                    return Ok(());
                }
                return Err(StepError::Write(e));
            }
            other => other?,
        };
        acct.subscription_id = Some(created.id.clone());
        acct.covered = acct.assigned.clone();
        acct.reconcile_requested = true;
        out.created = !out.recreated;
        tracing::info!(account = %acct.name, subscription_id = %created.id, users = acct.covered.len(), expires_at = %created.expires_at, "subscription created");
        Ok(())
    }

    async fn create(
        &self,
        token: &str,
        acct: &mut SyncAccount,
    ) -> Result<SubscriptionRecord, StepError> {
        let settings = &self.sa.settings;
        // Stored before it is sent: if no answer comes, the subscription the create may have
        // made is recognised as the bridge's own by it. A create after one whose answer never
        // came sends the same clientState, so either one found later is recognised.
        let client_state = match &acct.unconfirmed_client_state {
            Some(sent) => sent.clone(),
            None => {
                let fresh = random_client_state();
                acct.unconfirmed_client_state = Some(fresh.clone());
                self.save_fields(acct).await?;
                fresh
            }
        };
        let now = self.sa.now();
        let info = self
            .sa
            .subscriptions
            .create_subscription(
                token,
                &NewSubscription {
                    notification_url: &settings.notification_url,
                    lifecycle_url: &settings.lifecycle_url,
                    user_ids: &acct.assigned,
                    expires_at: now.plus_millis(LIFE_REQUESTED_MS),
                    certificate_b64: &self.sa.certificate_b64,
                    certificate_id: &settings.certificate_id,
                    client_state: &client_state,
                },
                self.call_budget(),
            )
            .await
            .map_err(StepError::Write)?;
        let record = SubscriptionRecord {
            id: info.id,
            client_state,
            expires_at: info.expires_at,
            account: Some(acct.name.clone()),
            resource: "/communications/presences".to_string(),
            encryption_certificate_id: Some(settings.certificate_id.clone()),
            renewed_at: None,
        };
        self.store().put_subscription(&record).await?;
        acct.unconfirmed_client_state = None;
        Ok(record)
    }

    async fn remove_subscription(
        &self,
        token: &str,
        acct: &mut SyncAccount,
        id: &str,
    ) -> Result<(), StepError> {
        self.sa
            .subscriptions
            .delete_subscription(token, id, self.call_budget())
            .await?;
        self.store().delete_subscription(id).await?;
        if acct.subscription_id.as_deref() == Some(id) {
            acct.subscription_id = None;
            acct.covered.clear();
        }
        Ok(())
    }
}

/// 32 random bytes as hex: unguessable, and within Graph's 128 characters.
fn random_client_state() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
