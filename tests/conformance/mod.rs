//! The conformance cases: each is generic over [`Store`] and run against every implementation by
//! the macro in `tests/store_conformance.rs`. Fixtures are here.

mod accounts;
mod batch;
mod decision_inputs;
mod link_marks;
mod misc;
mod pending;
mod speaking;
mod switches;
mod sync_state;
mod users;

pub use accounts::*;
pub use batch::*;
pub use decision_inputs::*;
pub use link_marks::*;
pub use misc::*;
pub use pending::*;
pub use speaking::*;
pub use switches::*;
pub use sync_state::*;
pub use users::*;

use presence_bridge::domain::{
    PresenceValue, SwyxAction, SwyxStatus, SwyxUpdate, TeamsPresence, Timestamp, UserSyncState,
};
use presence_bridge::store::{
    PendingDelivery, StoreError, StoreResult, SubscriptionRecord, UserLink,
};

/// 2026-01-01T00:00:00Z: realistic times, so DynamoDB's TTL attribute gets sensible values.
pub const T0: i64 = 1_767_225_600_000;

pub fn link(entra_id: &str, swyx_user_id: &str, email: &str) -> UserLink {
    UserLink {
        entra_id: entra_id.to_string(),
        swyx_user_id: swyx_user_id.to_string(),
        email: email.to_string(),
        groups: Vec::new(),
    }
}

/// A fully populated state; `activity` tells states of the same revision apart.
pub fn state(revision: u64, activity: &str) -> UserSyncState {
    let mut presence = TeamsPresence::new("Busy", activity);
    presence.out_of_office = true;
    presence.sequence_number = Some(format!("{revision:020}"));
    UserSyncState {
        revision,
        last_sequence: presence.sequence_number.clone(),
        last_received_at: Some(Timestamp(T0 + 123)),
        last_presence: Some(presence),
        teams_status: Some(SwyxStatus::DoNotDisturb),
        echo_held: true,
    }
}

pub fn pending(
    swyx_user_id: &str,
    revision: u64,
    next_attempt_at: i64,
    attempts: u32,
) -> PendingDelivery {
    PendingDelivery {
        update: SwyxUpdate {
            swyx_user_id: swyx_user_id.to_string(),
            entra_id: format!("entra-of-{swyx_user_id}"),
            action: if revision.is_multiple_of(2) {
                SwyxAction::Withdraw
            } else {
                SwyxAction::Set(SwyxStatus::Away)
            },
            revision,
            availability: PresenceValue::new("Away"),
            activity: PresenceValue::new("BeRightBack"),
            out_of_office: false,
            observed_at: Timestamp(T0),
        },
        attempts,
        next_attempt_at: Timestamp(next_attempt_at),
        last_error: (attempts > 0).then(|| format!("connector answered 503 on attempt {attempts}")),
        rejected: false,
        not_before: None,
    }
}

pub fn subscription(id: &str, expires_at: i64) -> SubscriptionRecord {
    SubscriptionRecord {
        id: id.to_string(),
        client_state: format!("client-state-of-{id}"),
        expires_at: Timestamp(expires_at),
        account: None,
        resource: format!("/communications/presences?$filter=id in ('{id}')"),
        encryption_certificate_id: None,
        renewed_at: None,
    }
}

/// Asserts a `Conflict` (not a backend failure, not success).
#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: StoreResult<T>) {
    match result {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

/// `T0 + offset_ms` as a timestamp.
pub fn at(offset_ms: i64) -> Timestamp {
    Timestamp(T0 + offset_ms)
}
