//! Reconciliation against what Swyx actually holds. Reading Teams back
//! ([`super::reconcile`]) repairs lost notifications, but it compares with the bridge's own
//! memory: a connector restored from a backup, a status lost on its side or overwritten there is
//! invisible to it. So after Teams is reconciled, the connector's user list (contract 1.1:
//! `teamsStatus` = the status and revision it holds per user) is compared with each linked user's
//! decided status, and every difference is sent again — above the connector's revision, so it is
//! not ignored. A user with an update still pending is left to that delivery, and a user with
//! Teams → Swyx switched off is left alone: nothing is sent in a switched-off direction.
//!
//! The same list also shows a Teams-derived status held for a Swyx user no link points to any
//! more: an unlink raced by a notification of that user (one that read the link in the moment
//! before it went and was delivered after the withdrawal), or a link lost from the store. Nothing
//! would ever withdraw it, so the comparison does, whatever the switches say: a withdrawal is
//! what an unlink sends, and what a switched-off direction still sends ([`withdraw_unlinked`]).
//!
//! A reconciliation that read presences owes a comparison ([`owe_comparison`], an idempotency
//! claim taken before anything of the reconciliation is stored, its `reconciled_at` included);
//! maintenance compares while it is owed and settles it once a comparison went through
//! ([`compare_when_owed`]). So a pass cut short between the two (a crash, a Lambda timeout), a
//! connector whose list could not be read or a run with no time left is compared at the next
//! pass, not at the next reconciliation an hour later.

use super::deliver::{Delivered, Delivery};
use crate::domain::{
    Directions, HeldStatus, PresenceValue, SwyxAction, SwyxUpdate, Timestamp, UserSyncState,
    swyx_repair,
};
use crate::store::{
    IdempotencyStore, PendingStore, StoreError, StoreResult, SwitchStore, SyncStateStore, UserLink,
    UserLinkStore,
};
use crate::telemetry::with_causes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Users repaired at once (a few store round trips and a connector request each).
const CONCURRENCY: usize = 16;
/// Links (and their decided states) read in one page.
const STATE_BATCH: usize = 1_000;
/// The idempotency claim held while a comparison is owed.
pub const OWED_KEY: &str = "maintenance:swyx-comparison-owed";
/// How long an owed comparison is remembered without one going through (a claim needs an
/// expiry); after it the next reconciliation owes one again.
const OWED_FOR: Duration = Duration::from_secs(7 * 24 * 60 * 60);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SwyxTruthSummary {
    /// Linked users whose status the connector reported.
    pub compared: usize,
    /// Of those, users Swyx held something else for; sent again (or kept pending).
    pub repaired: usize,
    /// Of the repairs, kept pending for maintenance (the connector did not take them in time).
    pub pending: usize,
    /// Swyx users no link points to for whom the connector held a Teams-derived status: withdrawn
    /// (or the withdrawal kept pending, counted in `pending`).
    pub withdrawn_unlinked: usize,
    /// The connector's list could not be read this time (logged; the next pass asks again).
    pub unreadable: bool,
    /// No time was left in the run to compare (the next pass compares).
    pub budget_exhausted: bool,
}

impl SwyxTruthSummary {
    /// Whether every linked user the connector reported was compared (what differed is sent or
    /// kept pending).
    pub fn went_through(&self) -> bool {
        !self.unreadable && !self.budget_exhausted
    }
}

/// Records that Swyx is to be compared with the decided statuses: by a reconciliation that read
/// presences, before it stores anything that says it ran.
pub async fn owe_comparison<S>(store: &S, now: Timestamp) -> StoreResult<()>
where
    S: IdempotencyStore + ?Sized,
{
    // Already owed: it stays so.
    store
        .claim_once(OWED_KEY, now.plus_duration(OWED_FOR), now)
        .await
        .map(drop)
}

