//! An emulated SwyxServer with its connector: users with their own status, a Teams-derived status
//! slot the bridge sets over the connector contract (PRODUCT.md §4,
//! `infra/connector-openapi.yaml`), and calls that make a user "Speaking" and send signed events
//! to the bridge. See [`model`] for the rule that decides what SwyxIt! shows.

mod connector;
mod events;
mod listener;
pub mod model;
pub mod webhook;

pub use model::{
    EffectiveStatus, OwnStatus, SentEvent, SwyxStats, SwyxUserView, TeamsPresence, TeamsSlotView,
    TeamsStatus,
};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Clock;
use connector::Answer;
use listener::{Switch, SwitchListener};
use model::{State, User};
use webhook::{Verifier, WebhookSecret, lock};

pub struct SwyxOptions {
    /// `whsec_…` the bridge signs its requests with.
    pub inbound_secret: String,
    /// `whsec_…` the emulator signs its events with.
    pub outbound_secret: String,
    /// Full URL of the bridge's event endpoint, e.g. `http://127.0.0.1:8080/swyx/events`.
    pub bridge_events_url: Option<String>,
    pub clock: Clock,
}

impl fmt::Debug for SwyxOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwyxOptions")
            .field("inbound_secret", &"***")
            .field("outbound_secret", &"***")
            .field("bridge_events_url", &self.bridge_events_url)
            .finish()
    }
}

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
    mode: Outage,
    /// Bumped on every change, so an automatic recovery does not undo a later outage.
    generation: u64,
    recover_at: Option<tokio::time::Instant>,
}

pub(crate) struct Shared {
    clock: Clock,
    state: Mutex<State>,
    inbound: Verifier<Answer>,
    outbound: WebhookSecret,
    bridge_url: Mutex<Option<String>>,
    outage: Mutex<OutageState>,
    outage_watch: tokio::sync::watch::Sender<Outage>,
    switch: Arc<Switch>,
    http: reqwest::Client,
    /// Serialises call changes with their events, so the bridge sees them in order.
    calls: tokio::sync::Mutex<()>,
}

/// In-process handle to the emulator; clones share it. The server stops when the last clone drops.
#[derive(Clone)]
pub struct SwyxEmulator {
    shared: Arc<Shared>,
    _server: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SwyxEmulator {
    /// Starts the connector on 127.0.0.1 with a free port.
    pub async fn start(opts: SwyxOptions) -> anyhow::Result<Self> {
        Self::start_on(opts, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the connector on a given address (port 0 = any free one).
    pub async fn start_on(opts: SwyxOptions, addr: SocketAddr) -> anyhow::Result<Self> {
        let inbound = WebhookSecret::parse(&opts.inbound_secret).context("inbound_secret")?;
        let outbound = WebhookSecret::parse(&opts.outbound_secret).context("outbound_secret")?;
        let switch =
            Switch::bind(addr).with_context(|| format!("binding the Swyx connector to {addr}"))?;
        let http = reqwest::Client::builder()
            .no_proxy() // the bridge runs next to the sandbox; a proxy from the environment would only get in the way
            .build()
            .context("building the HTTP client")?;
        let shared = Arc::new(Shared {
            clock: opts.clock,
            state: Mutex::new(State::default()),
            inbound: Verifier::new(inbound),
            outbound,
            bridge_url: Mutex::new(opts.bridge_events_url),
            outage: Mutex::new(OutageState {
                mode: Outage::None,
                generation: 0,
                recover_at: None,
            }),
            outage_watch: tokio::sync::watch::Sender::new(Outage::None),
            switch: switch.clone(),
            http,
            calls: tokio::sync::Mutex::new(()),
        });
        let app = connector::router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(SwitchListener(switch), app).await {
                tracing::error!(error = %e, "swyx connector stopped");
            }
        });
        Ok(Self {
            shared,
            _server: Arc::new(AbortOnDrop(server)),
        })
    }

    /// The connector's base URL (the bridge's `base_url`), e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.switch.addr())
    }

    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    pub fn set_bridge_events_url(&self, url: &str) {
        *lock(&self.shared.bridge_url) = Some(url.to_string());
    }

    /// Adds (or renames) a user; a new user starts Available with no calls. Empty email = none.
    pub fn add_user(&self, swyx_user_id: &str, name: &str, email: &str) {
        let email = Some(email.trim())
            .filter(|e| !e.is_empty())
            .map(str::to_string);
        let mut st = lock(&self.shared.state);
        if let Some(u) = st.users.get_mut(swyx_user_id) {
            u.name = name.to_string();
            u.email = email;
        } else {
            st.users.insert(
                swyx_user_id.to_string(),
                User {
                    name: name.to_string(),
                    email,
                    own: OwnStatus::Available,
                    teams: None,
                    calls: vec![],
                    speaking_call: None,
                },
            );
        }
    }

    /// What the Swyx user set by hand. Unknown users are ignored (see [`Self::try_set_own_status`]).
    pub fn set_own_status(&self, user: &str, status: OwnStatus) {
        let _ = self.try_set_own_status(user, status);
    }

