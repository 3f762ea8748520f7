//! Carrying a link plan out, and the one way a user is unlinked (by a sync or `users unlink`):
//! the link and its sync state go, which frees the user's subscription slot at the next shard
//! plan; the user's calls end, so the bridge's "In a call" in Teams is cleared (now, or by
//! maintenance if Graph does not answer); and the Teams-derived status the bridge set on Swyx is
//! withdrawn, so Swyx's own status rules again.
//!
//! An automatic link is marked before it is written: a crash in between leaves a mark without a
//! link, which the next sync removes; never an automatic link that looks manual.

use super::SyncError;
use crate::app::App;
use crate::domain::linking::{LinkPlan, PlannedLink, PlannedUnlink, Regrouped, UnlinkReason};
use crate::domain::{PresenceValue, SwyxAction, SwyxUpdate};
use crate::store::{LinkMark, LinkMarkKind, StoreError, StoreResult, UserLink};
use crate::swyx_to_teams::end_calls::end_calls;
use futures_util::StreamExt;
use std::collections::BTreeMap;
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

/// Unlinks, then links (an unlink may free the Entra or Swyx user a link takes), then brings
/// kept links' Swyx groups up to date, then drops marks no link uses any more; stops starting
/// new steps at `budget`.
pub async fn carry_out(app: &App, plan: &LinkPlan, budget: Duration) -> Result<Applied, SyncError> {
    let deadline = Instant::now() + budget;
    let mut applied = Applied::default();
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
        .iter()
        .map(|l| link_step(app, l, deadline))
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
    if !applied.unfinished {
        drop_stale_marks(app).await?;
    }
    Ok(applied)
}

/// One step of a plan: the Swyx id, and how it went (`None`: not started, no time left).
type Step = (String, Option<StoreResult<()>>);

/// Runs `steps`, [`CONCURRENCY`] at a time.
async fn several_at_once<F: std::future::Future<Output = Step>>(steps: Vec<F>) -> Vec<Step> {
    futures_util::stream::iter(steps)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

async fn unlink_step(app: &App, u: &PlannedUnlink, deadline: Instant) -> Step {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return (u.swyx_user_id.clone(), None);
    }
    // A Swyx user the connector no longer lists has no status to withdraw.
    let withdraw = u.reason != UnlinkReason::SwyxUserRemoved;
    let done = async {
        if unlink_user(app, &u.entra_id, &u.swyx_user_id, withdraw, left).await? {
            app.store.delete_link_mark(&u.swyx_user_id).await?;
        }
        Ok(())
    };
    (u.swyx_user_id.clone(), Some(done.await))
}

async fn link_step(app: &App, l: &PlannedLink, deadline: Instant) -> Step {
    if Instant::now() >= deadline {
        return (l.swyx_user_id.clone(), None);
    }
    (l.swyx_user_id.clone(), Some(link_user(app, l).await))
}

/// Links as planned unless either side was linked otherwise meanwhile (a failed unlink, the
/// operator): then nothing is touched, so a link never changes hands or loses its kind here.
async fn link_user(app: &App, l: &PlannedLink) -> StoreResult<()> {
    let store = app.store.as_ref();
    let entra_taken = store
        .get_user(&l.entra_id)
        .await?
        .is_some_and(|held| held.swyx_user_id != l.swyx_user_id);
    let swyx_taken = store
        .get_user_by_swyx_id(&l.swyx_user_id)
        .await?
        .is_some_and(|held| held.entra_id != l.entra_id);
    if entra_taken || swyx_taken {
        return Err(StoreError::conflict(format!(
            "Swyx user {} or Entra user {} is linked otherwise; left as it is",
            l.swyx_user_id, l.entra_id
        )));
    }
    store
        .put_link_mark(&LinkMark {
            swyx_user_id: l.swyx_user_id.clone(),
            kind: LinkMarkKind::Automatic {
                entra_id: l.entra_id.clone(),
            },
            at: app.clock.now(),
        })
        .await?;
    store
        .put_user(&UserLink {
            entra_id: l.entra_id.clone(),
            swyx_user_id: l.swyx_user_id.clone(),
            email: l.email.clone(),
            groups: l.groups.clone(),
        })
        .await
}

/// New Swyx groups for a link that stays, if it is still the link the plan saw.
async fn regroup_step(app: &App, r: &Regrouped, deadline: Instant) -> Step {
    if Instant::now() >= deadline {
        return (r.swyx_user_id.clone(), None);
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
    (r.swyx_user_id.clone(), Some(result))
}

/// Automatic marks whose link is gone or now points elsewhere (a crash between mark and link,
/// a manual re-link meanwhile).
async fn drop_stale_marks(app: &App) -> StoreResult<()> {
    let store = app.store.as_ref();
    let links: BTreeMap<String, String> = store
        .list_users()
        .await?
        .into_iter()
        .map(|l| (l.swyx_user_id, l.entra_id))
        .collect();
    for m in store.list_link_marks().await? {
        if let LinkMarkKind::Automatic { entra_id } = &m.kind
            && links.get(&m.swyx_user_id) != Some(entra_id)
        {
            store.delete_link_mark(&m.swyx_user_id).await?;
        }
    }
    Ok(())
}

/// Unlinks `entra_id` if it is still linked to `swyx_user_id` (`false` when the link changed
/// meanwhile and was left alone): removes the link and its sync state, ends the user's calls
/// (clearing the bridge's "In a call"), and with `withdraw` takes back the Teams-derived Swyx
/// status. Graph and the connector get at most `budget`; what they do not take now, maintenance
/// finishes (the speaking state is due, the withdrawal pending).
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
    store.delete_user(entra_id).await?;
    let budget = budget.min(PER_USER);
    let started = Instant::now();
    end_calls(app, entra_id, budget).await?;
    let now = app.clock.now();
    if let Some(state) = state.filter(|s| withdraw && s.teams_status.is_some()) {
        let (availability, activity) = state.last_presence.as_ref().map_or_else(
            || {
                (
                    PresenceValue::new("PresenceUnknown"),
                    PresenceValue::new("PresenceUnknown"),
                )
            },
            |p| (p.availability.clone(), p.activity.clone()),
        );
        let update = SwyxUpdate {
            swyx_user_id: swyx_user_id.to_string(),
            entra_id: entra_id.to_string(),
            action: SwyxAction::Withdraw,
            // Above every revision the connector has seen for this user (see UserSyncState).
            revision: (state.revision + 1).max(now.millis().max(0) as u64),
            availability,
            activity,
            out_of_office: state
                .last_presence
                .as_ref()
                .is_some_and(|p| p.out_of_office),
            observed_at: now,
        };
        let left = budget.saturating_sub(started.elapsed());
        app.delivery().deliver(&update, 0, left).await;
    }
    tracing::info!(entra_id = %entra_id, swyx_user = %swyx_user_id, "user unlinked");
    Ok(true)
}
