//! After the bridge clears its "In a call" session, Teams' presence is read back once the echo
//! window has closed (`domain::speaking::ECHO_WINDOW_MS`). While the session was up, a real
//! Teams call of the same user looked exactly like the session's echo and was not forwarded to
//! Swyx; once the session is gone Teams may keep showing Busy/InACall without a new
//! notification, so only a read finds it. The read is judged like any notification
//! (`teams_to_swyx::reconcile`): an unchanged status sends nothing.

use super::session::SwyxToTeams;
use crate::domain::{Timestamp, VerifyStep};
use crate::store::optimistic::{self, Step};
use crate::store::{SpeakingStore, StoreResult};
use crate::teams_to_swyx::decide::{DecisionStore, Judge};
use crate::teams_to_swyx::deliver::Delivery;
use crate::teams_to_swyx::ports::PresenceReader;
use crate::teams_to_swyx::reconcile::reconcile;
use crate::telemetry::with_causes;
use std::time::Duration;

/// What one read-back pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadBackSummary {
    /// Users whose Teams presence was read back and judged.
    pub read: usize,
    /// Of those, users whose Swyx status changed (a real Teams call the session had hidden).
    pub repaired: usize,
    /// Users left for the regular reconciliation (Graph kept failing, or Teams → Swyx is off).
    pub given_up: usize,
}

/// Reads back the users of `due` whose read-back is due at `now`. A Graph failure leaves them
/// due for the next pass (until [`VerifyStep::GiveUp`]).
#[allow(clippy::too_many_arguments)]
pub async fn read_back<S>(
    s2t: &SwyxToTeams,
    store: &S,
    judge: Judge<'_>,
    delivery: Delivery<'_>,
    reader: Option<&dyn PresenceReader>,
    due: &[String],
    budget: Duration,
) -> StoreResult<ReadBackSummary>
where
    S: DecisionStore + ?Sized,
{
    let mut summary = ReadBackSummary::default();
    let now = s2t.now();
    let mut to_read = Vec::new();
    for entra_id in due {
        let Some(state) = store.get_speaking(entra_id).await? else {
            continue;
        };
        match (state.verify_step(now), reader) {
            (VerifyStep::None, _) => {}
            (VerifyStep::Read, Some(_)) => to_read.push(entra_id.clone()),
            (VerifyStep::Read | VerifyStep::GiveUp, _) => {
                summary.given_up += 1;
                mark_verified(s2t, store, entra_id, now).await?;
            }
        }
    }
    let Some(reader) = reader.filter(|_| !to_read.is_empty()) else {
        return Ok(summary);
    };
    match reconcile(store, judge, delivery, reader, &to_read, now, budget).await {
        Ok(done) if !done.unfinished => {
            summary.read = done.read;
            summary.repaired = done.repaired;
            for entra_id in &to_read {
                mark_verified(s2t, store, entra_id, now).await?;
            }
        }
        Ok(_) => tracing::info!("presence read-back after calls: budget used up; next pass"),
        Err(e) => {
            tracing::warn!(users = to_read.len(), error = %with_causes(&e), "presence read-back after calls failed; next pass");
        }
    }
    Ok(summary)
}

/// Marks the read-back of `entra_id` done, unless a newer clear asked for a later one.
async fn mark_verified<S: SpeakingStore + ?Sized>(
    s2t: &SwyxToTeams,
    store: &S,
    entra_id: &str,
    now: Timestamp,
) -> StoreResult<()> {
    optimistic::update(
        || format!("speaking state of {entra_id}"),
        move || async move { Ok(store.get_speaking(entra_id).await?.unwrap_or_default()) },
        |current| match current.verified(now, &s2t.settings) {
            Some(next) => Step::Write((next, current.revision), ()),
            None => Step::Done(()),
        },
        move |(next, expected)| async move { store.put_speaking(entra_id, &next, expected).await },
    )
    .await
}
