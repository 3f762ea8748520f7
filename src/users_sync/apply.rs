//! Carrying a link plan out, and the one way a user is unlinked (by a sync or `users unlink`):
//! the user's calls end, so the bridge's "In a call" in Teams is cleared; the Teams-derived
//! status the bridge set on Swyx is withdrawn, so Swyx's own status rules again; and the link
//! and its sync state go, which frees the user's subscription slot at the next shard plan. The
//! two effects are stored before the link goes, so maintenance finishes them whatever stops the
//! unlink (see [`unlink_user`]).
//!
//! An automatic link and its mark are written together (one store write for many links), so a
//! crash never leaves an automatic link that looks manual. An unlink removes the link before
//! the mark: a crash in between leaves a mark without a link, which the next sync drops.

use super::SyncError;
use crate::app::App;
use crate::domain::linking::{LinkPlan, PlannedLink, PlannedUnlink, Regrouped, UnlinkReason};
use crate::domain::{PresenceValue, SwyxAction, SwyxUpdate, Timestamp, UserSyncState};
use crate::store::{AUTOMATIC_LINKS_PER_REQUEST, StoreError, StoreResult, UserLink};
use crate::swyx_to_teams::end_calls::{clear_now, store_calls_ended};
use crate::teams_to_swyx::decide::pending_until_delivered;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::Instant;

/// Users worked on at once (each mostly waits for the store, Graph or the connector).
const CONCURRENCY: usize = 8;
/// Graph and connector time allowed per unlinked user; what does not fit is maintenance's.
const PER_USER: Duration = Duration::from_millis(1_500);

/// What carrying a plan out came to.
#[derive(Debug, Default)]
pub struct Applied {
    pub unfinished: bool,
    /// Swyx id: why.
    pub failed: Vec<String>,
}

/// Drops stale marks, then unlinks, then links (an unlink may free the Entra or Swyx user a
/// link takes), then brings kept links' Swyx groups up to date; stops starting new steps at
/// `budget`.
pub async fn carry_out(app: &App, plan: &LinkPlan, budget: Duration) -> Result<Applied, SyncError> {
    let deadline = Instant::now() + budget;
    let mut applied = Applied::default();
    // Before the links: a stale mark of a Swyx user the plan links is written anew with it.
    for swyx_user_id in &plan.stale_marks {
        app.store.delete_link_mark(swyx_user_id).await?;
    }
    // Futures of named functions collected first: closures over `&plan` would not be `Send` for
    // every lifetime, which `serve` needs to run maintenance on its own task.
    let unlinks: Vec<_> = plan
        .unlink
        .iter()
        .map(|u| unlink_step(app, u, deadline))
        .collect();
    let mut outcomes = several_at_once(unlinks).await;
    let links: Vec<_> = plan
        .link
        .chunks(AUTOMATIC_LINKS_PER_REQUEST)
        .map(|chunk| link_steps(app, chunk, deadline))
        .collect();
    outcomes.extend(several_at_once(links).await);
    let regroups: Vec<_> = plan
        .regroup
        .iter()
        .map(|r| regroup_step(app, r, deadline))
        .collect();
    outcomes.extend(several_at_once(regroups).await);
    for (swyx_user_id, result) in outcomes {
        match result {
            None => applied.unfinished = true,
            Some(Ok(())) => {}
            Some(Err(e)) => {
                tracing::warn!(swyx_user = %swyx_user_id, error = %e, "users sync: step failed; retried at the next sync");
                applied.failed.push(format!("{swyx_user_id}: {e}"));
            }
        }
    }
    Ok(applied)
}

/// A step of a plan for one user: the Swyx id, and how it went (`None`: not started, no time
/// left; an error: why it failed).
type Step = (String, Option<Result<(), String>>);

/// Runs `steps` (each one or more users' steps), [`CONCURRENCY`] at a time.
async fn several_at_once<F: std::future::Future<Output = Vec<Step>>>(steps: Vec<F>) -> Vec<Step> {
    futures_util::stream::iter(steps)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn unlink_step(app: &App, u: &PlannedUnlink, deadline: Instant) -> Vec<Step> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return vec![(u.swyx_user_id.clone(), None)];
    }
    // A Swyx user the connector no longer lists has no status to withdraw.
    let withdraw = u.reason != UnlinkReason::SwyxUserRemoved;
    let done = async {
        if unlink_user(app, &u.entra_id, &u.swyx_user_id, withdraw, left).await? {
            app.store.delete_link_mark(&u.swyx_user_id).await?;
        }
        Ok::<_, StoreError>(())
    };
    vec![(
        u.swyx_user_id.clone(),
        Some(done.await.map_err(|e| e.to_string())),
    )]
}

