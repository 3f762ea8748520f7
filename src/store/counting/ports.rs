//! Every port of the inner store, each call counted under its method's name.

use super::CountingStore;
use crate::domain::{SpeakingState, Timestamp, UserSyncState};
use crate::store::{
    AccountStore, DecisionInputStore, DecisionInputs, DecisionWrite, IdempotencyStore,
    LifecycleRequest, LifecycleStore, LinkMark, LinkMarkStore, PendingDelivery, PendingStore,
    SpeakingStore, StoreResult, SubscriptionRecord, SubscriptionStore, SwitchStore,
    SwyxEventInputs, SyncAccount, SyncStateStore, UserLink, UserLinkStore, UserSwitches,
};
use async_trait::async_trait;
#[async_trait]
impl UserLinkStore for CountingStore {
    async fn put_user(&self, link: &UserLink) -> StoreResult<()> {
        self.count("put_user");
        self.inner.put_user(link).await
    }

    async fn get_user(&self, entra_id: &str) -> StoreResult<Option<UserLink>> {
        self.count("get_user");
        self.inner.get_user(entra_id).await
    }

    async fn get_user_by_swyx_id(&self, swyx_user_id: &str) -> StoreResult<Option<UserLink>> {
        self.count("get_user_by_swyx_id");
        self.inner.get_user_by_swyx_id(swyx_user_id).await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserLink>> {
        self.count("list_users");
        self.inner.list_users().await
    }

    async fn list_users_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserLink>> {
        self.count("list_users_after");
        self.inner.list_users_after(after, limit).await
    }

    async fn delete_user(&self, entra_id: &str) -> StoreResult<bool> {
        self.count("delete_user");
        self.inner.delete_user(entra_id).await
    }

    async fn get_users(&self, entra_ids: &[String]) -> StoreResult<Vec<UserLink>> {
        self.count("get_users");
        self.inner.get_users(entra_ids).await
    }

    async fn create_automatic_links(
        &self,
        links: &[UserLink],
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        // As DynamoDB receives them: one request per AUTOMATIC_LINKS_PER_REQUEST links.
        let requests = links
            .len()
            .div_ceil(crate::store::AUTOMATIC_LINKS_PER_REQUEST)
            .max(1);
        self.count_requests("create_automatic_links", requests as u64);
        self.inner.create_automatic_links(links, at).await
    }
}

#[async_trait]
impl LinkMarkStore for CountingStore {
    async fn put_link_mark(&self, mark: &LinkMark) -> StoreResult<()> {
        self.count("put_link_mark");
        self.inner.put_link_mark(mark).await
    }

    async fn delete_link_mark(&self, swyx_user_id: &str) -> StoreResult<bool> {
        self.count("delete_link_mark");
        self.inner.delete_link_mark(swyx_user_id).await
    }

    async fn list_link_marks(&self) -> StoreResult<Vec<LinkMark>> {
        self.count("list_link_marks");
        self.inner.list_link_marks().await
    }

    async fn list_link_marks_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LinkMark>> {
        self.count("list_link_marks_after");
        self.inner.list_link_marks_after(after, limit).await
    }
}

#[async_trait]
impl DecisionInputStore for CountingStore {
    async fn get_decision_inputs(
        &self,
        entra_id: &str,
        with_speaking: bool,
    ) -> StoreResult<Option<DecisionInputs>> {
        // One call; DynamoDB serves it in two requests when the user is linked (its doc says).
        self.count("get_decision_inputs");
        self.inner
            .get_decision_inputs(entra_id, with_speaking)
            .await
    }

    async fn get_swyx_event_inputs(
        &self,
        swyx_user_id: &str,
        replay_key: &str,
        now: Timestamp,
    ) -> StoreResult<SwyxEventInputs> {
        self.count("get_swyx_event_inputs");
        self.inner
            .get_swyx_event_inputs(swyx_user_id, replay_key, now)
            .await
    }
}

#[async_trait]
impl SwitchStore for CountingStore {
    async fn put_switches(&self, switches: &UserSwitches) -> StoreResult<()> {
        self.count("put_switches");
        self.inner.put_switches(switches).await
    }

    async fn get_switches(&self, swyx_user_id: &str) -> StoreResult<Option<UserSwitches>> {
        self.count("get_switches");
        self.inner.get_switches(swyx_user_id).await
    }

    async fn list_switches(&self) -> StoreResult<Vec<UserSwitches>> {
        self.count("list_switches");
        self.inner.list_switches().await
    }
}

#[async_trait]
impl SyncStateStore for CountingStore {
    async fn get_sync_state(&self, entra_id: &str) -> StoreResult<Option<UserSyncState>> {
        self.count("get_sync_state");
        self.inner.get_sync_state(entra_id).await
    }

    async fn put_sync_state(
        &self,
        entra_id: &str,
        state: &UserSyncState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        self.count("put_sync_state");
        self.inner
            .put_sync_state(entra_id, state, expected_revision)
            .await
    }

    async fn get_sync_states(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, UserSyncState)>> {
        self.count("get_sync_states");
        self.inner.get_sync_states(entra_ids).await
    }

