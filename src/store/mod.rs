//! The bridge's storage, as one small port per kind of record, so a use case names exactly what
//! it reads and writes (the Graph intake: subscriptions, user links, sync state …) and its tests
//! run on [`MemoryStore`]. [`Store`] is all of them together; anything that implements every
//! port is a `Store`. Three implementations pass one conformance suite
//! (`tests/store_conformance.rs`): DynamoDB (AWS), SQLite (self-hosted, embedded) and memory
//! (tests).
//!
//! Records that concurrent webhook invocations share are written conditionally: the per-user
//! states carry a revision, sync accounts a version, and a write that expected another one fails
//! with [`StoreError::Conflict`] and writes nothing. The caller reads and decides again, through
//! the one loop in [`optimistic`].

use crate::domain::{SpeakingState, Timestamp, UserSyncState};
use async_trait::async_trait;

pub mod counting;
mod decision_inputs;
pub mod dynamodb;
mod error;
pub mod memory;
pub mod optimistic;
mod records;
pub mod sqlite;

pub use counting::CountingStore;
pub use decision_inputs::{DecisionInputStore, DecisionInputs, SwyxEventInputs};
pub use dynamodb::DynamoStore;
pub use error::{BoxError, StoreError, StoreResult};
pub use memory::MemoryStore;
pub use records::{
    DecisionWrite, GraphBackoff, LifecycleRequest, LinkMark, LinkMarkKind, PendingDelivery,
    SubscriptionRecord, SyncAccount, UserLink, UserSwitches,
};
pub use sqlite::SqliteStore;

/// Every port trait, unnamed: `use presence_bridge::store::prelude::*` lets code that holds a
/// concrete store (the CLI, tests) call any port's methods.
pub mod prelude {
    pub use super::{
        AccountStore as _, DecisionInputStore as _, IdempotencyStore as _, LifecycleStore as _,
        LinkMarkStore as _, PendingStore as _, SpeakingStore as _, SubscriptionStore as _,
        SwitchStore as _, SyncStateStore as _, UserLinkStore as _,
    };
}

/// Linked users: Entra object id ↔ Swyx user id, one to one.
#[async_trait]
pub trait UserLinkStore: Send + Sync {
    /// Creates or replaces the link of `link.entra_id`. Fails with `Conflict` when the Swyx user
    /// is already linked to another Entra user (the old link stays).
    async fn put_user(&self, link: &UserLink) -> StoreResult<()>;
    async fn get_user(&self, entra_id: &str) -> StoreResult<Option<UserLink>>;
    async fn get_user_by_swyx_id(&self, swyx_user_id: &str) -> StoreResult<Option<UserLink>>;
    /// All linked users, ordered by Entra id.
    async fn list_users(&self) -> StoreResult<Vec<UserLink>>;
    /// At most `limit` links whose Entra id comes after `after` (from the first without it),
    /// ordered by Entra id: a page of [`Self::list_users`], so that a pass over many users holds
    /// one page at a time. An empty page is the end.
    async fn list_users_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserLink>>;
    /// Removes the link and the user's sync state; `false` when there was no such user.
    async fn delete_user(&self, entra_id: &str) -> StoreResult<bool>;
    /// The links of those of `entra_ids` that are linked, in no particular order: one read for
    /// many users (DynamoDB: `BatchGetItem`, 100 keys a request).
    async fn get_users(&self, entra_ids: &[String]) -> StoreResult<Vec<UserLink>>;
    /// Automatic linking's write: each of `links` is created together with its automatic mark
    /// (dated `at`), both or neither, and only where neither its Entra user nor its Swyx user is
    /// linked yet (in the store, or earlier in `links`). Returns the Swyx ids of the links refused
    /// for that, nothing written for them; every other one is written. An empty id fails the
    /// whole call before anything is written. DynamoDB serves up to
    /// [`AUTOMATIC_LINKS_PER_REQUEST`] links in one request.
    async fn create_automatic_links(
        &self,
        links: &[UserLink],
        at: Timestamp,
    ) -> StoreResult<Vec<String>>;
}

/// Links [`UserLinkStore::create_automatic_links`] writes in one DynamoDB `TransactWriteItems`
/// (three items each: the link, its Swyx-id claim and its mark; 100 items a transaction).
pub const AUTOMATIC_LINKS_PER_REQUEST: usize = 33;