/// Links as planned, in one store request, each with its automatic mark; a link whose Entra or
/// Swyx user was linked otherwise meanwhile (a failed unlink, the operator) is refused by the
/// store and nothing of it is written, so a link never changes hands or loses its kind here.
async fn link_steps(app: &App, links: &[PlannedLink], deadline: Instant) -> Vec<Step> {
    if Instant::now() >= deadline {
        return links
            .iter()
            .map(|l| (l.swyx_user_id.clone(), None))
            .collect();
    }
    let records: Vec<UserLink> = links
        .iter()
        .map(|l| UserLink {
            entra_id: l.entra_id.clone(),
            swyx_user_id: l.swyx_user_id.clone(),
            email: l.email.clone(),
            groups: l.groups.clone(),
        })
        .collect();
    let outcome = app
        .store
        .create_automatic_links(&records, app.clock.now())
        .await;
    records
        .into_iter()
        .map(|l| {
            let result = match &outcome {
                Err(e) => Err(e.to_string()),
                Ok(refused) if refused.contains(&l.swyx_user_id) => Err(format!(
                    "Swyx user {} or Entra user {} is linked otherwise; left as it is",
                    l.swyx_user_id, l.entra_id
                )),
                Ok(_) => Ok(()),
            };
            (l.swyx_user_id, Some(result))
        })
        .collect()
}

/// New Swyx groups for a link that stays, if it is still the link the plan saw.
async fn regroup_step(app: &App, r: &Regrouped, deadline: Instant) -> Vec<Step> {
    if Instant::now() >= deadline {
        return vec![(r.swyx_user_id.clone(), None)];
    }
    let store = app.store.as_ref();
    let result = async {
        match store.get_user(&r.entra_id).await? {
            Some(link) if link.swyx_user_id == r.swyx_user_id => {
                let regrouped = UserLink {
                    groups: r.groups.clone(),
                    ..link
                };
                store.put_user(&regrouped).await
            }
            _ => Ok(()), // relinked or unlinked meanwhile: the next sync looks again
        }
    }
    .await;
    vec![(
        r.swyx_user_id.clone(),
        Some(result.map_err(|e| e.to_string())),
    )]
}

/// Unlinks `entra_id` if it is still linked to `swyx_user_id` (`false` when the link changed
/// meanwhile and was left alone): ends the user's calls (clearing the bridge's "In a call"), with
/// `withdraw` takes back the Teams-derived Swyx status, and removes the link and its sync state.
///
/// Both effects are stored before the link goes (the withdrawal pending, the calls ended with
/// their clear due), and only then tried on Graph and the connector within `budget`: a process
/// killed or a store failing after the deletion leaves them to maintenance, which finds them
/// without the link; one stopped before it leaves the link for the next unlink.
pub async fn unlink_user(
    app: &App,
    entra_id: &str,
    swyx_user_id: &str,
    withdraw: bool,
    budget: Duration,
) -> StoreResult<bool> {
    let store = app.store.as_ref();
    match store.get_user(entra_id).await? {
        Some(l) if l.swyx_user_id == swyx_user_id => {}
        _ => return Ok(false),
    }
    let state = store.get_sync_state(entra_id).await?;
    let withdrawal = state
        .filter(|s| withdraw && s.teams_status.is_some())
        .map(|s| withdrawal(entra_id, swyx_user_id, &s, app.clock.now()));
    if let Some(update) = &withdrawal
        && !store
            .put_pending(&pending_until_delivered(update.clone()))
            .await?
    {
        // Pending above the withdrawal, it would reach Swyx after it: the next try reads it.
        return Err(StoreError::conflict(format!(
            "a Swyx update of {swyx_user_id} was decided meanwhile: not unlinked, try again"
        )));
    }
    let ended = store_calls_ended(app, entra_id).await?;
    store.delete_user(entra_id).await?;
    tracing::info!(entra_id = %entra_id, swyx_user = %swyx_user_id, "user unlinked");
    let budget = budget.min(PER_USER);
    let started = Instant::now();
    if let Some(ended) = ended
        && let Err(e) = clear_now(app, entra_id, ended, budget).await
    {
        tracing::warn!(entra_id = %entra_id, error = %e, "\"In a call\" of an unlinked user not cleared now; maintenance clears it");
    }
    if let Some(update) = withdrawal {
        let left = budget.saturating_sub(started.elapsed());
        app.delivery().deliver(&update, 0, left).await;
    }
    Ok(true)
}

/// The update that withdraws the Teams-derived status `state` says the bridge set.
fn withdrawal(
    entra_id: &str,
    swyx_user_id: &str,
    state: &UserSyncState,
    now: Timestamp,
) -> SwyxUpdate {
    let unknown = || PresenceValue::new("PresenceUnknown");
    let presence = state.last_presence.as_ref();
    SwyxUpdate {
        swyx_user_id: swyx_user_id.to_string(),
        entra_id: entra_id.to_string(),
        action: SwyxAction::Withdraw,
        // Above every revision the connector has seen for this user (see UserSyncState).
        revision: (state.revision + 1).max(now.millis().max(0) as u64),
        availability: presence.map_or_else(unknown, |p| p.availability.clone()),
        activity: presence.map_or_else(unknown, |p| p.activity.clone()),
        out_of_office: presence.is_some_and(|p| p.out_of_office),
        observed_at: now,
    }
}