    async fn put_decisions(&self, decisions: &[DecisionWrite]) -> StoreResult<Vec<String>> {
        self.count("put_decisions");
        self.inner.put_decisions(decisions).await
    }
}

#[async_trait]
impl SpeakingStore for CountingStore {
    async fn get_speaking(&self, entra_id: &str) -> StoreResult<Option<SpeakingState>> {
        self.count("get_speaking");
        self.inner.get_speaking(entra_id).await
    }

    async fn put_speaking(
        &self,
        entra_id: &str,
        state: &SpeakingState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        self.count("put_speaking");
        self.inner
            .put_speaking(entra_id, state, expected_revision)
            .await
    }

    async fn due_speaking(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<(String, SpeakingState)>> {
        self.count("due_speaking");
        self.inner.due_speaking(now, limit).await
    }

    async fn get_speakings(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, SpeakingState)>> {
        self.count("get_speakings");
        self.inner.get_speakings(entra_ids).await
    }
}

#[async_trait]
impl SubscriptionStore for CountingStore {
    async fn put_subscription(&self, sub: &SubscriptionRecord) -> StoreResult<()> {
        self.count("put_subscription");
        self.inner.put_subscription(sub).await
    }

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>> {
        self.count("get_subscription");
        self.inner.get_subscription(id).await
    }

    async fn list_subscriptions(&self) -> StoreResult<Vec<SubscriptionRecord>> {
        self.count("list_subscriptions");
        self.inner.list_subscriptions().await
    }

    async fn delete_subscription(&self, id: &str) -> StoreResult<bool> {
        self.count("delete_subscription");
        self.inner.delete_subscription(id).await
    }
}

#[async_trait]
impl AccountStore for CountingStore {
    async fn put_account(&self, account: &SyncAccount, expected_version: u64) -> StoreResult<()> {
        self.count("put_account");
        self.inner.put_account(account, expected_version).await
    }

    async fn get_account(&self, name: &str) -> StoreResult<Option<SyncAccount>> {
        self.count("get_account");
        self.inner.get_account(name).await
    }

    async fn list_accounts(&self) -> StoreResult<Vec<SyncAccount>> {
        self.count("list_accounts");
        self.inner.list_accounts().await
    }

    async fn delete_account(&self, name: &str) -> StoreResult<bool> {
        self.count("delete_account");
        self.inner.delete_account(name).await
    }
}

#[async_trait]
impl LifecycleStore for CountingStore {
    async fn put_lifecycle_request(&self, request: &LifecycleRequest) -> StoreResult<()> {
        self.count("put_lifecycle_request");
        self.inner.put_lifecycle_request(request).await
    }

    async fn list_lifecycle_requests(&self) -> StoreResult<Vec<LifecycleRequest>> {
        self.count("list_lifecycle_requests");
        self.inner.list_lifecycle_requests().await
    }

    async fn delete_lifecycle_request(
        &self,
        subscription_id: &str,
        event: &str,
        handled_up_to: Timestamp,
    ) -> StoreResult<bool> {
        self.count("delete_lifecycle_request");
        self.inner
            .delete_lifecycle_request(subscription_id, event, handled_up_to)
            .await
    }
}

#[async_trait]
impl PendingStore for CountingStore {
    async fn put_pending(&self, p: &PendingDelivery) -> StoreResult<bool> {
        self.count("put_pending");
        self.inner.put_pending(p).await
    }

    async fn due_pending(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<PendingDelivery>> {
        self.count("due_pending");
        self.inner.due_pending(now, limit).await
    }

    async fn get_pending(&self, swyx_user_id: &str) -> StoreResult<Option<PendingDelivery>> {
        self.count("get_pending");
        self.inner.get_pending(swyx_user_id).await
    }

    async fn delete_pending(
        &self,
        swyx_user_id: &str,
        delivered_revision: u64,
    ) -> StoreResult<bool> {
        self.count("delete_pending");
        self.inner
            .delete_pending(swyx_user_id, delivered_revision)
            .await
    }

    async fn count_pending(&self) -> StoreResult<usize> {
        self.count("count_pending");
        self.inner.count_pending().await
    }

    async fn delete_pendings(&self, delivered: &[(String, u64)]) -> StoreResult<usize> {
        self.count("delete_pendings");
        self.inner.delete_pendings(delivered).await
    }

    async fn make_pending_due(&self, now: Timestamp) -> StoreResult<usize> {
        self.count("make_pending_due");
        self.inner.make_pending_due(now).await
    }
}

#[async_trait]
impl IdempotencyStore for CountingStore {
    async fn claim_once(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.count("claim_once");
        self.inner.claim_once(key, expires_at, now).await
    }

    async fn release_claim(&self, key: &str) -> StoreResult<bool> {
        self.count("release_claim");
        self.inner.release_claim(key).await
    }

    async fn is_claimed(&self, key: &str, now: Timestamp) -> StoreResult<bool> {
        self.count("is_claimed");
        self.inner.is_claimed(key, now).await
    }
}
