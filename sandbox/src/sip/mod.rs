//! A stand-in for SwyxServer's SIP side: a registrar and presence server on loopback (UDP and TCP)
//! that a test drives. Accounts with digest passwords (REGISTER is challenged with 401), users
//! whose presence a test sets (logged on/off, active, away, donotdisturb), PIDF NOTIFYs with the
//! Swyx vendor element `<userstatus xmlns="http://sip.lanphone.de/presence/">`, and faults: a share
//! of UDP datagrams dropped, 481 to refreshes, `Subscription-State: terminated`, short expiries,
//! 403/404 for users the monitor may not watch.
//!
//! Written independently of the connector's SIP code (its own parser in [`wire`]), so each checks
//! the other. It models what third-party clients observed of SwyxServer, not a documented API.

mod net;
mod server;
pub mod wire;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// A user's presence as SwyxServer reports it in `<userstatus>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserPresence {
    LoggedOn,
    LoggedOff,
    /// Speaking (a call on any device).
    Active,
    Away,
    DoNotDisturb,
    /// Any other value, to test what the connector does with values it does not know.
    Other(String),
}

impl UserPresence {
    pub fn wire(&self) -> &str {
        match self {
            Self::LoggedOn => "logged on",
            Self::LoggedOff => "logged off",
            Self::Active => "active",
            Self::Away => "away",
            Self::DoNotDisturb => "donotdisturb",
            Self::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SipServerOptions {
    pub domain: String,
    /// SIP accounts allowed to register: (user, password).
    pub accounts: Vec<(String, String)>,
    pub max_register_expires: u32,
    pub max_subscribe_expires: u32,
}

impl Default for SipServerOptions {
    fn default() -> Self {
        Self {
            domain: "swyx.test".into(),
            accounts: vec![("monitor".into(), "monitor-secret".into())],
            max_register_expires: 3600,
            max_subscribe_expires: 3600,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipStats {
    pub registers: u64,
    pub register_challenges: u64,
    pub register_failures: u64,
    pub subscribes: u64,
    pub refreshes: u64,
    pub unsubscribes: u64,
    pub notifies_sent: u64,
    pub notify_retransmissions: u64,
    pub answered_481: u64,
    pub answered_403: u64,
    pub answered_404: u64,
    pub udp_dropped: u64,
    pub expired: u64,
}

#[derive(Debug, Clone)]
enum Route {
    Udp(SocketAddr),
    Tcp(u64),
}

#[derive(Debug, Clone)]
struct Dialog {
    watcher: String,
    watched: String,
    our_tag: String,
    their_from: String,
    contact: String,
    route: Route,
    expires_at: Instant,
    cseq: u32,
}

#[derive(Default)]
struct State {
    users: HashMap<String, UserPresence>,
    registered: HashMap<String, Instant>,
    dialogs: HashMap<String, Dialog>,
    forbidden: HashSet<(String, String)>,
    nonces: HashSet<String>,
    udp_drop_every: u64,
    udp_counter: u64,
    refresh_481: u32,
    stats: SipStats,
    conns: HashMap<u64, mpsc::Sender<Vec<u8>>>,
    pending: HashMap<String, oneshot::Sender<u16>>,
}

struct Inner {
    opts: SipServerOptions,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    udp: tokio::net::UdpSocket,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

/// The running stand-in; dropping the last clone stops it.
#[derive(Clone)]
pub struct SipServer {
    inner: Arc<Inner>,
    _tasks: Arc<net::Tasks>,
}

impl SipServer {
    /// Starts on 127.0.0.1, UDP and TCP on free ports.
    pub async fn start(opts: SipServerOptions) -> anyhow::Result<Self> {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let inner = Arc::new(Inner {
            udp_addr: udp.local_addr()?,
            tcp_addr: tcp.local_addr()?,
            opts,
            state: Mutex::default(),
            changed: watch::channel(0).0,
            udp,
        });
        let tasks = net::spawn(inner.clone(), tcp);
        Ok(Self {
            inner,
            _tasks: Arc::new(tasks),
        })
    }

    pub fn udp_addr(&self) -> SocketAddr {
        self.inner.udp_addr
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.inner.tcp_addr
    }

    pub fn domain(&self) -> &str {
        &self.inner.opts.domain
    }

    /// A user others may watch, starting with `presence`.
    pub fn add_user(&self, user: &str, presence: UserPresence) {
        self.inner.lock().users.insert(user.to_string(), presence);
        self.inner.bump();
    }

    /// `watcher` lacks the status signalling right for `user`: SUBSCRIBE gets 403.
    pub fn forbid(&self, watcher: &str, user: &str) {
        self.inner
            .lock()
            .forbidden
            .insert((watcher.to_string(), user.to_string()));
    }

    /// Changes a user's presence and notifies every subscriber (returns how many).
    pub fn set_presence(&self, user: &str, presence: UserPresence) -> usize {
        self.inner.lock().users.insert(user.to_string(), presence);
        self.inner.bump();
        server::notify_watchers(&self.inner, user, None)
    }

    /// Ends every subscription to `user` with `Subscription-State: terminated;reason=…`.
    pub fn terminate(&self, user: &str, reason: &str) -> usize {
        server::notify_watchers(&self.inner, user, Some(reason.to_string()))
    }

    /// Drops every `n`-th UDP datagram, in and out (0 = none).
    pub fn drop_every_nth_udp(&self, n: u64) {
        let mut st = self.inner.lock();
        st.udp_drop_every = n;
        st.udp_counter = 0;
    }

    /// The next `times` in-dialog SUBSCRIBEs (refreshes) get 481 and lose their dialog.
    pub fn answer_481_to_refreshes(&self, times: u32) {
        self.inner.lock().refresh_481 = times;
    }

    pub fn stats(&self) -> SipStats {
        self.inner.lock().stats.clone()
    }

    pub fn is_registered(&self, account: &str) -> bool {
        self.inner
            .lock()
            .registered
            .get(account)
            .is_some_and(|t| *t > Instant::now())
    }

    /// How many live subscriptions watch `user`.
    pub fn watchers(&self, user: &str) -> usize {
        self.inner
            .lock()
            .dialogs
            .values()
            .filter(|d| d.watched == user)
            .count()
    }

    /// Waits (without polling) until `check` holds or `within` passes; returns whether it held.
    pub async fn wait_for(&self, within: Duration, check: impl Fn(&SipServer) -> bool) -> bool {
        let mut rx = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if check(self) {
                return true;
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return check(self) },
                _ = tokio::time::sleep_until(deadline) => return check(self),
            }
        }
    }
}
