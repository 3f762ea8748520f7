//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>), used in both directions of
//! the connector contract: `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.
//!
//! Replay protection by id is the receiver's job (it remembers accepted ids); this module checks
//! the MAC and the timestamp window only. Times are unix seconds, the unit of the header.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

const SECRET_PREFIX: &str = "whsec_";
/// Below 128 bits an HMAC key is guessable; the spec recommends 24–64 bytes.
const MIN_SECRET_BYTES: usize = 16;
/// A header with more entries than this is not a rotation, it is an attempt to make us work.
const MAX_SIGNATURES: usize = 16;

/// An HMAC signing secret, written `whsec_<base64>`. Never printed.
#[derive(Clone)]
pub struct WebhookSecret(hmac::Key, Vec<u8>);

impl WebhookSecret {
    /// Parses `whsec_<base64>`; rejects a missing prefix, bad base64 and keys under 16 bytes.
    pub fn parse(s: &str) -> Result<Self, SignatureError> {
        let b64 = s.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            SignatureError::BadSecret("a webhook secret must start with \"whsec_\"".into())
        })?;
        let bytes = B64.decode(b64).map_err(|_| {
            SignatureError::BadSecret("the part after \"whsec_\" is not valid base64".into())
        })?;
        Self::from_bytes(&bytes)
    }

    /// A secret from raw key bytes (at least 16).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignatureError> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SignatureError::BadSecret(format!(
                "a webhook secret needs at least {MIN_SECRET_BYTES} bytes of key, got {}",
                bytes.len()
            )));
        }
        Ok(Self(
            hmac::Key::new(hmac::HMAC_SHA256, bytes),
            bytes.to_vec(),
        ))
    }

    /// A fresh random 32-byte secret (for set-up tools and tests).
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes), bytes.to_vec())
    }

    /// The `whsec_<base64>` form, for writing into the connector's configuration. Deliberately
    /// not `Display`, so it never ends up in a log line by accident.
    pub fn expose_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(&self.1))
    }

    fn tag(&self, id: &str, timestamp_secs: i64, body: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp_secs.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        ctx.sign()
    }

    /// Constant-time check of one raw MAC.
    fn matches(&self, id: &str, timestamp_secs: i64, body: &[u8], mac: &[u8]) -> bool {
        let expected = self.tag(id, timestamp_secs, body);
        subtle::ConstantTimeEq::ct_eq(expected.as_ref(), mac).into()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl FromStr for WebhookSecret {
    type Err = SignatureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The three Standard Webhooks headers of one signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
}

impl SignedHeaders {
    /// Writes the three headers into `headers` (replacing any there).
    pub fn apply(&self, headers: &mut HeaderMap) {
        let pairs = [
            (HEADER_ID, self.id.clone()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ];
        for (name, value) in pairs {
            // Our own ids, digits and base64 are always valid header values; skip otherwise.
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }

    pub fn to_header_map(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        self.apply(&mut h);
        h
    }
}

/// The `webhook-signature` value (`v1,<base64>`) for one message.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    format!("v1,{}", B64.encode(secret.tag(id, timestamp_secs, body)))
}

/// A fresh message id: `msg_` + uuid v4 (no dots, so it cannot shift the signed content).
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// Signs body with a fresh id (uuid v4 prefixed "msg_") at `now_secs` (unix seconds).
pub fn signed_headers(secret: &WebhookSecret, body: &[u8], now_secs: i64) -> SignedHeaders {
    signed_headers_with_id(secret, &new_message_id(), body, now_secs)
}

/// Signs body under a given id, e.g. the same id again for a retry of one delivery.
pub fn signed_headers_with_id(
    secret: &WebhookSecret,
    id: &str,
    body: &[u8],
    now_secs: i64,
) -> SignedHeaders {
    let timestamp = now_secs;
    SignedHeaders {
        id: id.to_string(),
        timestamp,
        signature: sign(secret, id, timestamp, body),
    }
}

/// Checks signed requests against one or more secrets (several while a secret is rotated).
#[derive(Clone)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
    tolerance_secs: i64,
}

/// What a verified request said about itself; `id` is the key for replay protection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedMessage {
    pub id: String,
    pub timestamp: i64,
}

impl Verifier {
    /// Several secrets accepted during rotation; tolerance usually 5 min.
    pub fn new(secrets: Vec<WebhookSecret>, tolerance: Duration) -> Self {
        let tolerance_secs = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
        Self {
            secrets,
            tolerance_secs,
        }
    }

    /// Checks the headers against `body` at `now_secs` (unix seconds).
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now_secs: i64,
    ) -> Result<VerifiedMessage, SignatureError> {
        let id = header(headers, HEADER_ID)?;
        let ts_text = header(headers, HEADER_TIMESTAMP)?;
        let signatures = header(headers, HEADER_SIGNATURE)?;
        if id.is_empty() {
            return Err(SignatureError::BadHeader(HEADER_ID));
        }
        // Digits only: "+5" or " 5" would parse but be signed differently by the sender.
        if ts_text.is_empty() || !ts_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SignatureError::BadTimestamp);
        }
        let timestamp: i64 = ts_text.parse().map_err(|_| SignatureError::BadTimestamp)?;
        if now_secs.abs_diff(timestamp) > self.tolerance_secs.unsigned_abs() {
            return Err(SignatureError::StaleTimestamp);
        }
        let macs: Vec<Vec<u8>> = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .take(MAX_SIGNATURES)
            .filter_map(|b64| B64.decode(b64).ok())
            .collect();
        if macs.is_empty() {
            return Err(SignatureError::NoV1Signature);
        }
        let ok = self.secrets.iter().any(|secret| {
            macs.iter()
                .any(|mac| secret.matches(id, timestamp, body, mac))
        });
        if ok {
            Ok(VerifiedMessage {
                id: id.to_string(),
                timestamp,
            })
        } else {
            Err(SignatureError::NoMatch)
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &self.secrets.len())
            .field("tolerance_secs", &self.tolerance_secs)
            .finish()
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, SignatureError> {
    let value = headers
        .get(name)
        .ok_or(SignatureError::MissingHeader(name))?;
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| SignatureError::BadHeader(name))
}

