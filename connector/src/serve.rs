//! Serving the connector's listeners — the contract API (in the clear, or over TLS with
//! [`crate::tls`]) and the admin routes — on hyper-util directly. `axum::serve` has no TLS and
//! sets no timer, so hyper's header read timeout never applied: an unauthenticated client could
//! hold connections open by sending nothing, or its request head a byte at a time. Here:
//!
//! - a TLS handshake ends within [`HANDSHAKE_TIMEOUT`];
//! - a connection's first request head arrives within [`HEADER_READ_TIMEOUT`] of the accept
//!   (HTTP/1.1, or HTTP/2, whose preface hyper would otherwise wait for without limit), and each
//!   later HTTP/1.1 one within the same time (hyper's header read timeout, which also ends an
//!   idle keep-alive connection then);
//! - a body is the API's to bound ([`crate::api`] reads it before checking the signature).
//!
//! A stop lets requests in flight finish, at most [`DRAIN_TIMEOUT`].

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tower::ServiceExt;

/// A client that connects and sends nothing holds no task for longer than this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a request head may take to arrive (the bridge sends one at once).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stop waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener`, over TLS when `tls` is given, until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    stop: impl Future<Output = ()>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let (acceptor, builder, app) = (acceptor.clone(), builder.clone(), app.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                return connection(tcp, peer, &builder, app, watcher).await;
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => connection(tls, peer, &builder, app, watcher).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the drain time were cut off");
    }
}

/// One connection, dropped if its first request head is not in within [`HEADER_READ_TIMEOUT`].
async fn connection<I>(
    io: I,
    peer: SocketAddr,
    builder: &auto::Builder<TokioExecutor>,
    app: Router,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let first = Arc::new(Notify::new());
    let seen = first.clone();
    let app = app.map_request(move |req: http::Request<_>| {
        seen.notify_one();
        req
    });
    let served = builder
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app))
        .into_owned();
    let served = watcher.watch(served);
    tokio::pin!(served);
    let ended = tokio::select! {
        ended = &mut served => ended,
        in_time = tokio::time::timeout(HEADER_READ_TIMEOUT, first.notified()) => {
            if in_time.is_err() {
                tracing::debug!(%peer, "no request head in time; connection closed");
                return;
            }
            served.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

    /// A plain server of `GET /` on loopback; the stop is never sent.
    async fn server() -> SocketAddr {
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, app, None, std::future::pending()));
        addr
    }

    /// Sends `sent`, then reads until the server closes; what came back and when it closed.
    async fn closed_after(addr: SocketAddr, sent: &[u8]) -> (String, Duration) {
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client.write_all(sent).await.unwrap();
        let started = Instant::now();
        let mut answer = Vec::new();
        // The server must close first; a minute (of paused time) is far past every deadline.
        tokio::time::timeout(Duration::from_secs(60), client.read_to_end(&mut answer))
            .await
            .expect("the server kept the connection open")
            .unwrap();
        (String::from_utf8_lossy(&answer).into(), started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_sends_no_request_head_is_let_go() {
        let addr = server().await;
        for (what, sent) in [
            ("nothing", &b""[..]),
            ("half a head", b"GET / HTTP/1.1\r\nHost: x\r\n"),
            ("half an HTTP/2 preface", b"PRI * HTTP/2.0\r\n"),
        ] {
            let (answer, after) = closed_after(addr, sent).await;
            assert_eq!(answer, "", "{what}");
            assert!(
                after <= HEADER_READ_TIMEOUT,
                "{what}: closed after {after:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_keep_alive_connection_is_closed_too() {
        let addr = server().await;
        let (answer, after) = closed_after(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("ok"), "{answer}");
        assert!(after <= HEADER_READ_TIMEOUT, "closed after {after:?}");
    }
}
