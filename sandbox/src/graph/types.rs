//! The emulator's public value types: timing knobs, presence, subscription and session views,
//! statistics. Plain data, importing nothing else of the emulator, so every layer can use them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Real-time limits of the emulator (not on the sandbox clock, except `retry_window`). Defaults are
/// Graph's; tests shorten them to stay fast.
#[derive(Clone, Debug)]
pub struct GraphTiming {
    /// The validation handshake must be answered within this (Graph: 10 s).
    pub validation_timeout: Duration,
    /// A first notification POST waits at most this; longer counts as slow and is retried
    /// (Graph: 3 s). It is also the "slow answer" limit of the slow-endpoint rules.
    pub delivery_timeout: Duration,
    /// A retried notification POST waits at most this (Graph: 10 s). An answer that reaches it is
    /// a timeout for the slow-endpoint rules.
    pub retry_timeout: Duration,
    /// First retry delay; doubles per attempt (Graph-like: 1 s).
    pub retry_base: Duration,
    /// Longest retry delay (60 s).
    pub retry_cap: Duration,
    /// Undelivered notifications are dropped after this much sandbox time (Graph: 4 h).
    pub retry_window: Duration,
    /// The device-code flow's poll interval (Entra: 5 s). Below one second the devicecode answer
    /// says `"interval": 0`, which Entra never sends: tests use it to sign in quickly.
    pub device_poll_interval: Duration,
    /// When Graph delays or drops notifications to a slow endpoint.
    pub slow_endpoint: SlowEndpointRules,
}

impl Default for GraphTiming {
    fn default() -> Self {
        Self {
            validation_timeout: Duration::from_secs(10),
            delivery_timeout: Duration::from_secs(3),
            retry_timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(60),
            retry_window: Duration::from_secs(4 * 3600),
            device_poll_interval: Duration::from_secs(5),
            slow_endpoint: SlowEndpointRules::default(),
        }
    }
}

/// Graph's throttling of slow notification endpoints
/// (<https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks#throttling>):
/// more than 10 % of the answers in a 10-minute window slower than the delivery timeout (3 s)
/// delays new notifications by 10 minutes; more than 15 % reaching the retry timeout (10 s) drops
/// them for 10 minutes. Windows and penalties run on the sandbox clock; answer times are real.
#[derive(Clone, Debug)]
pub struct SlowEndpointRules {
    /// The sliding window the percentages are taken over (10 minutes).
    pub window: Duration,
    /// How long a delay or a drop lasts before the endpoint is evaluated again (10 minutes).
    pub penalty: Duration,
    /// Above this share of slow answers the endpoint is delayed (0.10).
    pub slow_share: f64,
    /// Above this share of timed-out answers the endpoint is dropped (0.15).
    pub timeout_share: f64,
    /// Fewer answers than this in the window are not judged. One version of Microsoft's page says
    /// the share is computed "after the endpoint receives 100 notifications"; the newer one gives
    /// no minimum. 100 keeps one slow answer in a test from delaying a whole suite.
    pub min_answers: u64,
}

impl Default for SlowEndpointRules {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(600),
            penalty: Duration::from_secs(600),
            slow_share: 0.10,
            timeout_share: 0.15,
            min_answers: 100,
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

/// Who set a user's preferred presence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum PreferredBy {
    /// The user, by hand in Teams (the scenario API's "teams USER STATUS").
    User,
    /// An application through Graph's `setUserPreferredPresence`.
    Application {
        #[serde(rename = "appId")]
        app_id: String,
    },
}

/// A user's preferred presence (the status chosen by hand, or set for them by an app).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferredPresenceView {
    pub availability: String,
    pub activity: String,
    pub expires_ms: i64,
    pub expiration_date_time: String,
    pub set_by: PreferredBy,
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

/// How Graph currently treats one notification endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EndpointState {
    #[default]
    Normal,
    /// New notifications wait for the penalty (10 minutes) before they are sent.
    Delayed,
    /// New notifications are dropped, unrecoverably, for the penalty.
    Dropping,
}

/// The slow-endpoint bookkeeping of one notification URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointStats {
    /// Every answer (or timeout) to a POST, since the start.
    pub answers: u64,
    /// Answers slower than the delivery timeout (3 s), since the start.
    pub slow_answers: u64,
    /// Answers that reached the retry timeout (10 s), since the start.
    pub timeouts: u64,
    /// Answers in the current window.
    pub window_answers: u64,
    /// Slow answers in the window, per mille of `window_answers`.
    pub slow_per_mille: u32,
    /// Timeouts in the window, per mille of `window_answers`.
    pub timeout_per_mille: u32,
    pub state: EndpointState,
    /// Sandbox-clock millis when a delay or drop is evaluated again.
    pub state_until_ms: Option<i64>,
    pub notifications_delayed: u64,
    pub notifications_dropped: u64,
}

impl EndpointStats {
    /// Share of slow answers in the window, in percent.
    pub fn slow_percent(&self) -> f64 {
        f64::from(self.slow_per_mille) / 10.0
    }

    /// Share of timed-out answers in the window, in percent.
    pub fn timeout_percent(&self) -> f64 {
        f64::from(self.timeout_per_mille) / 10.0
    }
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
    /// Notifications held back because their endpoint was slow (see [`SlowEndpointRules`]).
    pub notifications_delayed: u64,
    /// Notifications dropped because their endpoint was too slow.
    pub notifications_dropped_slow_endpoint: u64,
    /// Delivery POSTs not answered within the delivery timeout (3 s).
    pub slow_answers: u64,
    /// Delivery POSTs answered, by HTTP status (a timeout or refused connection is no answer).
    pub answers_by_status: BTreeMap<u16, u64>,
    pub delivery_posts: u64,
    pub validation_requests: u64,
    /// "METHOD /route/{template}" → count, for every request that matched a route (requests
    /// inside a `$batch` included, under their own route).
    pub requests_by_route: BTreeMap<String, u64>,
    /// "METHOD /route/{template}" → requests refused with 429.
    pub throttled_by_route: BTreeMap<String, u64>,
    pub throttled_429: u64,
    pub outage_503: u64,
    pub set_presence_calls: u64,
    pub clear_presence_calls: u64,
    pub set_preferred_calls: u64,
    pub clear_preferred_calls: u64,
    /// Subscription creates and renewals answered late on purpose.
    pub late_answers: u64,
    /// Slow-endpoint state per notification URL.
    pub endpoints: BTreeMap<String, EndpointStats>,
}

impl GraphStats {
    /// Requests that matched `route` ("GET /v1.0/users"), 0 if none.
    pub fn requests(&self, route: &str) -> u64 {
        self.requests_by_route.get(route).copied().unwrap_or(0)
    }

    /// Requests to the Graph API (`/v1.0/…`), without the login and discovery routes and without
    /// counting a `$batch` envelope on top of the requests inside it.
    pub fn graph_requests(&self) -> u64 {
        self.requests_by_route
            .iter()
            .filter(|(k, _)| k.contains(" /v1.0/") && !k.ends_with("/$batch"))
            .map(|(_, n)| n)
            .sum()
    }
}
