//! The JWKS cache behind [`super::TokenValidator`]: lazy first fetch, one shared fetch for concurrent
//! callers, refresh on unknown `kid` rate-limited so forged kids cannot make us hammer the endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::{TokenError, TokenSettings};

/// Whole request, body included: a slow JWKS endpoint must not stall notification intake.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed fetch, wait at least this long (or `min_refresh_interval`, if shorter) before
/// trying again, so an outage does not turn every incoming token into a request.
const FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// Microsoft rotates keys and drops retired ones; re-read the set at least daily so a removed key
/// stops being trusted.
const MAX_KEY_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Microsoft's key sets are a few KiB; anything far larger is not a key set.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched_at: Option<Instant>,
}

impl KeySet {
    fn is_loaded(&self) -> bool {
        self.fetched_at.is_some()
    }

    fn is_stale(&self) -> bool {
        self.fetched_at.is_none_or(|at| at.elapsed() >= MAX_KEY_AGE)
    }
}

#[derive(Default)]
struct FetchState {
    /// Last fetch made while a key set was already loaded (the rate-limited kind).
    last_refresh: Option<Instant>,
    /// Last failed fetch of any kind, cleared by a success.
    last_failure: Option<Instant>,
}

pub(super) struct JwksCache {
    url: String,
    http: reqwest::Client,
    min_refresh_interval: Duration,
    keys: RwLock<KeySet>,
    /// Held across a fetch: concurrent callers queue here and then find the fresh keys.
    fetch: Mutex<FetchState>,
}

impl JwksCache {
    pub(super) fn new(settings: &TokenSettings, http: reqwest::Client) -> Self {
        Self {
            url: settings.jwks_url.clone(),
            http,
            min_refresh_interval: settings.min_refresh_interval,
            keys: RwLock::new(KeySet::default()),
            fetch: Mutex::new(FetchState::default()),
        }
    }

    /// The verification key for `kid`, fetching or refreshing the set when needed and allowed.
    pub(super) async fn key_for(&self, kid: &str) -> Result<Arc<DecodingKey>, TokenError> {
        if let Some(key) = self.fresh_key(kid).await {
            return Ok(key);
        }
        let mut state = self.fetch.lock().await;
        // Another caller may have fetched while we queued for the lock.
        if let Some(key) = self.fresh_key(kid).await {
            return Ok(key);
        }
        let (loaded, known) = {
            let set = self.keys.read().await;
            (set.is_loaded(), set.keys.get(kid).cloned())
        };

        if !self.may_fetch(&state, loaded) {
            // A stale but known key still beats rejecting every notification until we may refetch.
            return match known {
                Some(key) => Ok(key),
                None if state.last_failure.is_some() => Err(TokenError::JwksUnavailable(
                    "the last JWKS fetch failed; not retrying yet".into(),
                )),
                None => Err(TokenError::UnknownKey),
            };
        }

        let now = Instant::now();
        if loaded {
            state.last_refresh = Some(now);
        }
        match self.fetch_keys().await {
            Ok(keys) => {
                state.last_failure = None;
                tracing::info!(url = %self.url, keys = keys.len(), "JWKS fetched");
                let found = keys.get(kid).cloned();
                *self.keys.write().await = KeySet {
                    keys,
                    fetched_at: Some(Instant::now()),
                };
                found.ok_or(TokenError::UnknownKey)
            }
            Err(err) => {
                state.last_failure = Some(now);
                tracing::warn!(url = %self.url, error = %err, "JWKS fetch failed");
                known.ok_or(err)
            }
        }
    }

    async fn fresh_key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        let set = self.keys.read().await;
        if set.is_stale() {
            return None;
        }
        set.keys.get(kid).cloned()
    }

    fn may_fetch(&self, state: &FetchState, loaded: bool) -> bool {
        let passed = |at: Option<Instant>, wait: Duration| at.is_none_or(|t| t.elapsed() >= wait);
        let backoff = FAILURE_BACKOFF.min(self.min_refresh_interval);
        // The lazy first load is free; only refreshes of a loaded set count against the interval.
        passed(state.last_failure, backoff)
            && (!loaded || passed(state.last_refresh, self.min_refresh_interval))
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, Arc<DecodingKey>>, TokenError> {
        let unavailable = |what: String| TokenError::JwksUnavailable(what);
        let response = self
            .http
            .get(&self.url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| unavailable(format!("request failed: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unavailable(format!("endpoint answered HTTP {status}")));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err(unavailable("response too large for a key set".into()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(format!("reading the body failed: {e}")))?;
        parse_jwks(&body)
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
pub(super) fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, TokenError> {
    let doc: RawJwks = serde_json::from_slice(body)
        .map_err(|_| TokenError::JwksUnavailable("response is not a JSON Web Key Set".into()))?;
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
        return Err(TokenError::JwksUnavailable(
            "key set has no usable RSA signing keys".into(),
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
        assert!(matches!(err, TokenError::JwksUnavailable(_)), "{err}");
        let err = parse_jwks(b"<html>gateway timeout</html>").unwrap_err();
        assert!(err.to_string().contains("not a JSON Web Key Set"), "{err}");
    }
}
