//! The in-process handle of the emulated connector: start it, find its URL, set up users
//! (names, addresses, groups), switch outages, read statistics. Calls and hand-set statuses, which
//! send events to the bridge, are in `emulator_events.rs`.

use anyhow::Context as _;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::connector;
use super::listener::{Switch, SwitchListener};
use super::model::{
    OwnStatus, SentEvent, State, SwyxStats, SwyxUserView, User, check_swyx_user_id,
};
use super::shared::{Outage, OutageState, Shared};
use super::webhook::{Verifier, WebhookSecret};
use crate::Clock;
use crate::sync::lock;

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

/// In-process handle to the emulator; clones share it. The server stops when the last clone drops.
#[derive(Clone)]
pub struct SwyxEmulator {
    pub(super) shared: Arc<Shared>,
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
            status_events: AtomicBool::new(true),
            lose_call_events: AtomicBool::new(false),
            answer_delay: Mutex::new(Duration::ZERO),
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
    /// An id the contract does not allow is refused with a warning (see [`Self::try_add_user`]).
    pub fn add_user(&self, swyx_user_id: &str, name: &str, email: &str) {
        if let Err(e) = self.try_add_user(swyx_user_id, name, email, &[]) {
            tracing::warn!(error = %e, "swyx: user not added");
        }
    }

    /// Adds (or renames, regroups) a user; the id must be a contract `SwyxUserId`.
    pub fn try_add_user(
        &self,
        swyx_user_id: &str,
        name: &str,
        email: &str,
        groups: &[String],
    ) -> anyhow::Result<()> {
        check_swyx_user_id(swyx_user_id).map_err(|e| anyhow::anyhow!(e))?;
        let email = Some(email.trim())
            .filter(|e| !e.is_empty())
            .map(str::to_string);
        let mut st = lock(&self.shared.state);
        let user = st
            .users
            .entry(swyx_user_id.to_string())
            .or_insert_with(|| User {
                name: String::new(),
                email: None,
                groups: Vec::new(),
                own: OwnStatus::Available,
                teams: None,
                calls: vec![],
                speaking_call: None,
            });
        user.name = name.to_string();
        user.email = email;
        user.groups = groups.to_vec();
        Ok(())
    }

    /// Changes what is given of a user's name, e-mail address (`Some(None)` removes it) and groups.
    pub fn update_user(
        &self,
        user: &str,
        name: Option<&str>,
        email: Option<Option<&str>>,
        groups: Option<&[String]>,
    ) -> anyhow::Result<()> {
        let mut st = lock(&self.shared.state);
        let u = st.users.get_mut(user).ok_or_else(|| unknown(user))?;
        if let Some(n) = name {
            u.name = n.to_string();
        }
        if let Some(e) = email {
            u.email = e
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string);
        }
        if let Some(g) = groups {
            u.groups = g.to_vec();
        }
        Ok(())
    }

    /// Removes a user (the connector then answers 404 for it).
    pub fn remove_user(&self, user: &str) -> anyhow::Result<()> {
        lock(&self.shared.state)
            .users
            .remove(user)
            .map(|_| ())
            .ok_or_else(|| unknown(user))
    }

    /// Whether a status the user sets by hand sends `status.changed` to the bridge (default on).
    pub fn set_status_events(&self, on: bool) {
        self.shared.status_events.store(on, Ordering::SeqCst);
    }

    /// Fault injection: while on, `speaking.*` events are given up on unsent (logged as not
    /// delivered), as by a connector whose retries ran out; the user list still tells the truth.
    pub fn set_lose_call_events(&self, on: bool) {
        self.shared.lose_call_events.store(on, Ordering::SeqCst);
    }

    /// Every status PUT waits `delay` before it is applied and answered (a slow SwyxServer);
    /// `Duration::ZERO` answers at once again.
    pub fn set_answer_delay(&self, delay: Duration) {
        *lock(&self.shared.answer_delay) = delay;
    }

    pub fn status_events(&self) -> bool {
        self.shared.status_events.load(Ordering::SeqCst)
    }

    pub fn user(&self, user: &str) -> Option<SwyxUserView> {
        lock(&self.shared.state).view(user)
    }

    /// All users, ordered by id.
    pub fn users(&self) -> Vec<SwyxUserView> {
        let st = lock(&self.shared.state);
        st.users.keys().filter_map(|id| st.view(id)).collect()
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

pub(super) fn unknown(user: &str) -> anyhow::Error {
    anyhow::anyhow!("no Swyx user {user:?}")
}