/// The comparison of a maintenance pass: when this pass `reconciled` or a comparison is still
/// owed ([`owe_comparison`]); `None` when neither. A comparison that went through settles what
/// was owed.
pub async fn compare_when_owed<S>(
    store: &S,
    delivery: Delivery<'_>,
    directions: Directions,
    now: Timestamp,
    reconciled: bool,
    budget: Duration,
) -> StoreResult<Option<SwyxTruthSummary>>
where
    S: UserLinkStore + SwitchStore + SyncStateStore + PendingStore + IdempotencyStore + ?Sized,
{
    if !reconciled && !store.is_claimed(OWED_KEY, now).await? {
        return Ok(None);
    }
    let summary = repair_against_swyx(store, delivery, directions, now, budget).await?;
    if summary.went_through() {
        store.release_claim(OWED_KEY).await?;
    }
    Ok(Some(summary))
}

/// Compares every linked user's decided status with what the connector holds and repairs the
/// differences, within `budget`. `directions` are those of users without switches of their own.
pub async fn repair_against_swyx<S>(
    store: &S,
    delivery: Delivery<'_>,
    directions: Directions,
    now: Timestamp,
    budget: Duration,
) -> StoreResult<SwyxTruthSummary>
where
    S: UserLinkStore + SwitchStore + SyncStateStore + PendingStore + ?Sized,
{
    let started = Instant::now();
    let mut summary = SwyxTruthSummary::default();
    if budget.is_zero() {
        summary.budget_exhausted = true;
        return Ok(summary);
    }
    let mut held = match delivery.connector.held_statuses(budget / 2).await {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(error = %with_causes(&e), "the connector's user list could not be read; Swyx is compared again at the next maintenance pass");
            summary.unreadable = true;
            return Ok(summary);
        }
    };
    if held.is_empty() {
        return Ok(summary);
    }
    let own: HashMap<String, _> = store
        .list_switches()
        .await?
        .into_iter()
        .map(|s| (s.swyx_user_id, s.switches))
        .collect();
    let teams_to_swyx = |swyx_user_id: &str| {
        own.get(swyx_user_id)
            .map_or(directions, |s| directions.for_user(s))
            .teams_to_swyx
    };
    // The links a page at a time, and their decided states in one store read per page: memory
    // for one page, not for every linked user.
    let mut after: Option<String> = None;
    let mut first_error = None;
    loop {
        let page = store
            .list_users_after(after.as_deref(), STATE_BATCH)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.entra_id.clone());
        // Each link takes what the connector holds for its user out of `held`: what is left
        // after the last page is held for users no link points to (a Swyx user has one link at
        // most).
        let links: Vec<(UserLink, HeldStatus)> = page
            .into_iter()
            .filter_map(|l| {
                let held = held.remove(&l.swyx_user_id)?;
                teams_to_swyx(&l.swyx_user_id).then_some((l, held))
            })
            .collect();
        summary.compared += links.len();
        let ids: Vec<String> = links.iter().map(|(l, _)| l.entra_id.clone()).collect();
        let mut states: HashMap<String, UserSyncState> =
            store.get_sync_states(&ids).await?.into_iter().collect();
        let compared: Vec<(UserLink, UserSyncState, HeldStatus)> = links
            .into_iter()
            .filter_map(|(l, held)| {
                let state = states.remove(&l.entra_id)?;
                Some((l, state, held))
            })
            .collect();
        let done: Vec<StoreResult<Option<bool>>> = futures_util::stream::iter(compared)
            .map(|(link, state, held)| {
                let left = budget.saturating_sub(started.elapsed());
                repair_one(store, delivery, link, state, held, now, left)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        // A store failure fails the part, after every page had its turn.
        for outcome in done {
            match outcome {
                Ok(Some(kept_pending)) => {
                    summary.repaired += 1;
                    summary.pending += usize::from(kept_pending);
                }
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    // Compared with a decision of nothing set, whatever the switches say: a withdrawal is what
    // an unlink sends, and the one thing a switched-off Teams → Swyx still sends.
    let nothing_set = UserSyncState::default();
    let unlinked: Vec<(String, u64)> = held
        .into_iter()
        .filter_map(|(id, h)| Some((id, swyx_repair(&nothing_set, &h)?.revision)))
        .collect();
    let left = budget.saturating_sub(started.elapsed());
    let (withdrawn, kept_pending) = withdraw_unlinked(delivery, unlinked, now, left).await;
    summary.withdrawn_unlinked = withdrawn;
    summary.pending += kept_pending;
    if summary.repaired > 0 {
        tracing::warn!(
            compared = summary.compared,
            repaired = summary.repaired,
            "Swyx held another Teams-derived status than the bridge decided; sent again"
        );
    }
    Ok(summary)
}

/// Withdraws the Teams-derived status the connector holds for each of `unlinked` (Swyx users no
/// link points to, each with the revision that goes above the connector's); a withdrawal the
/// connector does not take in time is kept pending like any update. No store record is written:
/// the user has none. The withdrawals sent, and how many of them were kept pending.
async fn withdraw_unlinked(
    delivery: Delivery<'_>,
    unlinked: Vec<(String, u64)>,
    now: Timestamp,
    budget: Duration,
) -> (usize, usize) {
    if unlinked.is_empty() {
        return (0, 0);
    }
    let started = Instant::now();
    let sent = unlinked.len();
    let outcomes: Vec<Delivered> = futures_util::stream::iter(unlinked)
        .map(|(swyx_user_id, revision)| {
            // No link: the Teams user it came from is not known any more.
            let nothing_set = UserSyncState::default();
            let update = update_for(&swyx_user_id, "", &nothing_set, revision, now);
            let left = budget.saturating_sub(started.elapsed());
            async move {
                let delivered = delivery.deliver(&update, 0, left).await;
                tracing::warn!(swyx_user = %update.swyx_user_id, revision, outcome = ?delivered, "Swyx held a Teams-derived status for a user no link points to; withdrawn");
                delivered
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let kept_pending = outcomes
        .iter()
        .filter(|d| matches!(d, Delivered::Pending { .. }))
        .count();
    (sent, kept_pending)
}

/// `Some(kept_pending)` when Swyx needed a repair.
async fn repair_one<S>(
    store: &S,
    delivery: Delivery<'_>,
    link: UserLink,
    state: UserSyncState,
    held: HeldStatus,
    now: Timestamp,
    budget: Duration,
) -> StoreResult<Option<bool>>
where
    S: SyncStateStore + PendingStore + ?Sized,
{
    let Some(repair) = swyx_repair(&state, &held) else {
        return Ok(None);
    };
    if store.get_pending(&link.swyx_user_id).await?.is_some() {
        return Ok(None); // its own delivery brings Swyx in line
    }
    if repair.raise_state {
        let raised = UserSyncState {
            revision: repair.revision,
            ..state.clone()
        };
        match store
            .put_sync_state(&link.entra_id, &raised, state.revision)
            .await
        {
            Ok(()) => {}
            // A newer decision is being made right now: it is delivered on its own.
            Err(StoreError::Conflict { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    let update = update_for(
        &link.swyx_user_id,
        &link.entra_id,
        &state,
        repair.revision,
        now,
    );
    let delivered = delivery.deliver(&update, 0, budget).await;
    Ok(Some(matches!(delivered, Delivered::Pending { .. })))
}

/// The update that restores the stored decision, with the presence it came from.
fn update_for(
    swyx_user_id: &str,
    entra_id: &str,
    state: &UserSyncState,
    revision: u64,
    now: Timestamp,
) -> SwyxUpdate {
    let unknown = PresenceValue::new("PresenceUnknown");
    let presence = state.last_presence.as_ref();
    SwyxUpdate {
        swyx_user_id: swyx_user_id.to_string(),
        entra_id: entra_id.to_string(),
        action: state
            .teams_status
            .map_or(SwyxAction::Withdraw, SwyxAction::Set),
        revision,
        availability: presence.map_or(unknown.clone(), |p| p.availability.clone()),
        activity: presence.map_or(unknown, |p| p.activity.clone()),
        out_of_office: presence.is_some_and(|p| p.out_of_office),
        observed_at: state.last_received_at.unwrap_or(now),
    }
}
