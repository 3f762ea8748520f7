//! A POSTed notification collection as the Graph webhook handles it: parse (item cap), the
//! validation tokens, then per item the authenticity checks and the decryption of
//! `encryptedContent` (the seeds carry tokens and content made with the fixtures' keys).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use presence_bridge::fuzzing::Webhook;
use std::sync::LazyLock;

static WEBHOOK: LazyLock<Webhook> = LazyLock::new(common::webhook);

fuzz_target!(|body: &[u8]| {
    WEBHOOK.notification_collection(body);
});
