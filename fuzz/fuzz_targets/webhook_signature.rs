//! Standard Webhooks verification of a Swyx -> bridge event: the three headers and the body.
//! Input: `webhook-id`, `webhook-timestamp` and `webhook-signature` values on a line each, then
//! the body. Whatever verifies must be what was signed, and what is signed must verify.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use std::time::Duration;
use swyx_contract::signature::{
    HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Verifier, WebhookSecret, sign,
};

/// The seeds' clock and secret (fuzz/seed_corpora.py).
const NOW: i64 = 1_789_376_400;
const SECRET: &str = "whsec_ZnV6ei1zaWduaW5nLXNlY3JldC0zMi1ieXRlcy1vayE=";

static SIGNING: LazyLock<(WebhookSecret, Verifier)> = LazyLock::new(|| {
    let secret = WebhookSecret::parse(SECRET).expect("the target's secret");
    // A rotation in progress: an other secret accepted alongside.
    let other = WebhookSecret::parse("whsec_b3RoZXItc2lnbmluZy1zZWNyZXQtMzItYnl0ZXMh").unwrap();
    let again = WebhookSecret::parse(SECRET).unwrap();
    (
        secret,
        Verifier::new(vec![other, again], Duration::from_secs(300)),
    )
});

fuzz_target!(|data: &[u8]| {
    let (secret, verifier) = &*SIGNING;
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let (Some(id), Some(ts), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let body = parts.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (HEADER_ID, id),
        (HEADER_TIMESTAMP, ts),
        (HEADER_SIGNATURE, sig),
    ] {
        // Bytes no HTTP stack would deliver as a header value never reach the verifier.
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(name, value);
        }
    }
    if let Ok(verified) = verifier.verify(&headers, body, NOW) {
        assert!(NOW.abs_diff(verified.timestamp) <= 300);
        assert!(!verified.id.is_empty());
        // Only a signature of exactly this id, time and body can have matched.
        let expected = sign(secret, &verified.id, verified.timestamp, body);
        // Whitespace around a header value is not part of it (HTTP's optional whitespace).
        let sent = headers[HEADER_SIGNATURE].to_str().unwrap().trim();
        assert!(
            sent.split(' ').any(|s| s == expected),
            "{sent} lacks {expected}"
        );
    }
    // What the connector signs verifies. Its ids are ASCII (`msg_` + a UUID): a header value
    // with other bytes is refused by the verifier whatever it signs, rightly.
    if let Ok(id) = std::str::from_utf8(id)
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_graphic())
    {
        let signed = swyx_contract::signature::signed_headers_with_id(secret, id, body, NOW);
        assert!(verifier.verify(&signed.to_header_map(), body, NOW).is_ok());
    }
});
