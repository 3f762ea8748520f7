//! One listener of `serve`, run on hyper itself rather than `axum::serve`: axum gives hyper no
//! timer, and without one hyper enforces no header read timeout, so a client that trickles its
//! request line and headers (or sends half of them and stops) held a connection and its task for
//! as long as it liked.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long a client has for a request's line and headers, from when the server starts reading
/// them (on a kept-alive connection: once the last answer is sent). A genuine sender needs
/// milliseconds; past it hyper closes the connection without an answer.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `routes` on `listener` (HTTP/1.1, as `axum::serve` did with axum's features here) until
/// `shutdown` resolves; then accepts nothing more and returns once every connection has finished
/// the request it was serving.
pub async fn serve(
    mut listener: TcpListener,
    routes: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // axum's accept: a failure to accept (out of file descriptors) is logged and retried.
        let (stream, _peer) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(routes.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed on an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// A listener serving `routes`, with `header_read_timeout`, until the test ends.
    pub(in crate::entry) async fn started(
        routes: Router,
        header_read_timeout: Duration,
    ) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = serve(
            listener,
            routes,
            header_read_timeout,
            std::future::pending(),
        );
        tokio::spawn(serving);
        addr
    }

    /// What the server sends on `stream` until it closes it; `None` if it keeps it open longer
    /// than any timeout here.
    async fn until_closed(stream: &mut TcpStream) -> Option<String> {
        let mut answer = Vec::new();
        let read = stream.read_to_end(&mut answer);
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .ok()?
            .ok()?;
        Some(String::from_utf8_lossy(&answer).into_owned())
    }

    #[tokio::test]
    async fn a_client_that_stops_inside_its_request_line_is_disconnected() {
        let routes = Router::new().route("/healthz", get(|| async { "ok" }));
        let addr = started(routes, Duration::from_millis(200)).await;
        let mut stalled = TcpStream::connect(addr).await.unwrap();
        stalled.write_all(b"GET /heal").await.unwrap();
        let answer = until_closed(&mut stalled).await.expect("still connected");
        assert_eq!(answer, "", "no answer to half a request line");

        // A whole request in time is answered as ever.
        let mut prompt = TcpStream::connect(addr).await.unwrap();
        let request = b"GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";
        prompt.write_all(request).await.unwrap();
        let answer = until_closed(&mut prompt).await.expect("closed as asked");
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"),
            "{answer:?}"
        );
    }
}
