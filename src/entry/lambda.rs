//! The thin seam between the Lambda runtime and the use cases: configuration from the
//! environment (a bad setting fails the cold start with its name), the app built once per
//! process (from its start, or on the first event that needs it: [`LazyApp`]), then one handler
//! call per event. JSON logs; metrics as CloudWatch EMF ([`emf`]): each webhook invocation what
//! it recorded, the maintenance function its summary.

mod ahead;
pub mod emf;
mod maintenance;

use super::http::{HttpRequest, HttpResponse};
use crate::app::{App, AwsSource, OpenedStore, Role};
use crate::config::{Config, Origin, RawConfig};
use crate::domain::Timestamp;
use crate::metrics::Metrics;
use crate::store::{CountingStore, Store};
use crate::telemetry::with_causes;
use ahead::WorkAhead;
use bytes::Bytes;
pub use maintenance::run_maintenance;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The app of the function `role`, built once per process: from the start, while the runtime
/// fetches the first event, when every event of the function needs it ([`Role::builds_at_start`]);
/// else on the first event that needs it (a validation handshake needs nothing). Reads only the
/// secrets the function uses, in one round trip. A build that fails (a secret that cannot be
/// read, a key that does not parse) is logged with every cause and answered as an error; the
/// next event tries again.
struct LazyApp {
    config: Config,
    role: Role,
    /// The store, opened once: the app is built on it, and a cold start's first event reads it
    /// while the app is being built.
    opened: tokio::sync::OnceCell<OpenedStore>,
    app: tokio::sync::OnceCell<Arc<App>>,
    /// The build (and Graph token) started before the first event, where the role starts one.
    ahead: OnceLock<WorkAhead>,
    /// The maintenance function's store, its calls counted: whether a pass wrote (see
    /// [`maintenance`]).
    counted_store: OnceLock<Arc<CountingStore>>,
}

impl LazyApp {
    /// The settings are read and checked at once (no I/O): a bad one fails the cold start with
    /// its name.
    fn from_env(role: Role) -> Result<Self, lambda_http::Error> {
        crate::telemetry::init(true);
        let config = RawConfig::from_env(|k| std::env::var(k).ok())
            .and_then(|raw| raw.validate(Origin::Env))
            .map_err(|e| lambda_http::Error::from(start_failed(with_causes(&e))))?;
        Ok(Self::new(config, role))
    }

    fn new(config: Config, role: Role) -> Self {
        Self {
            config,
            role,
            opened: tokio::sync::OnceCell::new(),
            app: tokio::sync::OnceCell::new(),
            ahead: OnceLock::new(),
            counted_store: OnceLock::new(),
        }
    }

    /// Starts building the app now, before the runtime asks for the first event, when the
    /// function needs it for every event: the secrets' round trip and the clients' setup then
    /// overlap the runtime's own start and the fetch of that event (and are done before it when
    /// Lambda initialises the process ahead of an invocation). A build that fails is logged
    /// now, naming the setting, and tried again by the first event. Then, where the role says
    /// so, the app-only Graph token: the first event for a linked user then sends its Graph
    /// call without a round trip to Entra first. An event finds this work unfinished long
    /// after it started only when a freeze overtook it: it then does it anew
    /// ([`Self::drop_stale_work_ahead`]). With provisioned concurrency the start is on no
    /// event's path, so the work is finished before the runtime asks for one.
    async fn build_ahead_if_needed(self: &Arc<Self>) {
        if !self.role.builds_at_start() {
            return;
        }
        let init_type = std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").ok();
        let finish_first = ahead::finish_before_first_event(init_type.as_deref());
        let lazy = Arc::clone(self);
        let started = SystemTime::now();
        let work = async move {
            let app = match lazy.build().await {
                Ok(app) => app,
                // A request lost to a freeze is no failed start: the event builds anew. Work
                // finished before the runtime asks for an event is never frozen.
                Err(e) if !finish_first && ahead::is_stale(started, SystemTime::now()) => {
                    tracing::info!(error = %e, "the build begun before the first event failed after a freeze; the event builds anew");
                    return;
                }
                Err(e) => {
                    start_failed(e);
                    return;
                }
            };
            if lazy.role.fetches_graph_token_at_start()
                && let Some(s2t) = app.swyx_to_teams.as_deref()
            {
                // Never fails: an event that needs the token meets any problem and reports it.
                s2t.graph.get_ready(s2t.request_budget).await;
            }
        };
        if finish_first {
            work.await;
            return;
        }
        // Set once: this runs once per process, before the runtime starts.
        let _ = self.ahead.set(WorkAhead::spawn(started, work));
    }

    /// What each event does first: work begun before the first event and still unfinished long
    /// after is dropped, so the event does not wait on requests a freeze may have lost.
    fn drop_stale_work_ahead(&self) {
        if self
            .ahead
            .get()
            .is_some_and(|work| work.abandon_if_stale(SystemTime::now()))
        {
            tracing::info!(
                "the work begun before the first event was frozen unfinished (the process was started ahead of its invocations); this event does it anew"
            );
        }
    }

    /// The store, opened by the first caller; a failure (unlogged) is left for the next one.
    async fn opened(&self) -> Result<OpenedStore, String> {
        self.opened
            .get_or_try_init(|| async {
                let mut opened = OpenedStore::open(&self.config, AwsSource::lambda()).await?;
                if self.role == Role::Maintenance {
                    let counted = Arc::new(CountingStore::new(opened.store));
                    opened.store = Arc::clone(&counted) as Arc<dyn Store>;
                    // Set once: the cell above runs this once.
                    let _ = self.counted_store.set(counted);
                }
                Ok::<_, crate::app::StartupError>(opened)
            })
            .await
            .cloned()
            .map_err(|e| with_causes(&e))
    }

