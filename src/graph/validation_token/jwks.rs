//! The signing keys behind [`super::TokenValidator`], cached. Three kinds of fetch:
//!
//! - the **first**, when the first token arrives;
//! - the **scheduled** one, once the last first-or-scheduled fetch is `refresh_every` (an hour)
//!   old. Microsoft publishes a new key in the document before it signs with it, so a genuine
//!   rotation is known before its first token arrives and never depends on the refetch below,
//!   whatever strangers send. A token whose key is known is not held up: the scheduled fetch
//!   then runs in the background;
//! - the **refetch** for an unknown `kid`: at most once per `min_refresh_interval`, and only for a
//!   token whose unsigned claims are ones we would accept (our audience, Graph's change-tracking
//!   app, its tenant's issuer, not expired), so a forged kid costs little and can delay nothing.
//!
//! After a failed fetch no other is tried for a while (an outage must not turn every token into
//! a request); the keys already known keep working meanwhile, up to a day old.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::{JwksError, TokenSettings, ValidationTokenError};
use crate::domain::{Clock, Timestamp};
use crate::outbound::exchange;

/// Whole request, body included: a slow JWKS endpoint must not stall notification intake.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed fetch, wait at least this long (or `min_refresh_interval`, if shorter) before
/// trying again, so an outage does not turn every incoming token into a request.
const FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// Microsoft rotates keys and drops retired ones; a set this old is not trusted any more.
const MAX_KEY_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Microsoft's key sets are a few KiB; anything far larger is not a key set.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched_at: Option<Timestamp>,
}

impl KeySet {
    fn usable_key(&self, kid: &str, now: Timestamp) -> Option<Arc<DecodingKey>> {
        let fresh = self
            .fetched_at
            .is_some_and(|at| elapsed(at, now) < MAX_KEY_AGE);
        fresh.then(|| self.keys.get(kid).cloned()).flatten()
    }
}

/// Why a fetch is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetch {
    First,
    /// The first fetch made before any token asked (a Lambda function's cold start): a failure
    /// is not held against the first token, which then fetches for itself.
    Ahead,
    Scheduled,
    UnknownKid,
}

#[derive(Default)]
struct FetchState {
    /// The last successful first or scheduled fetch: the schedule counts from it, and only
    /// from it, so no refetch a stranger causes can push it back.
    scheduled_at: Option<Timestamp>,
    /// The last refetch for an unknown `kid`, successful or not.
    refetched_at: Option<Timestamp>,
    /// The last failed fetch of any kind, cleared by a success.
    failed_at: Option<Timestamp>,
    /// A background scheduled fetch has been started and has not run yet.
    scheduled_pending: bool,
}

pub(super) struct JwksCache {
    url: String,
    http: reqwest::Client,
    clock: Clock,
    min_refresh_interval: Duration,
    refresh_every: Duration,
    keys: RwLock<KeySet>,
    /// Held across a fetch: concurrent callers queue here and then find the fresh keys.
    fetch: Mutex<FetchState>,
}

fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    Duration::from_millis(u64::try_from(now.millis() - since.millis()).unwrap_or(0))
}

fn passed(at: Option<Timestamp>, wait: Duration, now: Timestamp) -> bool {
    at.is_none_or(|t| elapsed(t, now) >= wait)
}

impl JwksCache {
    pub(super) fn new(settings: &TokenSettings, http: reqwest::Client) -> Self {
        Self {
            url: settings.jwks_url.clone(),
            http,
            clock: settings.clock.clone(),
            min_refresh_interval: settings.min_refresh_interval,
            refresh_every: settings.refresh_every,
            keys: RwLock::new(KeySet::default()),
            fetch: Mutex::new(FetchState::default()),
        }
    }

    /// A cache holding `keys` as if they had just been fetched (first fetch and refetch done now).
    pub(super) fn preloaded(
        settings: &TokenSettings,
        http: reqwest::Client,
        keys: HashMap<String, Arc<DecodingKey>>,
    ) -> Self {
        let now = settings.clock.now();
        let cache = Self::new(settings, http);
        Self {
            keys: RwLock::new(KeySet {
                keys,
                fetched_at: Some(now),
            }),
            fetch: Mutex::new(FetchState {
                scheduled_at: Some(now),
                refetched_at: Some(now),
                ..FetchState::default()
            }),
            ..cache
        }
    }

    /// The verification key for `kid`, fetching the set when it is due or (if `may_refetch`) when
    /// `kid` is unknown and a refetch is allowed.
    pub(super) async fn key_for(
        self: &Arc<Self>,
        kid: &str,
        may_refetch: bool,
    ) -> Result<Arc<DecodingKey>, ValidationTokenError> {
        let now = self.clock.now();
        if let Some(key) = self.keys.read().await.usable_key(kid, now) {
            self.refresh_if_due(now);
            return Ok(key);
        }
        let mut state = self.fetch.lock().await;
        let now = self.clock.now();
        // Another caller may have fetched while we queued for the lock.
        let (loaded, known) = {
            let set = self.keys.read().await;
            if let Some(key) = set.usable_key(kid, now) {
                return Ok(key);
            }
            (set.fetched_at.is_some(), set.keys.get(kid).cloned())
        };
        let kind = if !loaded {
            Fetch::First
        } else if passed(state.scheduled_at, self.refresh_every, now) {
            Fetch::Scheduled
        } else if known.is_none()
            && may_refetch
            && passed(state.refetched_at, self.min_refresh_interval, now)
        {
            Fetch::UnknownKid
        } else {
            return known.ok_or(ValidationTokenError::UnknownKey);
        };
        if !passed(state.failed_at, self.failure_backoff(), now) {
            // A stale but known key still beats rejecting every notification until we may fetch.
            return known.ok_or(ValidationTokenError::JwksUnavailable(JwksError::BackingOff));
        }
        match self.fetch_into(&mut state, kind, now).await {
            Ok(()) => self
                .keys
                .read()
                .await
                .keys
                .get(kid)
                .cloned()
                .ok_or(ValidationTokenError::UnknownKey),
            Err(err) => known.ok_or(err),
        }
    }

