//! The records the bridge keeps: what each one means and which fields its conditional writes
//! compare. The store's ports ([`super`]) read and write them; every backend keeps them as they are.

use crate::domain::{DirectionSwitches, SwyxUpdate, Timestamp, UserSyncState};
use serde::{Deserialize, Serialize};

/// A linked user: Entra object id ↔ Swyx user id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLink {
    pub entra_id: String,
    pub swyx_user_id: String,
    #[serde(default)]
    pub email: String,
    /// The Swyx groups the connector listed the user in at the last users sync (empty for a
    /// link nobody synced yet): `[[mapping.override]] swyx_groups` picks rules by them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// A Graph change-notification subscription the bridge owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub id: String,
    /// Random per subscription; every notification must carry it (compared in constant time).
    pub client_state: String,
    pub expires_at: Timestamp,
    /// The sync account whose delegated token created it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default)]
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_certificate_id: Option<String>,
    /// When the bridge last renewed it (PATCH); a `reauthorizationRequired` within 10 minutes of
    /// a renewal needs no second PATCH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_at: Option<Timestamp>,
}

/// A sync account: a dedicated Entra user whose delegated token owns one presence subscription
/// (Graph allows one per app and user) covering at most 650 linked users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAccount {
    /// The operator's name for it (`accounts add NAME`); the key.
    pub name: String,
    /// The account's refresh token, sealed (AES-256-GCM, see `graph::sealed`); never plain.
    pub sealed_refresh_token: String,
    /// Grows on every write; writes are conditional on it
    /// ([`AccountStore::put_account`](super::AccountStore::put_account)).
    pub version: u64,
    /// The users its subscription must cover (Entra ids, sorted, at most 650).
    #[serde(default)]
    pub assigned: Vec<String>,
    /// The users its live subscription covers as created (sorted). A subscription is rebuilt
    /// only when `assigned` holds someone `covered` lacks.
    #[serde(default)]
    pub covered: Vec<String>,
    /// The subscription it owns (a [`SubscriptionRecord`] id), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// The clientState of a subscription create whose answer never came (a timeout, a run cut
    /// short, a crash): Graph may have made that subscription. One that carries it is the
    /// bridge's own and is adopted, never replaced; the next create sends it again. Cleared when
    /// a create is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed_client_state: Option<String>,
    pub added_at: Timestamp,
    /// When its users' presence was last read in bulk and repaired on Swyx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<Timestamp>,
    /// Its users must be reconciled at the next run (after a rebuild, a removal, `missed`).
    #[serde(default)]
    pub reconcile_requested: bool,
    /// The last thing that went wrong with it (sign-in, Graph), for `accounts list`; no secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Graph asked to wait (Retry-After) or keeps refusing (403): no Graph call for this account
    /// before then. Stored, so a wait outlives the process (a Lambda) that was told it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_backoff: Option<GraphBackoff>,
}

/// When upkeep may call Graph again for a sync account, and why it waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphBackoff {
    pub not_before: Timestamp,
    /// 403s in a row on a create or renewal: the wait doubles with each (1 minute to 1 hour).
    #[serde(default)]
    pub refusals: u32,
}

/// A lifecycle notification accepted by the webhook, for maintenance to act on. At most one per
/// subscription and event; a newer one replaces an older one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRequest {
    pub subscription_id: String,
    /// `reauthorizationRequired`, `subscriptionRemoved` or `missed`.
    pub event: String,
    pub received_at: Timestamp,
}

/// A Swyx update that could not be delivered yet. There is at most one per Swyx user: a newer
/// update replaces an older one (only the latest status matters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDelivery {
    pub update: SwyxUpdate,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The connector refused it for good (e.g. an unknown Swyx user): it waits for an operator,
    /// not for the connector to come back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejected: bool,
    /// The connector's `Retry-After` ran until then: no attempt before, not even early when
    /// the connector is back (the contract's "retry, not before `Retry-After`").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
}

impl PendingDelivery {
    /// Waiting out a transient failure of the connector (not a fresh decision still within its
    /// delivery grace, not a rejection): what a connector that is back can take at once.
    pub fn retrying(&self) -> bool {
        self.attempts > 0 && !self.rejected
    }

    /// [`Self::retrying`], and no `Retry-After` of the connector still running at `now`: what
    /// may be sent before its `next_attempt_at`.
    pub fn may_go_early(&self, now: Timestamp) -> bool {
        self.retrying() && self.not_before.is_none_or(|t| t <= now)
    }
}

/// What the bridge remembers about one Swyx user besides its link, for automatic linking
/// (`users sync`): that its link was made by a sync, or that the operator keeps it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkMark {
    pub swyx_user_id: String,
    pub kind: LinkMarkKind,
    pub at: Timestamp,
}

impl LinkMark {
    /// The mark of `link`, made by a sync at `at`.
    pub fn automatic(link: &UserLink, at: Timestamp) -> Self {
        Self {
            swyx_user_id: link.swyx_user_id.clone(),
            kind: LinkMarkKind::Automatic {
                entra_id: link.entra_id.clone(),
            },
            at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LinkMarkKind {
    /// The Swyx user's link to `entra_id` was made by a sync, so a sync may undo it. A link
    /// without this mark (or with one naming another Entra user) is manual and never touched.
    Automatic { entra_id: String },
    /// A sync never links this Swyx user (`users unlink`); `users link` or `users include`
    /// lifts it.
    Excluded,
}

/// A Swyx user's own direction switches (`users set`). Kept by Swyx id, apart from the link, so
/// they survive a relink; a user without any has no record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSwitches {
    pub swyx_user_id: String,
    pub switches: DirectionSwitches,
}

/// One user's sync decision for [`super::SyncStateStore::put_decisions`]: the new state, written
/// if the stored revision is `expected_revision` (0 = none yet), together with the update to keep
/// pending until the connector confirms it (written unless a newer one is pending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionWrite {
    pub entra_id: String,
    pub state: UserSyncState,
    pub expected_revision: u64,
    pub pending: Option<PendingDelivery>,
}