/// Automatic linking's marks, one per Swyx user at most: automatic links and exclusions.
#[async_trait]
pub trait LinkMarkStore: Send + Sync {
    /// Creates or replaces the mark of `mark.swyx_user_id`.
    async fn put_link_mark(&self, mark: &LinkMark) -> StoreResult<()>;
    /// `false` when there was none.
    async fn delete_link_mark(&self, swyx_user_id: &str) -> StoreResult<bool>;
    /// All marks, ordered by Swyx id.
    async fn list_link_marks(&self) -> StoreResult<Vec<LinkMark>>;
    /// At most `limit` marks whose Swyx id comes after `after` (from the first without it),
    /// ordered by Swyx id: a page of [`Self::list_link_marks`], so that a sync over many users
    /// holds one page at a time. An empty page is the end.
    async fn list_link_marks_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LinkMark>>;
}

/// Users' own direction switches, by Swyx id.
#[async_trait]
pub trait SwitchStore: Send + Sync {
    /// Creates or replaces the user's switches; switches that are all unset remove the record.
    async fn put_switches(&self, switches: &UserSwitches) -> StoreResult<()>;
    async fn get_switches(&self, swyx_user_id: &str) -> StoreResult<Option<UserSwitches>>;
    /// Every user with switches of their own, ordered by Swyx id.
    async fn list_switches(&self) -> StoreResult<Vec<UserSwitches>>;
}

/// Teams → Swyx, per user: the last applied presence and the status sent for it.
#[async_trait]
pub trait SyncStateStore: Send + Sync {
    async fn get_sync_state(&self, entra_id: &str) -> StoreResult<Option<UserSyncState>>;
    /// Writes `state` if the stored revision is `expected_revision` (0 = no state stored yet);
    /// `Conflict` otherwise, and nothing is written. `state.revision` must be greater.
    async fn put_sync_state(
        &self,
        entra_id: &str,
        state: &UserSyncState,
        expected_revision: u64,
    ) -> StoreResult<()>;
    /// The stored states of those of `entra_ids` that have one, in no particular order.
    async fn get_sync_states(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, UserSyncState)>>;
    /// Many users' decisions at once, each atomically: its state (conditional on its expected
    /// revision, as [`Self::put_sync_state`]) and its pending update (refused when a newer one
    /// is pending) are both written or neither. Returns the Entra ids of the decisions that were
    /// refused (nothing written for them); the others are all written.
    async fn put_decisions(&self, decisions: &[DecisionWrite]) -> StoreResult<Vec<String>>;
    /// One decision and the Swyx update it sends, in one atomic write: `state` as
    /// [`SyncStateStore::put_sync_state`] writes it, and `pending` (kept until the connector
    /// confirms it) with it — both, or on `Conflict` neither. A process killed after this write
    /// still has the update to send; one killed before it has decided nothing.
    async fn put_decision(
        &self,
        entra_id: &str,
        state: &UserSyncState,
        expected_revision: u64,
        pending: &PendingDelivery,
    ) -> StoreResult<()> {
        let refused = self
            .put_decisions(&[DecisionWrite {
                entra_id: entra_id.to_string(),
                state: state.clone(),
                expected_revision,
                pending: Some(pending.clone()),
            }])
            .await?;
        if refused.is_empty() {
            Ok(())
        } else {
            Err(not_at(
                &format!("sync state of {entra_id}"),
                "revision",
                expected_revision,
            ))
        }
    }
}

/// Swyx → Teams, per user: active calls and the bridge's Graph presence session.
#[async_trait]
pub trait SpeakingStore: Send + Sync {
    async fn get_speaking(&self, entra_id: &str) -> StoreResult<Option<SpeakingState>>;
    /// Writes `state` if the stored revision is `expected_revision` (0 = none stored yet);
    /// `Conflict` otherwise, and nothing is written. `state.revision` must be greater.
    async fn put_speaking(
        &self,
        entra_id: &str,
        state: &SpeakingState,
        expected_revision: u64,
    ) -> StoreResult<()>;
    /// The stored states of those of `entra_ids` that have one, in no particular order.
    async fn get_speakings(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, SpeakingState)>>;
    /// Users whose `due_at` (keep-alive, Graph retry, overlong call) is at or before `now`,
    /// earliest first, as (Entra id, state).
    async fn due_speaking(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<(String, SpeakingState)>>;
}

/// The Graph change-notification subscriptions the bridge made.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    async fn put_subscription(&self, sub: &SubscriptionRecord) -> StoreResult<()>;
    async fn get_subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>>;
    /// All of them, ordered by id.
    async fn list_subscriptions(&self) -> StoreResult<Vec<SubscriptionRecord>>;
    async fn delete_subscription(&self, id: &str) -> StoreResult<bool>;
}

