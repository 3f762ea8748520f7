//! The state every part of the emulated connector shares: users and statistics, the two
//! secrets, where events go, the outage switch and the listener it works on.

use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use super::listener::Switch;
use super::model::State;
use super::webhook::{Verifier, WebhookSecret};
use crate::Clock;

/// An answer as first given, replayed verbatim for a repeated webhook-id.
pub(crate) type Answer = (http::StatusCode, serde_json::Value);

/// How the connector fails, for outage scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outage {
    /// Working normally.
    None,
    /// Reachable, but every request gets 503 with Retry-After.
    Unavailable,
    /// The listener is closed (connection refused); `None` reopens it on the same port.
    NotListening,
}

impl FromStr for Outage {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "none" | "up" => Self::None,
            "unavailable" | "down" => Self::Unavailable,
            "notlistening" | "not-listening" | "off" => Self::NotListening,
            _ => anyhow::bail!(
                "unknown outage mode {s:?}; expected None, Unavailable or NotListening"
            ),
        })
    }
}

pub(crate) struct OutageState {
    pub mode: Outage,
    /// Bumped on every change, so an automatic recovery does not undo a later outage.
    pub generation: u64,
    pub recover_at: Option<tokio::time::Instant>,
}

pub(crate) struct Shared {
    pub clock: Clock,
    pub state: Mutex<State>,
    pub inbound: Verifier<Answer>,
    pub outbound: WebhookSecret,
    pub bridge_url: Mutex<Option<String>>,
    pub outage: Mutex<OutageState>,
    pub outage_watch: tokio::sync::watch::Sender<Outage>,
    pub switch: Arc<Switch>,
    pub http: reqwest::Client,
    /// Serialises call and status changes with their events, so the bridge sees them in order.
    pub calls: tokio::sync::Mutex<()>,
    /// Whether a status the user sets by hand sends `status.changed` (on by default).
    pub status_events: AtomicBool,
    /// Fault injection: call events are given up on without being sent (a connector whose
    /// retries ran out), so only the user list (contract 1.2 `speaking`) tells the bridge.
    pub lose_call_events: AtomicBool,
    /// How long every status PUT waits before it is applied and answered (a slow SwyxServer).
    pub answer_delay: Mutex<std::time::Duration>,
}
