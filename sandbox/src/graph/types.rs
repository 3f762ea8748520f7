//! The emulator's public value types: timing knobs, presence, subscription and session views,
//! statistics.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Real-time limits of the emulator (not on the sandbox clock, except `retry_window`). Defaults are
/// Graph's; tests shorten them to stay fast.
#[derive(Clone, Debug)]
pub struct GraphTiming {
    /// The validation handshake must be answered within this (Graph: 10 s).
    pub validation_timeout: Duration,
    /// A notification POST waits at most this; longer counts as slow and is retried (Graph: 3 s).
    pub delivery_timeout: Duration,
    /// First retry delay; doubles per attempt (Graph-like: 1 s).
    pub retry_base: Duration,
    /// Longest retry delay (60 s).
    pub retry_cap: Duration,
    /// Undelivered notifications are dropped after this much sandbox time (Graph: 4 h).
    pub retry_window: Duration,
    /// The device-code flow's poll interval (Entra: 5 s). Below one second the devicecode answer
    /// says `"interval": 0`, which Entra never sends: tests use it to sign in quickly.
    pub device_poll_interval: Duration,
    /// How much later than made a subscription create is answered (real time; Graph: up to two
    /// 10 s validations). The subscription exists before the answer leaves.
    pub create_answer_delay: Duration,
}

impl Default for GraphTiming {
    fn default() -> Self {
        Self {
            validation_timeout: Duration::from_secs(10),
            delivery_timeout: Duration::from_secs(3),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(60),
            retry_window: Duration::from_secs(4 * 3600),
            device_poll_interval: Duration::from_secs(5),
            create_answer_delay: Duration::ZERO,
        }
    }
}

/// A user's aggregated presence as Graph shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    pub availability: String,
    pub activity: String,
    pub out_of_office: bool,
    /// Lexicographically sortable; grows on every change of the aggregated presence.
    pub sequence_number: String,
}

/// A live subscription (without its client state).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: String,
    pub resource: String,
    pub user_ids: Vec<String>,
    pub expiration_ms: i64,
    pub expiration_date_time: String,
    pub creator_id: String,
    pub application_id: String,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub include_resource_data: bool,
    pub encryption_certificate_id: Option<String>,
    pub notifications_queued: u64,
    pub notifications_delivered: u64,
    pub lifecycle_queued: u64,
}

/// An application presence session (`setPresence`) of a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSessionView {
    pub session_id: String,
    pub availability: String,
    pub activity: String,
    pub expires_ms: i64,
    pub expiration_date_time: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphStats {
    /// Change notifications answered 2xx.
    pub notifications_delivered: u64,
    /// Lifecycle notifications answered 2xx.
    pub lifecycle_delivered: u64,
    /// Delivery POSTs that failed (non-2xx, timeout, connection error).
    pub notifications_failed: u64,
    /// Delivery POSTs that were retries.
    pub notifications_retried: u64,
    /// Notifications given up after the retry window.
    pub notifications_dropped: u64,
    /// Delivery POSTs not answered within the delivery timeout (3 s).
    pub slow_answers: u64,
    pub delivery_posts: u64,
    pub validation_requests: u64,
    /// "METHOD /route/{template}" → count, for every request that matched a route.
    pub requests_by_route: BTreeMap<String, u64>,
    pub throttled_429: u64,
    pub outage_503: u64,
    pub set_presence_calls: u64,
    pub clear_presence_calls: u64,
    pub set_preferred_calls: u64,
    pub clear_preferred_calls: u64,
}
