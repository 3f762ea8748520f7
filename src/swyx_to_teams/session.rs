//! Swyx → Teams: bringing the bridge's Graph presence session in line with a user's calls.
//! Shared by the event intake (right after an event) and maintenance (keep-alive, retries,
//! overlong calls).

use super::ports::PresenceSession;
use crate::domain::timestamp::millis_of;
use crate::domain::{Clock, GraphOp, GraphOutcome, SpeakingSettings, SpeakingState, Timestamp};
use crate::store::optimistic::{self, Step};
use crate::store::{SpeakingStore, StoreError, StoreResult};
use crate::swyx::signature::Verifier;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What Teams shows while a Swyx user is in a call.
pub const IN_A_CALL: (&str, &str) = ("Busy", "InACall");
/// Rounds of "call Graph, record the outcome" before a user whose calls keep changing is left
/// to maintenance. Each round is a Graph call, so this bounds Graph calls per event, not store
/// retries (those are [`optimistic::MAX_ATTEMPTS`]).
const MAX_GRAPH_ROUNDS: usize = 4;

/// Everything Swyx → Teams needs beyond the shared app: present when it is configured.
pub struct SwyxToTeams {
    pub graph: Arc<dyn PresenceSession>,
    /// The connector's event secrets (several during rotation), 5-minute tolerance.
    pub verifier: Verifier,
    pub settings: SpeakingSettings,
    /// Graph time allowed within one event request; the rest is maintenance's.
    pub request_budget: Duration,
    pub clock: Clock,
}

impl fmt::Debug for SwyxToTeams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwyxToTeams")
            .field("settings", &self.settings)
            .field("request_budget", &self.request_budget)
            .finish_non_exhaustive()
    }
}

impl SwyxToTeams {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// How [`sync_graph`] left a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphSync {
    /// Graph has what the calls want (or nothing was needed).
    InSync,
    /// Graph failed or the budget ran out; the stored state has a retry for maintenance.
    Pending(String),
    /// Graph refused the setPresence for good (its HTTP status): not asked again for these calls.
    Refused(u16),
}

/// Calls Graph until it has what `state` (as stored at `state.revision`) wants, recording each
/// outcome with a conditional write. When another writer changed the user meanwhile, both Graph
/// calls may have landed in either order, so the wanted state is applied once more.
pub async fn sync_graph(
    s2t: &SwyxToTeams,
    store: &dyn SpeakingStore,
    entra_id: &str,
    mut state: SpeakingState,
    budget: Duration,
) -> StoreResult<GraphSync> {
    let started = Instant::now();
    for _ in 0..MAX_GRAPH_ROUNDS {
        let Some(op) = state.needed_op(s2t.now(), &s2t.settings) else {
            return Ok(GraphSync::InSync);
        };
        let left = budget.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Ok(GraphSync::Pending("no time left in this request".into()));
        }
        let result = match op {
            GraphOp::Set => {
                let expiration = Duration::from_millis(s2t.settings.expiration_ms.max(0) as u64);
                s2t.graph
                    .set_presence(entra_id, IN_A_CALL.0, IN_A_CALL.1, expiration, left)
                    .await
            }
            GraphOp::Clear => s2t.graph.clear_presence(entra_id, left).await,
        };
        let mut refused = None;
        let outcome = match &result {
            Ok(()) => GraphOutcome::Done,
            // Retrying a refused setPresence for the rest of the call would only repeat it.
            Err(e) if op == GraphOp::Set && e.permanent_refusal().is_some() => {
                if let Some((status, code)) = e.permanent_refusal() {
                    tracing::warn!(entra_id = %entra_id, status, code, "Graph refused setPresence for good: not retried for this call");
                    refused = Some(status);
                }
                GraphOutcome::Refused {
                    error: e.to_string(),
                }
            }
            Err(e) => GraphOutcome::Failed {
                error: e.to_string(),
                retry_after_ms: e.retry_after().map(millis_of),
            },
        };
        let now = s2t.now();
        let next = state.after_graph(op, &outcome, now, &s2t.settings);
        match store.put_speaking(entra_id, &next, state.revision).await {
            Ok(()) => state = next,
            Err(StoreError::Conflict { .. }) => {
                state = mark_raced(s2t, store, entra_id, now).await?;
            }
            Err(e) => return Err(e),
        }
        if let GraphOutcome::Failed { error, .. } = outcome {
            tracing::warn!(op = ?op, error = %error, "Graph presence call failed; left to maintenance");
            return Ok(GraphSync::Pending(error));
        }
        // Final for these calls; whatever else a racing writer wants is due for maintenance.
        if let Some(status) = refused {
            return Ok(GraphSync::Refused(status));
        }
    }
    Ok(match state.needed_op(s2t.now(), &s2t.settings) {
        None => GraphSync::InSync,
        Some(_) => GraphSync::Pending("the user changed too often; left to maintenance".into()),
    })
}

/// Re-reads the user and stores it with the session marked unsure (see `after_race`).
async fn mark_raced(
    s2t: &SwyxToTeams,
    store: &dyn SpeakingStore,
    entra_id: &str,
    now: Timestamp,
) -> StoreResult<SpeakingState> {
    optimistic::update(
        || format!("speaking state of {entra_id}"),
        move || async move { Ok(store.get_speaking(entra_id).await?.unwrap_or_default()) },
        |current| {
            let raced = current.after_race(now, &s2t.settings);
            Step::Write((raced.clone(), current.revision), raced)
        },
        move |(raced, expected)| async move { store.put_speaking(entra_id, &raced, expected).await },
    )
    .await
}
