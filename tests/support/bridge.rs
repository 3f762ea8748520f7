//! The bridge's Graph webhook over real HTTP on loopback (axum), for end-to-end tests.

use presence_bridge::app::App;
use presence_bridge::teams_to_swyx::intake as graph_webhook;
use std::net::SocketAddr;
use std::sync::Arc;

pub struct BridgeServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl BridgeServer {
    pub async fn start(app: Arc<App>) -> Self {
        let router = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let app = Arc::clone(&app);
            async move {
                let (parts, body) = req.into_parts();
                // Read more than the app's limit so the handler itself answers 413.
                let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
                    .await
                    .unwrap_or_default();
                let resp =
                    graph_webhook::handle(&app, http::Request::from_parts(parts, bytes)).await;
                resp.map(axum::body::Body::from)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { addr, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for BridgeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
