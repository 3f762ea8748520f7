//! Watching "Speaking" over SwyxServer's SIP presence. The connector registers as a dedicated
//! monitor user (digest authentication; UDP, TCP or TLS) and subscribes to every directory user's
//! presence (`Event: presence`, RFC 3856 / RFC 6665); SwyxServer answers a user that has status
//! signalling rights for the watched users with PIDF NOTIFYs (see [`crate::presence`]).
//!
//! Layers: [`message`] (parsing with `ezk-sip-types`, our own requests as text), [`transport`]
//! (one flow to the server), [`transaction`] (RFC 3261 §17 timers), [`ua`] (addressing and
//! digest), [`client`] + [`notify`] (registration and subscriptions, one task owns the state).

mod client;
mod digest;
pub mod message;
mod notify;
mod register;
pub mod subscription;
mod tls;
pub mod transaction;
mod transport;
mod ua;

use crate::config::SipConfig;
use crate::directory::Directory;
use crate::speaking::Engine;
use crate::status::StatusBoard;
use client::Client;
use digest::Credentials;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use transport::Incoming;

/// How long shutdown waits for the server to confirm unsubscribing and unregistering.
const GOODBYE: Duration = Duration::from_secs(2);

/// Opens the flow to SwyxServer and starts watching; returns our local SIP address.
pub async fn start(
    cfg: SipConfig,
    directory: Directory,
    engine: Arc<Engine>,
    status: Arc<StatusBoard>,
    stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), String> {
    let (in_tx, in_rx) = mpsc::channel(1024);
    // The flow outlives `stop` by the goodbye (unsubscribe, unregister), so it has its own switch.
    let (tp_stop, tp_stop_rx) = watch::channel(false);
    let tp = transport::open(&cfg, in_tx, tp_stop_rx).await?;
    let local = *tp.local.borrow();
    let tx = Arc::new(transaction::TxLayer::new(
        tp.out.clone(),
        cfg.t1,
        tp.reliable,
    ));
    let creds = Credentials {
        username: cfg.auth_username.clone(),
        password: cfg.password.clone(),
    };
    let ua = Arc::new(ua::Ua {
        cfg,
        tx,
        local: tp.local.clone(),
        transport: tp.name,
        creds,
    });
    status.update(|v| v.registration.state = "starting".into());
    tracing::info!(transport = tp.name, %local, server = %ua.cfg.server, "SIP started");
    let task = tokio::spawn(async move {
        run(ua, directory, engine, status, in_rx, stop).await;
        tp_stop.send_replace(true);
    });
    Ok((local, task))
}

async fn run(
    ua: Arc<ua::Ua>,
    directory: Directory,
    engine: Arc<Engine>,
    status: Arc<StatusBoard>,
    mut incoming: mpsc::Receiver<Incoming>,
    mut stop: watch::Receiver<bool>,
) {
    let (done_tx, mut done_rx) = mpsc::channel(1024);
    let mut client = Client::new(ua.clone(), engine, status, done_tx);
    let mut dir = directory.subscribe();
    client.sync(&dir.borrow_and_update());
    loop {
        let deadline = client.next_deadline();
        tokio::select! {
            _ = crate::runtime::stopped(&mut stop) => break,
            Some(inc) = incoming.recv() => match inc {
                Incoming::Message(m) if m.code().is_some() => {
                    ua.tx.on_response(*m);
                }
                Incoming::Message(m) => client.on_request(*m).await,
                Incoming::Reset => client.reset(),
            },
            Some(done) = done_rx.recv() => client.on_done(done),
            Ok(()) = dir.changed() => {
                let snap = dir.borrow_and_update().clone();
                client.sync(&snap);
            }
            _ = tokio::time::sleep_until(deadline) => client.tick(),
        }
    }
    goodbye(&client, &ua, incoming).await;
}

/// Unsubscribe (Expires: 0) and unregister, waiting at most [`GOODBYE`]; the server would
/// otherwise keep notifying an address nobody listens on until the subscriptions expire.
async fn goodbye(client: &Client, ua: &Arc<ua::Ua>, mut incoming: mpsc::Receiver<Incoming>) {
    let mut tasks = tokio::task::JoinSet::new();
    for user in client
        .subs
        .iter()
        .filter(|(_, s)| s.dialog.is_some())
        .map(|(u, _)| u.clone())
    {
        if let Some((req, _)) = client.subscribe_request(&user, 0) {
            let ua = ua.clone();
            tasks.spawn(async move { ua.send(req).await.map(|_| ()) });
        }
    }
    if client.registered() {
        let ua2 = ua.clone();
        let req = client.register_request(0);
        tasks.spawn(async move { ua2.send(req).await.map(|_| ()) });
    }
    let tx = ua.tx.clone();
    let pump = async move {
        while let Some(inc) = incoming.recv().await {
            if let Incoming::Message(m) = inc
                && m.code().is_some()
            {
                tx.on_response(*m);
            }
        }
    };
    let all = async move { while tasks.join_next().await.is_some() {} };
    tokio::select! {
        _ = all => {}
        _ = pump => {}
        _ = tokio::time::sleep(GOODBYE) => tracing::warn!("SwyxServer did not confirm the goodbye in time"),
    }
}