/// Sync accounts: whose delegated tokens own the subscriptions.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Writes `account` if the stored version is `expected_version` (0 = no such account yet);
    /// `Conflict` otherwise, and nothing is written. `account.version` must be greater.
    async fn put_account(&self, account: &SyncAccount, expected_version: u64) -> StoreResult<()>;
    async fn get_account(&self, name: &str) -> StoreResult<Option<SyncAccount>>;
    /// All sync accounts, ordered by name.
    async fn list_accounts(&self) -> StoreResult<Vec<SyncAccount>>;
    /// `false` when there was no such account.
    async fn delete_account(&self, name: &str) -> StoreResult<bool>;
}

/// Lifecycle notifications waiting for maintenance.
#[async_trait]
pub trait LifecycleStore: Send + Sync {
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
}

/// Swyx updates the connector has not taken yet, one per Swyx user.
#[async_trait]
pub trait PendingStore: Send + Sync {
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
    /// [`Self::delete_pending`] for each (Swyx user id, delivered revision); returns how many
    /// were removed.
    async fn delete_pendings(&self, delivered: &[(String, u64)]) -> StoreResult<usize>;
    /// Makes every pending delivery that is backing off after a transient failure
    /// ([`PendingDelivery::may_go_early`]) due at `now`, attempts kept: the connector is back,
    /// and nothing should wait out a backoff grown during its outage. Fresh decisions in their
    /// delivery grace, rejected updates and those under a `Retry-After` still running keep their
    /// time. Returns how many were moved.
    async fn make_pending_due(&self, now: Timestamp) -> StoreResult<usize>;
}

/// Keys seen recently: replay protection for signed webhooks.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Records `key` until `expires_at`. `true` the first time, `false` while it is remembered.
    /// An expired key can be claimed again.
    async fn claim_once(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// Forgets `key`, so it can be claimed again: for work that failed after its claim (the
    /// sender's retry with the same key must then be acted on). `true` when it was held.
    async fn release_claim(&self, key: &str) -> StoreResult<bool>;

    /// Whether `key` is remembered at `now`, without claiming it: for work that records its key
    /// only once done (a crash before that must leave the sender's retry free to act).
    async fn is_claimed(&self, key: &str, now: Timestamp) -> StoreResult<bool>;
}

/// Every port at once: what the wiring ([`crate::app::App`]) holds and hands out piecewise.
pub trait Store:
    UserLinkStore
    + DecisionInputStore
    + LinkMarkStore
    + SwitchStore
    + SyncStateStore
    + SpeakingStore
    + SubscriptionStore
    + AccountStore
    + LifecycleStore
    + PendingStore
    + IdempotencyStore
{
}

impl<T> Store for T where
    T: UserLinkStore
        + DecisionInputStore
        + LinkMarkStore
        + SwitchStore
        + SyncStateStore
        + SpeakingStore
        + SubscriptionStore
        + AccountStore
        + LifecycleStore
        + PendingStore
        + IdempotencyStore
        + ?Sized
{
}

/// Refuses an empty key, naming it; every backend checks keys the same way.
fn require(what: &str, value: &str) -> StoreResult<()> {
    if value.is_empty() {
        return Err(StoreError::invalid(format!("{what} is empty")));
    }
    Ok(())
}

/// A conditional write must move its counter (`revision`, `version`) forward.
fn require_growth(subject: &str, counter: &str, new: u64, expected: u64) -> StoreResult<()> {
    if new <= expected {
        return Err(StoreError::conflict(format!(
            "{subject}: new {counter} {new} is not greater than expected {counter} {expected}"
        )));
    }
    Ok(())
}

/// The `Conflict` of a conditional write that found another counter than expected.
fn not_at(subject: &str, counter: &str, expected: u64) -> StoreError {
    StoreError::conflict(format!("{subject} is not at {counter} {expected}"))
}

/// Rejects a lifecycle request key a backend could not keep apart from another: the event is one
/// of Graph's names (letters only), so DynamoDB's `<subscription id>#<event>` sort key is
/// unambiguous.
fn check_lifecycle_key(subscription_id: &str, event: &str) -> StoreResult<()> {
    require("subscription id", subscription_id)?;
    if event.is_empty() || !event.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(StoreError::invalid(format!(
            "lifecycle event {event:?} is not a Graph lifecycle event name"
        )));
    }
    Ok(())
}
