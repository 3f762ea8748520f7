//! The webhook context the notification and validation-token targets share: the constants the
//! seeds were made with (fuzz/seed_corpora.py) and the test fixtures' keys, so that a seed's
//! validation token verifies and its encrypted content decrypts.

use presence_bridge::domain::Timestamp;
use presence_bridge::fuzzing::{Webhook, WebhookSetup};

pub const APP_ID: &str = "8e1f5b2a-0000-4000-8000-00000000f022";
pub const TENANT: &str = "a1b2c3d4-0000-4000-8000-00000000aaaa";
/// 2026-09-14T09:00:00Z: the clock stands still here, within the seed tokens' life.
const NOW_MS: i64 = 1_789_376_400_000;
const CLIENT_STATE: &str = "vector-client-state";

pub fn webhook() -> Webhook {
    let subscriptions: Vec<String> = ["002048", "004096"]
        .iter()
        .flat_map(|bits| (0..5).map(move |i| format!("5f0e2c1a-0000-4000-8000-{bits}00000{i}")))
        .collect();
    let subscriptions: Vec<(&str, &str)> = subscriptions
        .iter()
        .map(|id| (id.as_str(), CLIENT_STATE))
        .collect();
    Webhook::new(&WebhookSetup {
        app_id: APP_ID,
        tenant_id: TENANT,
        now: Timestamp(NOW_MS),
        jwks: include_bytes!("../../fixtures/jwks.json"),
        decryption_keys: &[
            (
                "vector-cert-2048",
                include_bytes!("../../../tests/fixtures/crypto/key2048.pkcs8.pem"),
            ),
            (
                "vector-cert-4096",
                include_bytes!("../../../tests/fixtures/crypto/key4096.pkcs8.pem"),
            ),
        ],
        subscriptions: &subscriptions,
    })
}