    /// The app, built by the first caller (a caller that comes while it is built waits for it);
    /// a failure, unlogged, says why with every cause.
    /// Boxed: the app's whole build inside the runtime's future is too deep a type for the
    /// compiler's layout computation.
    fn build(&self) -> Pin<Box<dyn Future<Output = Result<Arc<App>, String>> + Send + '_>> {
        Box::pin(async {
            self.app
                .get_or_try_init(|| async {
                    let clock = crate::domain::Clock::system();
                    let opened = self.opened().await?;
                    let mut app = App::on_store(&self.config, self.role, clock, opened)
                        .await
                        .map_err(|e| with_causes(&e))?;
                    // Nobody scrapes a Lambda: each invocation writes what it recorded instead.
                    app.metrics = Arc::new(Metrics::for_lambda());
                    Ok(Arc::new(app))
                })
                .await
                .cloned()
        })
    }

    /// The app for an event: built, or its failure logged.
    async fn get(&self) -> Result<Arc<App>, String> {
        self.build().await.map_err(start_failed)
    }

    /// The app and what `early_read` read for `req`. At a cold start the store is opened first
    /// and the request's first read runs while the app reads its secrets: one round trip before
    /// the answer where there were two. Once the app is built, nothing is read early.
    async fn get_reading_early<E, R, RF>(
        &self,
        req: &HttpRequest,
        early_read: &R,
    ) -> (Result<Arc<App>, String>, Option<E>)
    where
        R: Fn(Arc<dyn Store>, &HttpRequest, Timestamp) -> Option<RF>,
        RF: Future<Output = Option<E>>,
    {
        self.drop_stale_work_ahead();
        if self.app.initialized() {
            return (self.get().await, None);
        }
        let opened = match self.opened().await {
            Ok(opened) => opened,
            Err(e) => return (Err(start_failed(e)), None),
        };
        let now = crate::domain::Clock::system().now();
        let read = early_read(Arc::clone(&opened.store), req, now);
        let read = async move {
            match read {
                Some(read) => read.await,
                None => None,
            }
        };
        // The read first: both AWS requests are out before the app makes what needs neither.
        let (early, app) = tokio::join!(read, self.get());
        (app, early)
    }
}

fn stack_name() -> String {
    std::env::var("STACK_NAME").unwrap_or_else(|_| "presence-bridge".to_string())
}

/// A failed start, logged with every cause in one line (the setting first, the underlying reason
/// last: [`with_causes`]), as the operator reads it in CloudWatch.
fn start_failed(message: String) -> String {
    tracing::error!(error = %message, "function could not start");
    message
}

/// The whole `main` of a webhook Lambda (`role`: which one): `without_app` answers the requests
/// that need no app (Graph's validation handshake), `handler` the others. `early_read` starts a
/// request's first store read at a cold start, before anything about the request is checked, so
/// it must only read; `handler` gets what it read, for that request alone.
pub async fn run_webhook<E, R, RF, F, Fut>(
    role: Role,
    without_app: fn(&HttpRequest) -> Option<HttpResponse>,
    early_read: R,
    handler: F,
) -> Result<(), lambda_http::Error>
where
    E: Send + 'static,
    R: Fn(Arc<dyn Store>, &HttpRequest, Timestamp) -> Option<RF> + Send + Sync + 'static,
    RF: Future<Output = Option<E>> + Send,
    F: Fn(Arc<App>, HttpRequest, Option<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    let lazy = Arc::new(LazyApp::from_env(role)?);
    lazy.build_ahead_if_needed().await;
    let stack: Arc<str> = stack_name().into();
    let (early_read, handler) = (Arc::new(early_read), Arc::new(handler));
    lambda_http::run(lambda_http::service_fn(move |req| {
        let req = request_from_lambda(req);
        let (lazy, stack) = (Arc::clone(&lazy), Arc::clone(&stack));
        let (early_read, handler) = (Arc::clone(&early_read), Arc::clone(&handler));
        async move {
            if let Some(answer) = without_app(&req) {
                return Ok(response_to_lambda(answer));
            }
            let (app, early) = lazy.get_reading_early(&req, early_read.as_ref()).await;
            let app = match app {
                Ok(app) => app,
                // The details are in the log; the caller learns only that it is not its fault.
                Err(_) => {
                    return Ok(response_to_lambda(crate::entry::http::error(
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        "the function could not start (see its log)",
                    )));
                }
            };
            let response = handler(Arc::clone(&app), req, early).await;
            // One invocation at a time per process: what was recorded since is this request's.
            if let Some(invocation) = app.metrics.take_invocation() {
                for line in emf::invocation_lines(&invocation, &stack, now_ms()) {
                    println!("{line}");
                }
            }
            Ok::<_, lambda_http::Error>(response_to_lambda(response))
        }
    }))
    .await
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn request_from_lambda(req: lambda_http::Request) -> HttpRequest {
    let (parts, body) = req.into_parts();
    http::Request::from_parts(parts, Bytes::copy_from_slice(body.as_ref()))
}

pub fn response_to_lambda(resp: HttpResponse) -> lambda_http::Response<lambda_http::Body> {
    let (parts, body) = resp.into_parts();
    let body = if body.is_empty() {
        lambda_http::Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(s) => lambda_http::Body::Text(s),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    };
    lambda_http::Response::from_parts(parts, body)
}