    /// Fetches the set unless one is loaded, before any token asks for it.
    pub(super) async fn fetch_ahead(&self) {
        let mut state = self.fetch.lock().await;
        if self.keys.read().await.fetched_at.is_some() {
            return;
        }
        let now = self.clock.now();
        let _ = self.fetch_into(&mut state, Fetch::Ahead, now).await;
    }

    /// Starts the scheduled fetch in the background when it is due and no fetch is running.
    fn refresh_if_due(self: &Arc<Self>, now: Timestamp) {
        let Ok(mut state) = self.fetch.try_lock() else {
            return; // a fetch is running: it brings the fresh set
        };
        if state.scheduled_pending || !self.scheduled_due(&state, now) {
            return;
        }
        // Marked before the task runs, so a burst of tokens starts one fetch, not many.
        state.scheduled_pending = true;
        drop(state);
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            let mut state = cache.fetch.lock().await;
            state.scheduled_pending = false;
            let now = cache.clock.now();
            // Someone may have fetched meanwhile; failures are logged inside, and the keys
            // already known stay in use.
            if cache.scheduled_due(&state, now) {
                let _ = cache.fetch_into(&mut state, Fetch::Scheduled, now).await;
            }
        });
    }

    fn scheduled_due(&self, state: &FetchState, now: Timestamp) -> bool {
        passed(state.scheduled_at, self.refresh_every, now)
            && passed(state.failed_at, self.failure_backoff(), now)
    }

    fn failure_backoff(&self) -> Duration {
        FAILURE_BACKOFF.min(self.min_refresh_interval)
    }

    /// Fetches the set and replaces the cached one; a failure keeps the cached set.
    async fn fetch_into(
        &self,
        state: &mut FetchState,
        kind: Fetch,
        now: Timestamp,
    ) -> Result<(), ValidationTokenError> {
        if kind == Fetch::UnknownKid {
            state.refetched_at = Some(now);
        }
        match self.fetch_keys().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), reason = ?kind, "JWKS fetched");
                state.failed_at = None;
                if kind != Fetch::UnknownKid {
                    state.scheduled_at = Some(now);
                }
                *self.keys.write().await = KeySet {
                    keys,
                    fetched_at: Some(now),
                };
                Ok(())
            }
            Err(err) => {
                tracing::warn!(url = %self.url, error = %err, reason = ?kind, "JWKS fetch failed");
                if kind != Fetch::Ahead {
                    state.failed_at = Some(now);
                }
                Err(err)
            }
        }
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, Arc<DecodingKey>>, ValidationTokenError> {
        use ValidationTokenError::JwksUnavailable;
        // One attempt: the failure backoff above spaces the next one.
        let answer = exchange(self.http.get(&self.url), FETCH_TIMEOUT, MAX_JWKS_BYTES)
            .await
            .map_err(|e| JwksUnavailable(JwksError::Fetch(e)))?;
        if !answer.status.is_success() {
            return Err(JwksUnavailable(JwksError::Status(answer.status.as_u16())));
        }
        parse_jwks(&answer.body)
    }
}

/// One entry of a JWKS, read leniently: entries we cannot use are skipped, not fatal.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

/// Keeps only RSA signing keys with a `kid` (and, if an `alg` is named, RS256).
pub(super) fn parse_jwks(
    body: &[u8],
) -> Result<HashMap<String, Arc<DecodingKey>>, ValidationTokenError> {
    let doc: RawJwks = serde_json::from_slice(body)
        .map_err(|e| ValidationTokenError::JwksUnavailable(JwksError::NotAKeySet(e)))?;
    let mut keys = HashMap::new();
    for value in doc.keys {
        let Ok(jwk) = serde_json::from_value::<RawJwk>(value) else {
            continue;
        };
        let usable = jwk.kty.as_deref() == Some("RSA")
            && jwk.use_.as_deref().is_none_or(|u| u == "sig")
            && jwk.alg.as_deref().is_none_or(|a| a == "RS256");
        let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        if !usable {
            continue;
        }
        if let Ok(key) = DecodingKey::from_rsa_components(&n, &e) {
            keys.insert(kid, Arc::new(key));
        }
    }
    if keys.is_empty() {
        // Treat as a failed fetch so a broken answer never replaces a good cached set.
        return Err(ValidationTokenError::JwksUnavailable(
            JwksError::NoUsableKeys,
        ));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_rsa_signing_keys_with_kid() {
        let body = br#"{"keys":[
            {"kty":"RSA","use":"sig","kid":"good","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","kid":"no-use","n":"AQAB","e":"AQAB","x5c":["..."]},
            {"kty":"RSA","use":"enc","kid":"enc","n":"AQAB","e":"AQAB"},
            {"kty":"EC","use":"sig","kid":"ec","crv":"P-256","x":"AQAB","y":"AQAB"},
            {"kty":"RSA","use":"sig","kid":"hs","alg":"HS256","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","use":"sig","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","use":"sig","kid":"no-n","e":"AQAB"},
            "not an object"
        ]}"#;
        let keys = parse_jwks(body).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["good", "no-use"]);
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        let err = parse_jwks(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap_err();
        assert!(
            matches!(err, ValidationTokenError::JwksUnavailable(_)),
            "{err}"
        );
        let err = parse_jwks(b"<html>gateway timeout</html>").unwrap_err();
        assert!(err.to_string().contains("not a JSON Web Key Set"), "{err}");
    }
}
