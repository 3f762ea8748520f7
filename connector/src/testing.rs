//! Stand-ins the unit tests share.

use std::net::SocketAddr;

/// An HTTP server that answers every request 503 with `Retry-After: value` (a busy bridge or
/// writer endpoint).
pub async fn busy_server(value: String) -> SocketAddr {
    let app = axum::Router::new().fallback(move || {
        let value = value.clone();
        async move {
            (
                http::StatusCode::SERVICE_UNAVAILABLE,
                [(http::header::RETRY_AFTER, value)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}
