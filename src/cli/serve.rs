//! `presence-bridge serve`: the self-hosted server. Binds first, so a port in use is reported
//! before secrets are read or the store is opened.

use crate::app::App;
use crate::entry::server;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Runs until SIGTERM or SIGINT; `listen` overrides `server.listen`.
pub async fn run(config: &Path, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let cfg = super::config(config)?;
    let listener = server::bind(listen.unwrap_or(cfg.listen)).await?;
    let app = Arc::new(App::from_config(&cfg).await?);
    server::run(
        app,
        listener,
        cfg.maintenance_interval,
        server::shutdown_signal(),
    )
    .await?;
    Ok(())
}
