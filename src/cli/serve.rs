//! `presence-bridge serve`: the self-hosted server. Binds first (the admin listener too, when
//! `server.admin_listen` is set), so a port in use is reported before secrets are read or the
//! store is opened.

use crate::app::{App, SecretResolver};
use crate::entry::admin_page::AdminCredential;
use crate::entry::server::{self, Listeners};
use crate::subscriptions::sync_accounts::request_reconciliation;
use anyhow::Context;
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
    let admin_page = match &cfg.admin_token {
        Some(r) => {
            let token = SecretResolver::default()
                .resolve(r)
                .await
                .context("server.admin_token: the secret cannot be read")?;
            Some(AdminCredential::new(&token)?)
        }
        None => None,
    };
    let app = Arc::new(App::from_config(&cfg).await?);
    // Converge after a crash: whatever Graph could not deliver while this process was down is
    // read back by the first maintenance run, not an hour later.
    if app.accounts.is_some() {
        match request_reconciliation(app.store.as_ref()).await {
            Ok(n) => tracing::info!(accounts = n, "started: reconciliation requested"),
            Err(e) => {
                // Asked by the first maintenance pass that finds the store answering.
                app.store_refusals.note();
                tracing::warn!(error = %e, "started: reconciliation could not be requested; maintenance asks once the store answers")
            }
        }
    }
    server::run(
        app,
        Listeners {
            public,
            admin,
            admin_page,
        },
        cfg.maintenance_interval,
        server::shutdown_signal(),
    )
    .await?;
    Ok(())
}
