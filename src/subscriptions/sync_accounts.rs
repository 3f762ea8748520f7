//! Sync accounts: enrolment (after the device-code sign-in), their delegated access tokens, and
//! removal. The refresh token is stored sealed and rotated on every use; a rotation is written
//! with the account's version as condition, so two processes refreshing at once never lose the
//! last valid token: the loser keeps its access token and drops its (equally valid) new refresh
//! token, and a token found superseded is retried once with the newer one from the store.

use super::ports::{SubscriptionApi, TokenRefresher};
use crate::config::SubscriptionsConfig;
use crate::domain::Clock;
use crate::domain::Timestamp;
use crate::graph::entra::EntraError;
use crate::graph::sealed::TokenSealer;
use crate::store::optimistic::{self, Step};
use crate::store::{AccountStore, StoreError, SyncAccount};
use crate::teams_to_swyx::ports::PresenceReader;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An access token is not used when it has less than this left.
const ACCESS_TOKEN_MARGIN_MS: i64 = 5 * 60_000;
/// Longest wait for the token endpoint, retries included (a redemption is repeated only when it
/// provably did not reach Entra).
const TOKEN_BUDGET: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no sync account named {0:?}")]
    Unknown(String),
    /// The account must sign in again (`accounts add NAME`).
    #[error("sync account {name:?}: {why}")]
    SignInNeeded { name: String, why: String },
    /// The token endpoint is unreachable, failing or refusing the request; try again later.
    #[error("sync account {name:?}: {source}")]
    Unavailable {
        name: String,
        #[source]
        source: EntraError,
    },
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

struct CachedAccess {
    token: String,
    expires_at: Timestamp,
}

/// Everything subscription maintenance needs beyond the store. Built once per process.
pub struct SyncAccounts {
    pub settings: SubscriptionsConfig,
    /// Base64 DER of the configured encryption certificate.
    pub certificate_b64: String,
    pub sealer: TokenSealer,
    /// Redeems the accounts' refresh tokens.
    pub login: Arc<dyn TokenRefresher>,
    /// The delegated scope asked for: the configured cloud's Graph resource.
    pub scope: String,
    /// Graph's subscription calls, with an account's delegated token.
    pub subscriptions: Arc<dyn SubscriptionApi>,
    /// Graph's bulk presence reads, for reconciliation (app-only).
    pub presences: Arc<dyn PresenceReader>,
    pub clock: Clock,
    access: Mutex<HashMap<String, CachedAccess>>,
}

impl SyncAccounts {
    pub fn new(
        settings: SubscriptionsConfig,
        certificate_b64: String,
        sealer: TokenSealer,
        login: Arc<dyn TokenRefresher>,
        subscriptions: Arc<dyn SubscriptionApi>,
        presences: Arc<dyn PresenceReader>,
        clock: Clock,
    ) -> Self {
        Self {
            settings,
            certificate_b64,
            sealer,
            login,
            scope: crate::graph::delegated::SYNC_ACCOUNT_SCOPE.to_string(),
            subscriptions,
            presences,
            clock,
            access: Mutex::new(HashMap::new()),
        }
    }

