//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>), written here a second time
//! on purpose (the bridge has its own): `webhook-id`, `webhook-timestamp` (unix seconds),
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;

use crate::sync::lock;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The contract's tolerance, both directions of the clock.
pub const TOLERANCE_SECS: i64 = 5 * 60;
const PREFIX: &str = "whsec_";
/// Below 128 bits an HMAC key is guessable (the contract asks for at least 16 bytes).
const MIN_KEY_BYTES: usize = 16;
/// More entries than this is not a key rotation but an attempt to make us work.
const MAX_SIGNATURES: usize = 16;

/// A `whsec_<base64>` secret. Debug never shows the key.
#[derive(Clone)]
pub struct WebhookSecret(hmac::Key);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>`; the error names the problem, never the secret.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let Some(b64) = s.trim().strip_prefix(PREFIX) else {
            anyhow::bail!("a webhook secret must start with \"whsec_\"");
        };
        let key = B64.decode(b64).map_err(|_| {
            anyhow::anyhow!("the part of the webhook secret after \"whsec_\" is not valid base64")
        })?;
        if key.len() < MIN_KEY_BYTES {
            anyhow::bail!(
                "a webhook secret needs at least {MIN_KEY_BYTES} bytes of key, this one has {}",
                key.len()
            );
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &key)))
    }

    /// The `v1,<base64>` signature of one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = hmac::sign(&self.0, &signed_content(id, timestamp, body));
        format!("v1,{}", B64.encode(tag.as_ref()))
    }

    /// True if any `v1` entry of a space-separated signature header matches (constant time).
    fn matches(&self, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        let content = signed_content(id, timestamp, body);
        header
            .split(' ')
            .filter(|e| !e.is_empty())
            .take(MAX_SIGNATURES)
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|b64| B64.decode(b64).ok())
            .any(|tag| hmac::verify(&self.0, &content, &tag).is_ok())
    }
}

/// A fresh random 32-byte secret in `whsec_` form (for `presence-sandbox run`).
pub fn generate_secret() -> String {
    let key: [u8; 32] = rand::random();
    format!("{PREFIX}{}", B64.encode(key))
}

fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + body.len() + 24);
    content.extend_from_slice(format!("{id}.{timestamp}.").as_bytes());
    content.extend_from_slice(body);
    content
}

/// Why an incoming request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not unix seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than 5 minutes away from the connector's clock")]
    StaleTimestamp,
    #[error("no webhook-signature entry matches")]
    NoMatch,
}

/// Checks signatures and timestamps and remembers the ids it accepted (replay protection).
pub(crate) struct Verifier<R> {
    secret: WebhookSecret,
    /// Accepted ids and their answers; forgotten once outside the tolerance window, because a
    /// replay that old fails the timestamp check anyway.
    seen: Mutex<Seen<R>>,
}

/// Accepted id → (timestamp, the answer given), and the ids in the order they came, so that
/// forgetting the old ones costs only those (a scan of the whole map on every request made
/// 100,000 requests within the window quadratic).
struct Seen<R> {
    answers: HashMap<String, (i64, R)>,
    order: VecDeque<(i64, String)>,
}

impl<R: Clone> Verifier<R> {
    pub(crate) fn new(secret: WebhookSecret) -> Self {
        Self {
            secret,
            seen: Mutex::new(Seen {
                answers: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// Verifies one request at `now` (unix seconds). Ok(id) for a genuine request.
    pub(crate) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<String, VerifyError> {
        let id = header(headers, HEADER_ID)?;
        let ts: i64 = header(headers, HEADER_TIMESTAMP)?
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        let sig = header(headers, HEADER_SIGNATURE)?;
        if !self.secret.matches(id, ts, body, sig) {
            return Err(VerifyError::NoMatch);
        }
        // Checked after the MAC so a forger learns nothing about our clock.
        if (now - ts).abs() > TOLERANCE_SECS {
            return Err(VerifyError::StaleTimestamp);
        }
        Ok(id.to_string())
    }

    /// The answer given the first time this id was accepted, if it was.
    pub(crate) fn replayed(&self, id: &str) -> Option<R> {
        lock(&self.seen).answers.get(id).map(|(_, r)| r.clone())
    }

    /// Remembers the answer to an accepted id, so a replay gets the same answer and no effect.
    pub(crate) fn remember(&self, id: String, now: i64, answer: R) {
        let mut seen = lock(&self.seen);
        // Ids come in time order (a clock moved back keeps a few a little longer: harmless).
        while let Some((ts, _)) = seen.order.front()
            && now - *ts > 2 * TOLERANCE_SECS
        {
            if let Some((ts, old)) = seen.order.pop_front() {
                // Only the entry of that time: the id may have been accepted again since.
                if seen.answers.get(&old).is_some_and(|(t, _)| *t == ts) {
                    seen.answers.remove(&old);
                }
            }
        }
        seen.order.push_back((now, id.clone()));
        seen.answers.insert(id, (now, answer));
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(VerifyError::MissingHeader(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER_ID, id.parse().unwrap());
        h.insert(HEADER_TIMESTAMP, ts.to_string().parse().unwrap());
        h.insert(HEADER_SIGNATURE, sig.parse().unwrap());
        h
    }

    #[test]
    fn signs_the_standard_webhooks_example() {
        let s = WebhookSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(s.sign(SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
    }

    #[test]
    fn verifies_rotation_lists_and_refuses_tampering_and_stale_timestamps() {
        let v: Verifier<u16> = Verifier::new(WebhookSecret::parse(SPEC_SECRET).unwrap());
        let list = format!("v2,abc v1,AAAA {SPEC_SIG}");
        assert_eq!(
            v.verify(&headers(SPEC_ID, SPEC_TS, &list), SPEC_BODY, SPEC_TS + 299),
            Ok(SPEC_ID.into())
        );
        let h = headers(SPEC_ID, SPEC_TS, SPEC_SIG);
        assert_eq!(
            v.verify(&h, b"{\"test\": 1}", SPEC_TS),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            v.verify(&h, SPEC_BODY, SPEC_TS + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            v.verify(&h, SPEC_BODY, SPEC_TS - 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            v.verify(&HeaderMap::new(), SPEC_BODY, SPEC_TS),
            Err(VerifyError::MissingHeader(HEADER_ID))
        );
    }

    #[test]
    fn remembers_answers_for_replays() {
        let v: Verifier<u16> = Verifier::new(WebhookSecret::parse(SPEC_SECRET).unwrap());
        assert_eq!(v.replayed("msg_1"), None);
        v.remember("msg_1".into(), 100, 200);
        assert_eq!(v.replayed("msg_1"), Some(200));
        v.remember("msg_2".into(), 100 + 2 * TOLERANCE_SECS + 1, 409);
        assert_eq!(
            v.replayed("msg_1"),
            None,
            "ids older than the window are forgotten"
        );
    }

    #[test]
    fn bad_secrets_are_named_without_echoing_them() {
        let e = WebhookSecret::parse("nope").unwrap_err().to_string();
        assert!(e.contains("whsec_"));
        let e = WebhookSecret::parse("whsec_c2hvcnQ=")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 16 bytes") && !e.contains("c2hvcnQ"));
        assert!(WebhookSecret::parse("whsec_!!").is_err());
        let g = generate_secret();
        assert!(WebhookSecret::parse(&g).is_ok());
        assert_eq!(
            format!("{:?}", WebhookSecret::parse(&g).unwrap()),
            "WebhookSecret(***)"
        );
    }
}
