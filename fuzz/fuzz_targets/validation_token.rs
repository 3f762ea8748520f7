//! One validation token (the JWT Graph puts in `validationTokens`), checked as the webhook checks
//! each: header and algorithm, unsigned claims, key from the (preloaded) JWKS, RS256 signature,
//! audience, publisher, issuer, tenant and expiry on a frozen clock.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use presence_bridge::fuzzing::Webhook;
use std::sync::LazyLock;

static WEBHOOK: LazyLock<Webhook> = LazyLock::new(common::webhook);

fuzz_target!(|token: &[u8]| {
    // The collection's tokens are JSON strings: never anything but UTF-8.
    if let Ok(token) = std::str::from_utf8(token) {
        WEBHOOK.validation_token(token);
    }
});