/// Why a request's signature was not accepted (answer 401) or a secret could not be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {0} is empty or not visible ASCII")]
    BadHeader(&'static str),
    #[error("webhook-timestamp is not a number of unix seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is too old or too far in the future")]
    StaleTimestamp,
    #[error("webhook-signature has no \"v1,<base64>\" entry")]
    NoV1Signature,
    #[error("no signature in webhook-signature matches the body")]
    NoMatch,
    #[error("bad webhook secret: {0}")]
    BadSecret(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn spec_headers(sig: &str) -> HeaderMap {
        SignedHeaders {
            id: SPEC_ID.into(),
            timestamp: SPEC_TS,
            signature: sig.into(),
        }
        .to_header_map()
    }

    #[test]
    fn signs_the_standard_webhooks_example() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(sign(&secret, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
    }

    #[test]
    fn verifies_the_standard_webhooks_example() {
        let v = Verifier::new(vec![SPEC_SECRET.parse().unwrap()], Duration::from_secs(300));
        let msg = v
            .verify(&spec_headers(SPEC_SIG), SPEC_BODY, SPEC_TS + 299)
            .unwrap();
        assert_eq!(
            msg,
            VerifiedMessage {
                id: SPEC_ID.into(),
                timestamp: SPEC_TS
            }
        );
        assert_eq!(
            v.verify(&spec_headers(SPEC_SIG), SPEC_BODY, SPEC_TS + 301),
            Err(SignatureError::StaleTimestamp)
        );
    }

    #[test]
    fn bad_secrets_are_rejected_without_echoing_them() {
        for bad in [
            "",
            "whsec_",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!notbase64!!",
            "whsec_c2hvcnQ=",
        ] {
            let err = WebhookSecret::parse(bad).unwrap_err();
            assert!(
                matches!(err, SignatureError::BadSecret(_)),
                "{bad:?} gave {err:?}"
            );
            if bad.len() > 8 {
                assert!(
                    !err.to_string().contains(&bad[6..]),
                    "error echoes the secret: {err}"
                );
            }
        }
    }

    #[test]
    fn debug_output_hides_the_key() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
        let v = Verifier::new(vec![secret], Duration::from_secs(300));
        assert!(!format!("{v:?}").contains("MfKQ9r8G"));
    }

    #[test]
    fn generated_secret_round_trips_through_its_whsec_form() {
        let s = WebhookSecret::generate();
        let again = WebhookSecret::parse(&s.expose_whsec()).unwrap();
        assert_eq!(sign(&s, "msg_1", 1, b"x"), sign(&again, "msg_1", 1, b"x"));
    }

    #[test]
    fn signed_headers_use_fresh_msg_ids_and_seconds() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        let a = signed_headers(&secret, b"{}", 1_700_000_000);
        let b = signed_headers(&secret, b"{}", 1_700_000_000);
        assert!(a.id.starts_with("msg_") && a.id != b.id);
        assert_eq!(a.timestamp, 1_700_000_000);
        assert_eq!(a.signature, sign(&secret, &a.id, a.timestamp, b"{}"));
    }

    #[test]
    fn whitespace_around_the_header_values_is_not_part_of_them() {
        // HTTP allows optional whitespace around a field value; hyper strips it, other stacks
        // (or a proxy folding headers) may not. Found by the webhook_signature fuzz target.
        let v = Verifier::new(vec![SPEC_SECRET.parse().unwrap()], Duration::from_secs(300));
        let mut h = spec_headers(&format!("\t\t {SPEC_SIG} v1,bm90IGl0 \t"));
        h.insert(
            HEADER_ID,
            http::HeaderValue::from_str(&format!(" {SPEC_ID}\t")).unwrap(),
        );
        let msg = v.verify(&h, SPEC_BODY, SPEC_TS).unwrap();
        assert_eq!(msg.id, SPEC_ID);
        assert_eq!(
            v.verify(&spec_headers("\tv1,bm90IGl0"), SPEC_BODY, SPEC_TS),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn malformed_timestamps_and_signatures_are_named() {
        let v = Verifier::new(vec![SPEC_SECRET.parse().unwrap()], Duration::from_secs(300));
        let now = SPEC_TS;
        let mut h = spec_headers(SPEC_SIG);
        h.insert(HEADER_TIMESTAMP, http::HeaderValue::from_static("-5"));
        assert_eq!(
            v.verify(&h, SPEC_BODY, now),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            v.verify(&spec_headers("v2,abc"), SPEC_BODY, now),
            Err(SignatureError::NoV1Signature)
        );
        assert_eq!(
            v.verify(&spec_headers("v1,not-base64!"), SPEC_BODY, now),
            Err(SignatureError::NoV1Signature)
        );
    }
}
