//! The Standard Webhooks verifier on its own: rotation, timestamps, headers, tampering.

use super::secret;
use http::{HeaderMap, HeaderValue};
use presence_bridge::domain::Timestamp;
use presence_bridge::swyx::signature::{
    SignatureError, SignedHeaders, Verifier, WebhookSecret, sign, signed_headers,
};
use std::time::Duration;

fn now() -> Timestamp {
    Timestamp::from_secs(1_800_000_000)
}

fn verifier(secrets: Vec<WebhookSecret>) -> Verifier {
    Verifier::new(secrets, Duration::from_secs(300))
}

#[test]
fn rotation_accepts_the_old_and_the_new_secret() {
    let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
    let v = verifier(vec![old.clone(), new.clone()]);
    for s in [&old, &new] {
        let h = signed_headers(s, b"{}", now().secs()).to_header_map();
        assert!(v.verify(&h, b"{}", now().secs()).is_ok());
    }
    let h = signed_headers(&WebhookSecret::generate(), b"{}", now().secs()).to_header_map();
    assert_eq!(
        v.verify(&h, b"{}", now().secs()),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let s = secret();
    let v = verifier(vec![s.clone()]);
    for offset in [-301, 301] {
        let h = signed_headers(&s, b"{}", now().plus_millis(offset * 1000).secs()).to_header_map();
        assert_eq!(
            v.verify(&h, b"{}", now().secs()),
            Err(SignatureError::StaleTimestamp),
            "offset {offset}s"
        );
    }
    let h = signed_headers(&s, b"{}", now().plus_millis(-299_000).secs()).to_header_map();
    assert!(v.verify(&h, b"{}", now().secs()).is_ok());
}

#[test]
fn each_missing_header_is_named() {
    let s = secret();
    let v = verifier(vec![s.clone()]);
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut h = signed_headers(&s, b"{}", now().secs()).to_header_map();
        h.remove(name);
        let err = v.verify(&h, b"{}", now().secs()).unwrap_err();
        assert_eq!(err, SignatureError::MissingHeader(name));
        assert!(err.to_string().contains(name));
    }
}

#[test]
fn a_tampered_body_or_id_does_not_verify() {
    let s = secret();
    let v = verifier(vec![s.clone()]);
    let signed = signed_headers(&s, br#"{"swyxUserId":"1001"}"#, now().secs());
    let h = signed.to_header_map();
    assert_eq!(
        v.verify(&h, br#"{"swyxUserId":"1002"}"#, now().secs()),
        Err(SignatureError::NoMatch)
    );
    let mut other_id = h.clone();
    other_id.insert("webhook-id", HeaderValue::from_static("msg_other"));
    assert_eq!(
        v.verify(&other_id, br#"{"swyxUserId":"1001"}"#, now().secs()),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn any_matching_entry_of_a_multi_signature_header_verifies() {
    let s = secret();
    let v = verifier(vec![s.clone()]);
    let ts = now().secs();
    let good = sign(&s, "msg_1", ts, b"{}");
    let bad = sign(&WebhookSecret::generate(), "msg_1", ts, b"{}");
    let headers = |sig: String| -> HeaderMap {
        SignedHeaders {
            id: "msg_1".into(),
            timestamp: ts,
            signature: sig,
        }
        .to_header_map()
    };
    let msg = v
        .verify(
            &headers(format!("{bad} v1a,ignored {good}")),
            b"{}",
            now().secs(),
        )
        .unwrap();
    assert_eq!((msg.id.as_str(), msg.timestamp), ("msg_1", ts));
    assert_eq!(
        v.verify(&headers(format!("{bad} {bad}")), b"{}", now().secs()),
        Err(SignatureError::NoMatch)
    );
}
