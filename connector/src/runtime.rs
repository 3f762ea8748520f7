//! Wiring: opens the store, loads the directory, binds the listeners and starts the tasks; stops
//! them all on shutdown, letting in-flight requests finish and the SIP side unsubscribe.

use crate::api::{self, Admission, ApiState};
use crate::config::Config;
use crate::directory::{self, Directory};
use crate::speaking::Engine;
use crate::status::StatusBoard;
use crate::store::Store;
use crate::writer::Writer;
use crate::{admin, outbox};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store {path}: {source}")]
    Store {
        path: String,
        source: crate::store::StoreError,
    },
    #[error("cannot read the user directory: {0}")]
    Directory(#[from] directory::DirectoryError),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Listen {
        addr: SocketAddr,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("cannot set up the writer: {0}")]
    Writer(String),
    #[error("cannot start SIP: {0}")]
    Sip(String),
    #[error("cannot serve the API over TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// A running connector.
pub struct Handle {
    /// The contract API (what the bridge calls).
    pub api_addr: SocketAddr,
    /// The API is served over TLS.
    pub api_tls: bool,
    pub admin_addr: Option<SocketAddr>,
    /// The local SIP address, when SIP is configured.
    pub sip_addr: Option<SocketAddr>,
    pub status: Arc<StatusBoard>,
    tasks: JoinSet<()>,
    stop: watch::Sender<bool>,
}

impl Handle {
    /// Stops everything and waits until it has stopped.
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until the tasks end (after the shutdown future given to [`start`] resolved).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    pub fn api_url(&self) -> String {
        let scheme = if self.api_tls { "https" } else { "http" };
        format!("{scheme}://{}", self.api_addr)
    }
}

/// Starts the connector; `shutdown` resolving stops it (as [`Handle::stop`] does).
pub async fn start(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Handle, StartError> {
    let _ = admin::prometheus();
    let status = Arc::new(StatusBoard::default());
    let store = Arc::new(
        Store::open(&config.store_path).map_err(|source| StartError::Store {
            path: config.store_path.display().to_string(),
            source,
        })?,
    );
    let first = directory::load(&config.directory).await?;
    let (dir, dir_tx) = Directory::fixed(first);
    status.update(|v| v.directory_users = dir.current().users.len());
    let writer = Writer::new(&config.writer).map_err(|e| StartError::Writer(e.to_string()))?;
    status.update(|v| v.writer = writer.kind().to_string());
    let wake = Arc::new(Notify::new());
    let engine = Arc::new(Engine::new(
        config.presence.clone(),
        store.clone(),
        wake.clone(),
        status.clone(),
    ));
    let state = Arc::new(ApiState::new(
        store.clone(),
        dir.clone(),
        writer,
        engine.clone(),
        status.clone(),
        Admission::new(config.bridge.inbound_secrets.clone()),
    ));

    let bind = |addr: SocketAddr, what: &'static str| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Listen { addr, what, source })
    };
    let api_tls = config
        .tls
        .as_ref()
        .map(crate::tls::server_config)
        .transpose()?;
    let api_listener = bind(config.listen, "server.listen").await?;
    let api_addr = api_listener
        .local_addr()
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            what: "server.listen",
            source,
        })?;
    let admin_listener = match config.admin_listen {
        Some(a) => Some(bind(a, "server.admin_listen").await?),
        None => None,
    };
    let admin_addr = admin_listener.as_ref().and_then(|l| l.local_addr().ok());

    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    {
        let stop = stop.clone();
        tasks.spawn(async move {
            let mut rx = stop.subscribe();
            tokio::select! {
                _ = shutdown => { stop.send_replace(true); }
                _ = crate::runtime::stopped(&mut rx) => {}
            }
        });
    }
    let serve = |listener, app, tls| {
        let mut rx = stop_rx.clone();
        let stopped = async move { crate::runtime::stopped(&mut rx).await };
        crate::serve::serve(listener, app, tls, stopped)
    };
    tasks.spawn(serve(api_listener, api::router(state), api_tls.clone()));
    if let Some(l) = admin_listener {
        tasks.spawn(serve(l, admin::router(status.clone()), None));
    }
    tasks.spawn(outbox::run_sender(
        store.clone(),
        config.bridge.clone(),
        wake,
        status.clone(),
        stop_rx.clone(),
    ));
    tasks.spawn(refresh_directory(
        config.directory.clone(),
        dir_tx,
        status.clone(),
        stop_rx.clone(),
    ));
    let sip_addr = match config.sip.clone() {
        Some(sip_cfg) => {
            let (addr, task) = crate::sip::start(
                sip_cfg,
                dir.clone(),
                engine.clone(),
                status.clone(),
                stop_rx.clone(),
            )
            .await
            .map_err(StartError::Sip)?;
            tasks.spawn(async move {
                let _ = task.await;
            });
            Some(addr)
        }
        None => {
            status.update(|v| v.registration.state = "disabled".into());
            None
        }
    };
    tracing::info!(%api_addr, ?admin_addr, "swyx-connector started");
    Ok(Handle {
        api_addr,
        api_tls: api_tls.is_some(),
        admin_addr,
        sip_addr,
        status,
        tasks,
        stop,
    })
}

/// Runs until `shutdown` resolves and everything has stopped.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    start(config, shutdown).await?.wait().await;
    tracing::info!("swyx-connector stopped");
    Ok(())
}

async fn refresh_directory(
    cfg: crate::config::DirectoryConfig,
    tx: watch::Sender<Arc<directory::Snapshot>>,
    status: Arc<StatusBoard>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(cfg.refresh) => {}
            _ = crate::runtime::stopped(&mut stop) => return,
        }
        match directory::refresh(&cfg, &tx).await {
            Ok(n) => status.update(|v| {
                v.directory_users = n;
                v.directory_error = None;
            }),
            Err(e) => {
                tracing::warn!(error = %e, "directory refresh failed; keeping the last good list");
                status.update(|v| v.directory_error = Some(e.to_string()));
            }
        }
    }
}

/// Resolves once `stop` says so. The watch guard is dropped inside, so the waiting future stays
/// `Send` (a guard held across an await in `select!` is not).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
