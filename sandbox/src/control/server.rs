//! Serving the scenario API on loopback.

use std::net::SocketAddr;

use super::routes::control_router;
use super::types::GraphHandleLike;

/// A running control API; dropping it stops the server.
pub struct ControlServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl ControlServer {
    /// Base URL, e.g. `http://127.0.0.1:40125` (routes are under `/_sandbox/`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the scenario API on 127.0.0.1 with a free port. `graph` and `swyx` are expected to share
/// one [`crate::Clock`], as `presence-sandbox run` builds them.
pub async fn serve_control(
    graph: Option<GraphHandleLike>,
    swyx: crate::swyx::SwyxEmulator,
) -> anyhow::Result<ControlServer> {
    serve_control_on(graph, swyx, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

pub async fn serve_control_on(
    graph: Option<GraphHandleLike>,
    swyx: crate::swyx::SwyxEmulator,
    addr: SocketAddr,
) -> anyhow::Result<ControlServer> {
    use anyhow::Context as _;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the control API to {addr}"))?;
    let addr = listener.local_addr()?;
    let app = control_router(graph, swyx);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "control API stopped");
        }
    });
    Ok(ControlServer { addr, task })
}
