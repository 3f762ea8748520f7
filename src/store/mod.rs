//! The one storage port of the bridge, with two implementations that pass one conformance suite
//! (`tests/store_conformance.rs`): DynamoDB (AWS) and SQLite (self-hosted, embedded).
//!
//! Writes that race between concurrent webhook invocations are conditional: the per-user sync
//! state carries a revision, and a write that expected another revision fails with
//! [`StoreError::Conflict`] so the caller re-reads and decides again.

use crate::domain::{SpeakingState, SwyxUpdate, Timestamp, UserSyncState};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod dynamodb;
pub mod sqlite;

pub use dynamodb::DynamoStore;
pub use sqlite::SqliteStore;

/// A linked user: Entra object id ↔ Swyx user id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLink {
    pub entra_id: String,
    pub swyx_user_id: String,
    #[serde(default)]
    pub email: String,
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
    /// Grows on every write; writes are conditional on it ([`Store::put_account`]).
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
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found another revision (or a conflicting link) than it expected.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed (network, throttling, corrupt row …). Never carries secrets.
    #[error("store backend error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Rejects a lifecycle request key a backend could not keep apart from another: the event is one
/// of Graph's names (letters only), so DynamoDB's `<subscription id>#<event>` sort key is
/// unambiguous.
fn check_lifecycle_key(subscription_id: &str, event: &str) -> StoreResult<()> {
    if subscription_id.is_empty() {
        return Err(StoreError::Backend(
            "rejected: subscription id is empty".into(),
        ));
    }
    if event.is_empty() || !event.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(StoreError::Backend(format!(
            "rejected: lifecycle event {event:?} is not a Graph lifecycle event name"
        )));
    }
    Ok(())
}

#[async_trait]
pub trait Store: Send + Sync {
    // ---- users ----

    /// Creates or replaces the link of `link.entra_id`. Fails with `Conflict` when the Swyx user
    /// is already linked to another Entra user (the old link stays).
    async fn put_user(&self, link: &UserLink) -> StoreResult<()>;
    async fn get_user(&self, entra_id: &str) -> StoreResult<Option<UserLink>>;
    async fn get_user_by_swyx_id(&self, swyx_user_id: &str) -> StoreResult<Option<UserLink>>;
    /// All linked users, ordered by Entra id.
    async fn list_users(&self) -> StoreResult<Vec<UserLink>>;
    /// Removes the link and the user's sync state; `false` when there was no such user.
    async fn delete_user(&self, entra_id: &str) -> StoreResult<bool>;

    // ---- per-user sync state ----

    async fn get_sync_state(&self, entra_id: &str) -> StoreResult<Option<UserSyncState>>;
    /// Writes `state` if the stored revision is `expected_revision` (0 = no state stored yet);
    /// `Conflict` otherwise, and nothing is written. `state.revision` must be greater.
    async fn put_sync_state(
        &self,
        entra_id: &str,
        state: &UserSyncState,
        expected_revision: u64,
    ) -> StoreResult<()>;

    // ---- Swyx → Teams: per-user calls and the bridge's Graph session ----

    async fn get_speaking(&self, entra_id: &str) -> StoreResult<Option<SpeakingState>>;
    /// Writes `state` if the stored revision is `expected_revision` (0 = none stored yet);
    /// `Conflict` otherwise, and nothing is written. `state.revision` must be greater.
    async fn put_speaking(
        &self,
        entra_id: &str,
        state: &SpeakingState,
        expected_revision: u64,
    ) -> StoreResult<()>;
    /// Users whose `due_at` (keep-alive, Graph retry, overlong call) is at or before `now`,
    /// earliest first, as (Entra id, state).
    async fn due_speaking(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<(String, SpeakingState)>>;

    // ---- subscriptions ----

    async fn put_subscription(&self, sub: &SubscriptionRecord) -> StoreResult<()>;
    async fn get_subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>>;
    async fn list_subscriptions(&self) -> StoreResult<Vec<SubscriptionRecord>>;
    async fn delete_subscription(&self, id: &str) -> StoreResult<bool>;

    // ---- sync accounts ----

    /// Writes `account` if the stored version is `expected_version` (0 = no such account yet);
    /// `Conflict` otherwise, and nothing is written. `account.version` must be greater.
    async fn put_account(&self, account: &SyncAccount, expected_version: u64) -> StoreResult<()>;
    async fn get_account(&self, name: &str) -> StoreResult<Option<SyncAccount>>;
    /// All sync accounts, ordered by name.
    async fn list_accounts(&self) -> StoreResult<Vec<SyncAccount>>;
    /// `false` when there was no such account.
    async fn delete_account(&self, name: &str) -> StoreResult<bool>;

    // ---- lifecycle notifications waiting for maintenance ----

    /// Stores `request`, replacing one for the same subscription and event.
    async fn put_lifecycle_request(&self, request: &LifecycleRequest) -> StoreResult<()>;
    /// All waiting requests, oldest first.
    async fn list_lifecycle_requests(&self) -> StoreResult<Vec<LifecycleRequest>>;
    /// Removes the request for (`subscription_id`, `event`) if it was received at or before
    /// `handled_up_to` (one that arrived meanwhile stays). Returns whether one was removed.
    async fn delete_lifecycle_request(
        &self,
        subscription_id: &str,
        event: &str,
        handled_up_to: Timestamp,
    ) -> StoreResult<bool>;

    // ---- pending Swyx deliveries ----

    /// Stores `p` unless a pending delivery with a higher revision exists for the same Swyx user
    /// (then returns `false` and keeps the newer one). The same revision replaces (retry count).
    async fn put_pending(&self, p: &PendingDelivery) -> StoreResult<bool>;
    /// Pending deliveries whose `next_attempt_at` is at or before `now`, oldest first.
    async fn due_pending(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<PendingDelivery>>;
    async fn get_pending(&self, swyx_user_id: &str) -> StoreResult<Option<PendingDelivery>>;
    /// Removes the user's pending delivery if its revision is at most `delivered_revision` (a
    /// newer one, stored meanwhile, stays). Returns whether one was removed.
    async fn delete_pending(
        &self,
        swyx_user_id: &str,
        delivered_revision: u64,
    ) -> StoreResult<bool>;
    async fn count_pending(&self) -> StoreResult<usize>;

    // ---- idempotency keys ----

    /// Records `key` until `expires_at`. `true` the first time, `false` while it is remembered
    /// (replay protection for signed webhooks). An expired key can be claimed again.
    async fn claim_once(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool>;
}
