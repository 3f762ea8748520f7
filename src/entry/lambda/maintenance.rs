//! The scheduled maintenance Lambda (EventBridge, every minute): one pass per event within the
//! invocation's deadline, then the store's gauges and one EMF summary line.
//!
//! The gauges (pending deliveries, the next subscription expiry) are read while the pass runs: at
//! a cold start while the app reads its secrets, so the pass's answer waits on one AWS round trip
//! fewer. They are read again after the pass only when it wrote to the store (the app's store
//! counts its calls, [`crate::store::CountingStore::writes`]): a pass that wrote nothing left
//! the store as the reading alongside it found it, and both readings race alike with the
//! webhooks' writes.

use super::{LazyApp, emf, now_ms, stack_name, start_failed};
use crate::app::Role;
use crate::metrics::StoreReading;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Left for counting the backlog and answering after the maintenance parts stop.
const SAFETY_MARGIN: Duration = Duration::from_secs(5);
/// When the runtime gives no usable deadline (never on AWS).
const FALLBACK_BUDGET: Duration = Duration::from_secs(20);

/// The whole `main` of the scheduled maintenance Lambda: one pass per event, within the
/// invocation's deadline, then one EMF summary line on stdout (tracing logs go to stderr).
pub async fn run_maintenance() -> Result<(), lambda_http::Error> {
    let lazy = Arc::new(LazyApp::from_env(Role::Maintenance)?);
    lazy.build_ahead_if_needed().await;
    let stack: Arc<str> = stack_name().into();
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| {
            let (lazy, stack) = (Arc::clone(&lazy), Arc::clone(&stack));
            let run: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
                lazy.drop_stale_work_ahead();
                maintenance_once(&lazy, &stack, event.context.deadline).await
            });
            run
        },
    ))
    .await
}

async fn maintenance_once(
    lazy: &LazyApp,
    stack: &str,
    deadline_ms: u64,
) -> Result<Value, lambda_runtime::Error> {
    let opened = lazy.opened().await.map_err(start_failed)?;
    let writes = || lazy.counted_store.get().map(|store| store.writes());
    let pass = async {
        let app = lazy.get().await?;
        let before = writes();
        let summary = crate::maintenance::run(&app, budget(deadline_ms, now_ms())).await;
        // Unknown (no counting store): read again, as if it wrote.
        let wrote = before.is_none() || writes() != before;
        Ok::<_, String>((app, summary, wrote))
    };
    // The pass first: its requests go out before the gauges'.
    let (pass, alongside) = tokio::join!(pass, StoreReading::read(opened.store.as_ref()));
    let (app, summary, wrote) = pass?;
    let now = app.clock.now();
    let store = match alongside {
        Ok(reading) if !wrote => app.metrics.set_store_reading(&reading, now),
        _ => {
            app.metrics
                .refresh_from_store(app.store.as_ref(), now)
                .await?
        }
    };
    // What the pass counted with labels (calls repaired against Swyx), one record per label.
    if let Some(inv) = app.metrics.take_invocation() {
        for labelled in emf::invocation_lines(&inv, stack, now_ms()) {
            println!("{labelled}");
        }
    }
    let line = emf::summary_line(&summary, &store, stack, now_ms());
    println!("{line}");
    if summary.failed.is_empty() {
        Ok(line)
    } else {
        // A failed part counts as a function error: the errors alarm sees it.
        Err(format!("maintenance parts failed: {}", summary.failed.join("; ")).into())
    }
}

