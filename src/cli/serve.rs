//! `presence-bridge serve`: the self-hosted server. Binds first (the admin listener too, when
//! `server.admin_listen` is set), so a port in use is reported before secrets are read or the
//! store is opened.

use crate::app::App;
use crate::entry::server::{self, Listeners};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Runs until SIGTERM or SIGINT; `listen` overrides `server.listen`.
pub async fn run(config: &Path, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let cfg = super::config(config)?;
    let public = server::bind(listen.unwrap_or(cfg.listen)).await?;
    let admin = match cfg.admin_listen {
        Some(addr) => Some(server::bind(addr).await?),
        None => None,
    };
    let app = Arc::new(App::from_config(&cfg).await?);
    server::run(
        app,
        Listeners { public, admin },
        cfg.maintenance_interval,
        server::shutdown_signal(),
    )
    .await?;
    Ok(())
}
