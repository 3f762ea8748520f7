//! The self-hosted server: the webhook routes on the public listener, the operator's routes
//! ([`super::admin`]) on the same listener or on an admin listener of their own, the maintenance
//! loop in-process, graceful shutdown (in-flight requests finish on both listeners; the
//! maintenance pass in progress ends before the process does).

use super::detach::detached;
use super::http::{HttpResponse, error};
use super::listen::{self, HEADER_READ_TIMEOUT};
use crate::app::App;
use crate::maintenance;
use crate::swyx_to_teams::intake as swyx_intake;
use crate::teams_to_swyx::intake as graph_intake;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use http::StatusCode;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the listener failed")]
    Listener(#[source] std::io::Error),
}

/// Where `serve` answers: the public listener (Graph and the connector call it) and, when
/// `server.admin_listen` is set, the admin listener that alone serves the operator's routes.
#[derive(Debug)]
pub struct Listeners {
    pub public: tokio::net::TcpListener,
    pub admin: Option<tokio::net::TcpListener>,
    /// The admin page's credential (`server.admin_token`): the page is served on the admin
    /// listener only, and only with one.
    pub admin_page: Option<super::admin_page::AdminCredential>,
}

/// Every route on one listener: the webhooks and the operator's routes.
pub fn router(app: Arc<App>) -> axum::Router {
    webhook_router(Arc::clone(&app)).merge(super::admin::router(app))
}

/// The routes Graph and the connector call.
pub fn webhook_router(app: Arc<App>) -> axum::Router {
    axum::Router::new()
        .route("/graph/notifications", any(graph_route))
        .route("/graph/lifecycle", any(graph_route))
        .route("/swyx/events", any(swyx_route))
        .with_state(app)
}

fn to_axum(resp: HttpResponse) -> Response {
    resp.map(Body::from)
}

/// A sender gets this long to deliver its body: a client trickling one would otherwise hold a
/// connection and up to the body limit of memory for as long as it likes.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a webhook may take beyond its time budget before it is answered 503 (its sender
/// retries); Graph counts an answer after 3 s as slow. The work goes on: what is left of it then
/// runs on a task of its own, so a connector event's claim is kept or released as its outcome says.
const ANSWER_MARGIN: Duration = Duration::from_millis(750);
/// The latest a webhook is answered, whatever its budget (configurable up to 2.8 s): Graph
/// counts an answer after 3 s as slow, and more than 10 % slow answers delay every notification.
const ANSWER_LIMIT: Duration = Duration::from_millis(2_900);

/// The request with its body read, or the 413 (400, 408) answer. Reads at most one byte past
/// the limit: enough to know it is too large, without buffering more.
async fn buffered(app: &App, req: Request) -> Result<http::Request<bytes::Bytes>, Response> {
    let (parts, body) = req.into_parts();
    let limit = app.settings.max_body_bytes;
    let read = axum::body::to_bytes(body, limit.saturating_add(1));
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(Ok(bytes)) => Ok(http::Request::from_parts(parts, bytes)),
        Ok(Err(e)) if too_large(&e) => Err(to_axum(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body exceeds the limit of {limit} bytes"),
        ))),
        // Broken framing (a bad chunk size line), or a connection closed mid-body.
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "request body not readable");
            Err(to_axum(error(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )))
        }
        Err(_) => Err(to_axum(error(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body was not received within {} s",
                BODY_READ_TIMEOUT.as_secs()
            ),
        ))),
    }
}

/// Whether reading a body failed for its size, not for its framing or connection.
fn too_large(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Runs `handler` and answers with its response, or 503 once the time budget and
/// [`ANSWER_MARGIN`] (at most [`ANSWER_LIMIT`]) have passed, leaving the handler to finish on a
/// task of its own.
async fn answer_in_time<F, Fut>(app: Arc<App>, req: Request, handler: F) -> Response
where
    F: FnOnce(Arc<App>, http::Request<bytes::Bytes>) -> Fut,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    let req = match buffered(&app, req).await {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    let deadline = (app.settings.time_budget + ANSWER_MARGIN).min(ANSWER_LIMIT);
    let work = detached(handler(app, req));
    match tokio::time::timeout(deadline, work).await {
        Ok(Ok(resp)) => to_axum(resp),
        Ok(Err(_)) => to_axum(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request could not be handled",
        )),
        Err(_) => {
            tracing::warn!(
                deadline_ms = deadline.as_millis() as u64,
                "request not answered in time: 503 (its work goes on)"
            );
            to_axum(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request took too long; retry",
            ))
        }
    }
}

async fn graph_route(State(app): State<Arc<App>>, req: Request) -> Response {
    answer_in_time(app, req, |app, req| async move {
        graph_intake::handle(&app, req).await
    })
    .await
}

async fn swyx_route(State(app): State<Arc<App>>, req: Request) -> Response {
    answer_in_time(app, req, |app, req| async move {
        swyx_intake::handle(&app, req).await
    })
    .await
}

/// Binds first, so a port in use is reported before anything else starts.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// The longest maintenance pass of the self-hosted loop (as long as the Lambda's).
const PASS_BUDGET: Duration = Duration::from_secs(55);

