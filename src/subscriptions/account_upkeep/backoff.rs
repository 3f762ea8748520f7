//! How long an account's upkeep leaves Graph alone: a `Retry-After` longer than one call's
//! budget (429, 503) is carried to the run after it, and a create or renewal Graph keeps refusing
//! (403: consent or licence missing, a quota) is tried 1, 2, 4 … minutes apart, at most hourly,
//! instead of every run. Kept on the stored account, so a new process (a Lambda) keeps the wait.

use super::{CALL_BUDGET, StepError};
use crate::domain::Timestamp;
use crate::graph::client::GraphError;
use crate::store::{GraphBackoff, SyncAccount};

const FIRST_REFUSAL_WAIT_MS: i64 = 60_000;
const LONGEST_REFUSAL_WAIT_MS: i64 = 60 * 60_000;

/// Why upkeep makes no Graph call for `acct` now, or `None` when it may.
pub(super) fn waiting(acct: &SyncAccount, now: Timestamp) -> Option<String> {
    let until = acct.graph_backoff.as_ref()?.not_before;
    (until > now).then(|| {
        acct.last_error
            .clone()
            .unwrap_or_else(|| format!("no Graph call before {until}"))
    })
}

/// The wait after a run that ended with `result`; none after a success.
pub(super) fn after(
    acct: &SyncAccount,
    result: &Result<(), StepError>,
    now: Timestamp,
) -> Option<GraphBackoff> {
    let refusals = acct.graph_backoff.as_ref().map_or(0, |b| b.refusals);
    let (StepError::Graph(e) | StepError::Write(e)) = result.as_ref().err()? else {
        return None;
    };
    // A shorter wait fitted in the call's own budget and was waited out there already.
    if let Some(wait) = e.retry_after().filter(|wait| *wait > CALL_BUDGET) {
        return Some(GraphBackoff {
            not_before: now.plus_duration(wait),
            refusals,
        });
    }
    match result {
        Err(StepError::Write(GraphError::Refused { status: 403, .. })) => {
            let refusals = refusals.saturating_add(1);
            let doubled = FIRST_REFUSAL_WAIT_MS << (refusals - 1).min(10);
            Some(GraphBackoff {
                not_before: now.plus_millis(doubled.min(LONGEST_REFUSAL_WAIT_MS)),
                refusals,
            })
        }
        _ => None,
    }
}

/// The account's last error as `accounts list`, `status` and the admin page show it: with the
/// time of the next Graph call when upkeep waits for it.
pub(super) fn described(e: &StepError, backoff: Option<&GraphBackoff>) -> String {
    match backoff {
        Some(b) => format!("{e} (next Graph call not before {})", b.not_before),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_403() -> Result<(), StepError> {
        Err(StepError::Write(GraphError::Refused {
            status: 403,
            message: "Forbidden".into(),
        }))
    }

    #[test]
    fn refusals_wait_one_two_four_minutes_up_to_an_hour_and_a_success_ends_it() {
        let mut acct = crate::subscriptions::sync_accounts::new_account("a", Timestamp(0));
        let now = Timestamp(0);
        let mut waits = Vec::new();
        for _ in 0..9 {
            acct.graph_backoff = after(&acct, &refused_403(), now);
            waits.push(acct.graph_backoff.as_ref().unwrap().not_before.millis() / 60_000);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(after(&acct, &Ok(()), now), None);
    }
}