    /// The delegated scope of the cloud whose Graph is at `graph_base_url` (the global one
    /// unless this is called).
    pub fn for_graph_at(mut self, graph_base_url: &str) -> Self {
        self.scope = crate::graph::cloud::sync_account_scope(graph_base_url);
        self
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn cached(&self, name: &str) -> Option<String> {
        let now = self.now();
        let cache = self.access.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(name)
            .filter(|c| c.expires_at.millis() - now.millis() > ACCESS_TOKEN_MARGIN_MS)
            .map(|c| c.token.clone())
    }

    /// Forgets a cached access token Graph refused.
    pub fn forget(&self, name: &str) {
        self.access
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// A delegated access token of the account: cached, or redeemed from its refresh token (which
    /// is rotated and stored). Failures are recorded on the account for `accounts list`.
    pub async fn access_token(
        &self,
        store: &dyn AccountStore,
        name: &str,
    ) -> Result<String, AccountError> {
        if let Some(t) = self.cached(name) {
            return Ok(t);
        }
        let result = self.redeem(store, name).await;
        if let Err(e @ (AccountError::SignInNeeded { .. } | AccountError::Unavailable { .. })) =
            &result
        {
            note_error(store, name, &e.to_string()).await;
        }
        result
    }

    async fn redeem(&self, store: &dyn AccountStore, name: &str) -> Result<String, AccountError> {
        let mut retried = false;
        loop {
            let account = store
                .get_account(name)
                .await?
                .ok_or_else(|| AccountError::Unknown(name.to_string()))?;
            let refresh = self
                .sealer
                .open(&account.sealed_refresh_token, name)
                .map_err(|e| AccountError::SignInNeeded {
                    name: name.to_string(),
                    why: e.to_string(),
                })?;
            let tokens = match self
                .login
                .refresh(&refresh, &self.scope, TOKEN_BUDGET)
                .await
            {
                Ok(t) => t,
                Err(EntraError::SignInNeeded(why)) => {
                    // Someone may have rotated it meanwhile: the stored one is then newer.
                    let newer = store
                        .get_account(name)
                        .await?
                        .is_some_and(|a| a.version != account.version);
                    if newer && !retried {
                        retried = true;
                        continue;
                    }
                    return Err(AccountError::SignInNeeded {
                        name: name.to_string(),
                        why: format!(
                            "the sign-in is no longer valid ({why}); run `presence-bridge accounts add {name}` again"
                        ),
                    });
                }
                Err(source) => {
                    return Err(AccountError::Unavailable {
                        name: name.to_string(),
                        source,
                    });
                }
            };
            if let Some(new_refresh) = &tokens.refresh_token {
                let mut next = account.clone();
                next.sealed_refresh_token = self.sealer.seal(new_refresh, name);
                next.version = account.version + 1;
                next.last_error = None;
                match store.put_account(&next, account.version).await {
                    Ok(()) => {}
                    // Another process rotated first: its token is as valid as ours; ours is
                    // dropped and our access token is still good.
                    Err(StoreError::Conflict { .. }) => {
                        tracing::debug!(account = name, "refresh token rotated concurrently")
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let expires_at = self.now().plus_duration(tokens.expires_in);
            self.access
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    name.to_string(),
                    CachedAccess {
                        token: tokens.access_token.clone(),
                        expires_at,
                    },
                );
            return Ok(tokens.access_token);
        }
    }
}

/// Records `why` as the account's last error (best effort: a conflict means someone else just
/// wrote it, and the next run notes it again).
pub async fn note_error(store: &dyn AccountStore, name: &str, why: &str) {
    if let Ok(Some(account)) = store.get_account(name).await
        && account.last_error.as_deref() != Some(why)
    {
        let mut next = account.clone();
        next.last_error = Some(why.to_string());
        next.version += 1;
        let _ = store.put_account(&next, account.version).await;
    }
}

/// Stores a freshly signed-in account, or replaces the token of an existing one (signing in again
/// after a revocation keeps its users and subscription).
pub async fn enroll(
    store: &dyn AccountStore,
    sealer: &TokenSealer,
    name: &str,
    refresh_token: &str,
    now: Timestamp,
) -> Result<SyncAccount, StoreError> {
    // Sealed once: the seal is random, and every attempt stores the same token.
    let sealed = sealer.seal(refresh_token, name);
    optimistic::update(
        || format!("sync account {name:?}"),
        move || store.get_account(name),
        |existing| {
            let (expected, mut account) = match existing {
                Some(a) => (a.version, a),
                None => (0, new_account(name, now)),
            };
            account.sealed_refresh_token = sealed.clone();
            account.version = expected + 1;
            account.last_error = None;
            // A new sign-in may carry the consent a 403 lacked: try Graph at once.
            account.graph_backoff = None;
            Step::Write((account.clone(), expected), account)
        },
        move |(account, expected)| async move { store.put_account(&account, expected).await },
    )
    .await
}

pub(crate) fn new_account(name: &str, now: Timestamp) -> SyncAccount {
    SyncAccount {
        name: name.to_string(),
        sealed_refresh_token: String::new(),
        version: 0,
        assigned: Vec::new(),
        covered: Vec::new(),
        subscription_id: None,
        unconfirmed_client_state: None,
        added_at: now,
        reconciled_at: None,
        reconcile_requested: false,
        last_error: None,
        graph_backoff: None,
    }
}

/// A valid account name: what an operator types, and safe in keys and logs.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid account name: 1 to 64 of letters, digits, '-', '_', '.', '@'"
        ))
    }
}

/// Asks the next maintenance run to reconcile every sync account's users, and returns how many
/// were not asked already. For a process that starts after being down (a crash, a kill, a
/// restart): Graph gives up on notifications it cannot deliver, and what it gave up on is only
/// found by reading Teams again — converging after a crash must not wait for the next scheduled
/// reconciliation.
pub async fn request_reconciliation(store: &dyn AccountStore) -> Result<usize, StoreError> {
    let mut asked = 0;
    for account in store.list_accounts().await? {
        asked += usize::from(ask_to_reconcile(store, &account.name).await?);
    }
    Ok(asked)
}

/// Asks the next maintenance run to reconcile the sync account that covers `entra_id` (after
/// the user's direction switches changed); `false` when no account covers the user or it was
/// asked already.
pub async fn request_reconciliation_of(
    store: &dyn AccountStore,
    entra_id: &str,
) -> Result<bool, StoreError> {
    let accounts = store.list_accounts().await?;
    match accounts
        .iter()
        .find(|a| a.assigned.iter().any(|u| u == entra_id))
    {
        Some(account) => ask_to_reconcile(store, &account.name).await,
        None => Ok(false),
    }
}

/// Sets the account's `reconcile_requested`; `false` when it was set already or the account is
/// gone.
async fn ask_to_reconcile(store: &dyn AccountStore, name: &str) -> Result<bool, StoreError> {
    optimistic::update(
        || format!("sync account {name:?}"),
        move || store.get_account(name),
        |stored| match stored {
            Some(stored) if !stored.reconcile_requested => {
                let mut next = stored.clone();
                next.reconcile_requested = true;
                next.version = stored.version + 1;
                Step::Write((next, stored.version), true)
            }
            // Removed meanwhile, or already asked.
            _ => Step::Done(false),
        },
        move |(next, expected)| async move { store.put_account(&next, expected).await },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn a_start_asks_every_account_for_one_reconciliation() {
        let store = MemoryStore::new();
        let sealer = TokenSealer::from_key_text(&TokenSealer::generate_key_text()).unwrap();
        let now = Timestamp(1_800_000_000_000);
        for name in ["sync1", "sync2"] {
            let mut account = enroll(&store, &sealer, name, "refresh", now).await.unwrap();
            let expected = account.version;
            account.version += 1;
            account.reconciled_at = Some(now);
            account.reconcile_requested = false;
            store.put_account(&account, expected).await.unwrap();
        }
        assert_eq!(request_reconciliation(&store).await.unwrap(), 2);
        for account in store.list_accounts().await.unwrap() {
            assert!(account.reconcile_requested, "{}", account.name);
        }
        assert_eq!(
            request_reconciliation(&store).await.unwrap(),
            0,
            "already asked: nothing written"
        );
    }
}