/// Time until the invocation's deadline minus a margin, so a slow connector never makes the
/// function time out (a timeout would count as an error and retry the whole event).
/// A deadline that is not a plausible wall-clock time (none, or more than a day in the past, as
/// runtime emulators send: cargo-lambda's sends a constant) gets [`FALLBACK_BUDGET`].
fn budget(deadline_ms: u64, now_ms: u64) -> Duration {
    const DAY_MS: u64 = 24 * 3_600_000;
    if deadline_ms.saturating_add(DAY_MS) < now_ms || deadline_ms == 0 {
        return FALLBACK_BUDGET;
    }
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    match left.checked_sub(SAFETY_MARGIN) {
        Some(b) if !b.is_zero() => b,
        _ => Duration::from_millis(500),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Origin, RawConfig};
    use crate::domain::{PresenceValue, SwyxAction, SwyxStatus, SwyxUpdate, Timestamp};
    use crate::store::PendingDelivery;

    #[test]
    fn budget_stays_below_the_deadline() {
        assert_eq!(budget(60_000, 0), Duration::from_secs(55));
        // Almost out of time: a short try, never a negative or zero budget.
        assert_eq!(budget(3_000, 0), Duration::from_millis(500));
        assert_eq!(budget(0, 1_000), FALLBACK_BUDGET);
        // Real deadlines are epoch milliseconds; one just passed still gets a short try.
        let now = 1_796_190_000_000;
        assert_eq!(budget(now + 50_000, now), Duration::from_secs(45));
        assert_eq!(budget(now - 1_000, now), Duration::from_millis(500));
        // Not a wall-clock time at all (an emulator's constant): the fallback.
        assert_eq!(budget(600_000, now), FALLBACK_BUDGET);
    }

    /// Maintenance on SQLite, its connector a port nothing listens on (the notification key is
    /// never read by maintenance).
    fn config(dir: &std::path::Path) -> Config {
        let text = format!(
            "[graph]\ntenant_id = \"9f4ebab6-520d-49c0-85cc-7b25c78d4a93\"\n\
             client_id = \"925bff9f-f6e2-4a69-b858-f71ea2b9b6d0\"\n\
             [[graph.encryption_keys]]\nid = \"c1\"\nprivate_key = \"file:/nonexistent/notify.pem\"\n\
             [connector]\nurl = \"http://127.0.0.1:9/\"\n\
             signing_secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
             [store]\nsqlite_path = {:?}\n",
            dir.join("bridge.db").display().to_string()
        );
        RawConfig::from_toml(&text, "test.toml")
            .and_then(|raw| raw.validate(Origin::File))
            .expect("config")
    }

    fn count_pending_calls(lazy: &LazyApp) -> u64 {
        let store = lazy
            .counted_store
            .get()
            .expect("maintenance counts its store");
        store.counts().get("count_pending").copied().unwrap_or(0)
    }

    #[tokio::test]
    async fn the_gauges_are_read_alongside_a_pass_and_again_only_after_one_that_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lazy = LazyApp::new(config(dir.path()), Role::Maintenance);

        let line = maintenance_once(&lazy, "test", 0).await.expect("a pass");
        assert_eq!(line["presence_bridge_pending_deliveries"], 0);
        assert_eq!(count_pending_calls(&lazy), 1, "an idle pass: read once");

        // An update due for delivery, which the connector does not take: the pass records the
        // attempt (a write), so the gauges are read again after it.
        let update = SwyxUpdate {
            swyx_user_id: "1001".into(),
            entra_id: "alice".into(),
            action: SwyxAction::Set(SwyxStatus::Away),
            revision: 1,
            availability: PresenceValue::new("Away"),
            activity: PresenceValue::new("Away"),
            out_of_office: false,
            observed_at: Timestamp(0),
        };
        let store = lazy.opened().await.expect("store").store;
        let due = PendingDelivery {
            update,
            attempts: 0,
            next_attempt_at: Timestamp(0),
            last_error: None,
            rejected: false,
            not_before: None,
        };
        assert!(store.put_pending(&due).await.expect("pending"));
        let line = maintenance_once(&lazy, "test", 0).await.expect("a pass");
        assert_eq!(line["presence_bridge_pending_deliveries"], 1);
        assert_eq!(count_pending_calls(&lazy), 1 + 2, "alongside and after");
        let kept = store
            .get_pending("1001")
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(kept.attempts, 1, "the pass wrote its attempt");
    }
}