    pub fn try_set_own_status(&self, user: &str, status: OwnStatus) -> anyhow::Result<()> {
        let mut st = lock(&self.shared.state);
        let u = st.users.get_mut(user).ok_or_else(|| unknown(user))?;
        u.own = status;
        Ok(())
    }

    pub fn user(&self, user: &str) -> Option<SwyxUserView> {
        lock(&self.shared.state).view(user)
    }

    /// All users, ordered by id.
    pub fn users(&self) -> Vec<SwyxUserView> {
        let st = lock(&self.shared.state);
        st.users.keys().filter_map(|id| st.view(id)).collect()
    }

    /// Starts a call; the user's first active call sends `speaking.started` (if a bridge URL is
    /// set) and returns after its delivery finished or gave up (see [`Self::events_log`]).
    /// Further overlapping calls send nothing: the user is already speaking.
    pub async fn start_call(&self, user: &str) -> anyhow::Result<String> {
        let _order = self.shared.calls.lock().await;
        let call_id = format!("c-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let first = {
            let mut st = lock(&self.shared.state);
            let u = st.users.get_mut(user).ok_or_else(|| unknown(user))?;
            u.calls.push(call_id.clone());
            if u.calls.len() == 1 {
                u.speaking_call = Some(call_id.clone());
            }
            u.calls.len() == 1
        };
        if first {
            self.send_event("speaking.started", user, &call_id).await;
        }
        Ok(call_id)
    }

    /// Ends a call; ending the user's last active call sends `speaking.ended`, with the id of the
    /// call that started the speaking period (the one `speaking.started` named).
    pub async fn end_call(&self, user: &str, call_id: &str) -> anyhow::Result<()> {
        let _order = self.shared.calls.lock().await;
        let ended = {
            let mut st = lock(&self.shared.state);
            let u = st.users.get_mut(user).ok_or_else(|| unknown(user))?;
            let pos = u.calls.iter().position(|c| c == call_id).ok_or_else(|| {
                anyhow::anyhow!("Swyx user {user:?} has no active call {call_id:?}")
            })?;
            u.calls.remove(pos);
            if u.calls.is_empty() {
                u.speaking_call.take().or_else(|| Some(call_id.to_string()))
            } else {
                None
            }
        };
        if let Some(opened_by) = ended {
            self.send_event("speaking.ended", user, &opened_by).await;
        }
        Ok(())
    }

    async fn send_event(&self, event_type: &str, user: &str, call_id: &str) {
        let url = lock(&self.shared.bridge_url).clone();
        if let Some(url) = url {
            events::deliver(&self.shared, &url, event_type, user, call_id).await;
        }
    }

    /// Changes the outage mode now; a failure to listen again is logged (see [`Self::try_set_outage`]).
    pub fn set_outage(&self, mode: Outage) {
        if let Err(e) = self.try_set_outage(mode) {
            tracing::error!(error = %e, "swyx connector: outage change failed");
        }
    }

    pub fn try_set_outage(&self, mode: Outage) -> anyhow::Result<()> {
        self.change_outage(mode, None).map(|_| ())
    }

    /// An outage that ends by itself (back to `Outage::None`) after `recover_after` real time.
    pub fn set_outage_for(&self, mode: Outage, recover_after: Duration) -> anyhow::Result<()> {
        let generation = self.change_outage(mode, Some(recover_after))?;
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(recover_after).await;
            let current = lock(&me.shared.outage).generation;
            if current == generation {
                me.set_outage(Outage::None);
            }
        });
        Ok(())
    }

    pub fn outage(&self) -> Outage {
        lock(&self.shared.outage).mode
    }

    /// Follows outage changes (e.g. to await an automatic recovery without polling).
    pub fn watch_outage(&self) -> tokio::sync::watch::Receiver<Outage> {
        self.shared.outage_watch.subscribe()
    }

    fn change_outage(&self, mode: Outage, lasts: Option<Duration>) -> anyhow::Result<u64> {
        let mut o = lock(&self.shared.outage);
        match mode {
            Outage::NotListening => self.shared.switch.close(),
            Outage::None | Outage::Unavailable => self
                .shared
                .switch
                .reopen()
                .with_context(|| format!("listening again on {}", self.shared.switch.addr()))?,
        }
        o.mode = mode;
        o.generation += 1;
        o.recover_at = lasts.map(|d| tokio::time::Instant::now() + d);
        self.shared.outage_watch.send_replace(mode);
        tracing::info!(
            ?mode,
            listening = self.shared.switch.is_listening(),
            "swyx connector outage mode"
        );
        Ok(o.generation)
    }

    pub fn stats(&self) -> SwyxStats {
        lock(&self.shared.state).stats.clone()
    }

    pub fn events_log(&self) -> Vec<SentEvent> {
        lock(&self.shared.state).events.clone()
    }
}

fn unknown(user: &str) -> anyhow::Error {
    anyhow::anyhow!("no Swyx user {user:?}")
}