/// Runs until `shutdown` resolves, then stops accepting on both listeners, lets in-flight
/// requests finish, and returns. A maintenance pass under way is stopped at once: each of its
/// writes is atomic and the next start redoes what it left (a pass can take up to a minute
/// against a slow connector, longer than a service manager waits).
pub async fn run(
    app: Arc<App>,
    listeners: Listeners,
    maintenance_interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let maintenance = spawn_maintenance(Arc::clone(&app), maintenance_interval, stop_rx);
    let (signal_tx, signal_rx) = tokio::sync::watch::channel(false);
    let stopping = move || {
        let mut rx = signal_rx.clone();
        async move {
            // A dropped sender also means stop.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let addr = listeners
        .public
        .local_addr()
        .map_err(ServeError::Listener)?;
    let admin = match listeners.admin {
        Some(admin) => {
            let admin_addr = admin.local_addr().map_err(ServeError::Listener)?;
            let mut routes = super::admin::router(Arc::clone(&app));
            if let Some(credential) = listeners.admin_page {
                routes = routes.merge(super::admin_page::router(Arc::clone(&app), credential));
                tracing::info!(%admin_addr, "admin page (/admin), /metrics and /healthz on their own listener");
            } else {
                tracing::info!(%admin_addr, "admin routes (/metrics, /healthz) on their own listener");
            }
            let serving = listen::serve(admin, routes, HEADER_READ_TIMEOUT, stopping());
            Some(tokio::spawn(serving))
        }
        None => None,
    };
    let public_routes = if admin.is_some() {
        webhook_router(app)
    } else {
        router(app)
    };
    tracing::info!(%addr, "presence-bridge listening");
    let public = listen::serve(
        listeners.public,
        public_routes,
        HEADER_READ_TIMEOUT,
        stopping(),
    );
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = signal_tx.send(true);
        let _ = stop_tx.send(true);
    });
    // Returns only once told to stop (a failed accept is retried, not the end of the listener).
    public.await;
    if let Some(task) = admin {
        let _ = task.await;
    }
    let _ = maintenance.await;
    tracing::info!("stopped");
    Ok(())
}

/// The maintenance loop: every `interval`, and at once when a lifecycle notification wakes it,
/// until `stop` changes.
fn spawn_maintenance(
    app: Arc<App>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                // A lifecycle notification: act now rather than at the next tick.
                _ = app.wake_maintenance.notified() => {}
                _ = stop.changed() => break,
            }
            // A first run over thousands of users takes longer than one tick; it resumes anyway.
            let budget = interval.max(PASS_BUDGET);
            tokio::select! {
                _ = maintenance::run(&app, budget) => {}
                _ = stop.changed() => {
                    tracing::info!("shutting down: maintenance pass stopped; the next start resumes it");
                    break;
                }
            }
        }
    })
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::http::empty;
    use crate::fakes::{FakeConnector, app};
    use crate::store::MemoryStore;
    use tokio::sync::oneshot;

    #[tokio::test(start_paused = true)]
    async fn a_request_past_its_time_is_answered_503_and_its_work_still_finishes() {
        let app = Arc::new(app(
            Arc::new(MemoryStore::new()),
            Arc::new(FakeConnector::default()),
            Default::default(),
        ));
        let (go_on, wait) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel();
        let req = Request::new(Body::from("{}"));
        // Paused time: the deadline passes as soon as nothing else can run.
        let resp = answer_in_time(app, req, |_, _| async move {
            let _ = wait.await;
            let _ = finished.send(());
            empty(StatusCode::ACCEPTED)
        })
        .await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        go_on.send(()).unwrap();
        assert_eq!(done.await, Ok(()), "the work was dropped with the answer");
    }

    /// The status line of the answer to `request` sent as it is.
    async fn status_of_raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await.unwrap();
        line
    }

    /// A body that cannot be read for its framing is the sender's fault, but not one of size.
    #[tokio::test]
    async fn a_malformed_chunk_is_400_and_only_a_body_over_the_limit_413() {
        let mut app = app(
            Arc::new(MemoryStore::new()),
            Arc::new(FakeConnector::default()),
            Default::default(),
        );
        app.settings.max_body_bytes = 16;
        let routes = webhook_router(Arc::new(app));
        let addr = listen::tests::started(routes, HEADER_READ_TIMEOUT).await;
        let chunked = |chunks: &str| {
            format!(
                "POST /graph/notifications HTTP/1.1\r\nHost: b\r\n\
                 Transfer-Encoding: chunked\r\n\r\n{chunks}"
            )
        };
        let malformed = chunked("zz\r\n{}\r\n0\r\n\r\n");
        let status = status_of_raw(addr, malformed.as_bytes()).await;
        assert!(status.starts_with("HTTP/1.1 400"), "{status:?}");
        // 17 bytes (hex 11) in one chunk: one past the limit.
        let oversized = chunked(&format!("11\r\n{}\r\n0\r\n\r\n", "x".repeat(17)));
        let status = status_of_raw(addr, oversized.as_bytes()).await;
        assert!(status.starts_with("HTTP/1.1 413"), "{status:?}");
    }

    /// With the largest budget configuration allows, the answer still comes before Graph's 3 s.
    #[tokio::test(start_paused = true)]
    async fn the_largest_time_budget_still_answers_within_graphs_3_s() {
        let mut app = app(
            Arc::new(MemoryStore::new()),
            Arc::new(FakeConnector::default()),
            Default::default(),
        );
        app.settings.time_budget = Duration::from_millis(2_800);
        let started = tokio::time::Instant::now();
        let resp = answer_in_time(Arc::new(app), Request::new(Body::from("{}")), |_, _| {
            std::future::pending()
        })
        .await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let answered_after = started.elapsed();
        assert!(
            answered_after < Duration::from_secs(3),
            "answered after {answered_after:?}"
        );
    }
}
