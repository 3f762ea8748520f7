//! AWS Lambda: the scheduled maintenance run (EventBridge, every minute). Keeps the Swyx → Teams
//! sessions right (keep-alive, clear, Graph retries) and delivers the pending Swyx updates within a
//! budget below the function's timeout, then logs one JSON summary line in
//! CloudWatch Embedded Metric Format, so the pending backlog becomes a metric (and an alarm)
//! without any extra permission.

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use presence_bridge::config::{Origin, RawConfig};
use presence_bridge::service::App;
use presence_bridge::service::maintenance::{
    MaintenanceSummary, PendingSummary, SpeakingSummary, run,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Left for counting the backlog and answering after the deliveries stop.
const SAFETY_MARGIN: Duration = Duration::from_secs(5);
/// When the runtime gives no usable deadline (never on AWS).
const FALLBACK_BUDGET: Duration = Duration::from_secs(20);
const METRIC_NAMESPACE: &str = "PresenceBridge";

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    presence_bridge::telemetry::init(true);
    let config = RawConfig::from_env(|k| std::env::var(k).ok())?.validate(Origin::Env)?;
    let app = Arc::new(App::from_config(&config).await?);
    let stack = std::env::var("STACK_NAME").unwrap_or_else(|_| "presence-bridge".to_string());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        let stack = stack.clone();
        async move { run_once(&app, &stack, event.context.deadline).await }
    }))
    .await
}

async fn run_once(
    app: &App,
    stack: &str,
    deadline_ms: u64,
) -> Result<Value, lambda_runtime::Error> {
    let budget = budget(deadline_ms, now_ms());
    let summary = run(app, budget).await?;
    let pending_total = app.store.count_pending().await?;
    let line = summary_line(&summary, pending_total, stack, now_ms());
    // EMF is read from the function's log stream; stdout keeps it apart from tracing's stderr.
    println!("{line}");
    Ok(line)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Time until the invocation's deadline minus a margin, so a slow connector never makes the
/// function time out (a timeout would count as an error and retry the whole event).
fn budget(deadline_ms: u64, now_ms: u64) -> Duration {
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    match left.checked_sub(SAFETY_MARGIN) {
        Some(b) if !b.is_zero() => b,
        _ if deadline_ms == 0 => FALLBACK_BUDGET,
        _ => Duration::from_millis(500),
    }
}

fn summary_line(m: &MaintenanceSummary, pending_total: usize, stack: &str, now_ms: u64) -> Value {
    let (s, sp): (&PendingSummary, &SpeakingSummary) = (&m.pending, &m.speaking);
    let sub = &m.subscriptions;
    json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [["Stack"]],
                "Metrics": [
                    {"Name": "PendingDeliveries", "Unit": "Count"},
                    {"Name": "DeliveredFromPending", "Unit": "Count"},
                    {"Name": "UncoveredUsers", "Unit": "Count"},
                    {"Name": "FailedSyncAccounts", "Unit": "Count"}
                ]
            }]
        },
        "Stack": stack,
        "PendingDeliveries": pending_total,
        "DeliveredFromPending": s.delivered,
        "superseded": s.superseded,
        "still_pending": s.still_pending,
        "budget_exhausted": s.budget_exhausted || sp.budget_exhausted || sub.budget_exhausted,
        "speaking_synced": sp.synced,
        "speaking_still_pending": sp.still_pending,
        "overlong_calls": sp.overlong_calls,
        "UncoveredUsers": sub.uncovered.len(),
        "FailedSyncAccounts": sub.failed_accounts.len(),
        "accounts_missing": sub.accounts_missing,
        "subscriptions_created": sub.created + sub.recreated,
        "subscriptions_renewed": sub.renewed,
        "reconciled_users": sub.reconciled_users,
        "repaired": sub.repaired,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use presence_bridge::service::subscriptions::SubscriptionSummary;

    #[test]
    fn budget_stays_below_the_deadline() {
        assert_eq!(budget(60_000, 0), Duration::from_secs(55));
        // Almost out of time: a short try, never a negative or zero budget.
        assert_eq!(budget(3_000, 0), Duration::from_millis(500));
        assert_eq!(budget(0, 1_000), FALLBACK_BUDGET);
    }

    #[test]
    fn summary_is_an_emf_record_of_the_backlog() {
        let s = MaintenanceSummary {
            pending: PendingSummary {
                delivered: 2,
                superseded: 1,
                still_pending: 3,
                budget_exhausted: false,
            },
            speaking: SpeakingSummary {
                synced: 4,
                ..SpeakingSummary::default()
            },
            subscriptions: SubscriptionSummary {
                uncovered: vec!["u1".to_string()],
                accounts_missing: 1,
                ..SubscriptionSummary::default()
            },
        };
        let line = summary_line(&s, 3, "prod", 1_700_000_000_000);
        let metric = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metric["Namespace"], "PresenceBridge");
        assert_eq!(metric["Metrics"][0]["Name"], "PendingDeliveries");
        // Every metric and dimension named in the directive must be a top-level member.
        assert_eq!(line["PendingDeliveries"], 3);
        assert_eq!(line["DeliveredFromPending"], 2);
        assert_eq!(line["Stack"], "prod");
        assert_eq!(line["still_pending"], 3);
        assert_eq!(line["speaking_synced"], 4);
        assert_eq!(line["UncoveredUsers"], 1);
        assert_eq!(line["FailedSyncAccounts"], 0);
    }
}
