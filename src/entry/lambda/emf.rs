//! The Lambda functions' metrics as CloudWatch Embedded Metric Format records: logged to stdout,
//! they become metrics (and alarms) without any extra permission or SDK call. The names are the
//! ones `serve` exports at `/metrics` ([`crate::metrics`]), so one vocabulary serves both.
//! Each webhook invocation writes what it recorded; the maintenance run its summary and the
//! store's gauges.

use crate::maintenance::MaintenanceSummary;
use crate::metrics::{
    FAILING_SYNC_ACCOUNTS, Invocation, NEXT_SUBSCRIPTION_EXPIRY, PENDING_DELIVERED,
    PENDING_DELIVERIES, StoreFigures, UNCOVERED_USERS,
};
use serde_json::{Map, Value, json};

pub const METRIC_NAMESPACE: &str = "PresenceBridge";

/// One EMF record: `metrics` (name, unit) as members of `members`, under the dimension set
/// `Stack` plus `dimensions`, whose values must be members too.
fn record(
    stack: &str,
    now_ms: u64,
    dimensions: &[&str],
    metrics: &[(&str, &str)],
    mut members: Map<String, Value>,
) -> Value {
    let mut dimension_set = vec!["Stack"];
    dimension_set.extend_from_slice(dimensions);
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, unit)| json!({ "Name": name, "Unit": unit }))
        .collect();
    members.insert("Stack".into(), json!(stack));
    members.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [dimension_set],
                "Metrics": definitions,
            }]
        }),
    );
    Value::Object(members)
}

/// A webhook invocation's records: one with its unlabelled counts and latency samples, one per
/// labelled count (its label is a dimension). None when it recorded nothing (a handshake).
pub fn invocation_lines(inv: &Invocation, stack: &str, now_ms: u64) -> Vec<Value> {
    let mut lines = Vec::new();
    let mut plain = Map::new();
    let mut plain_metrics = Vec::new();
    for ((name, label), n) in &inv.counts {
        match label {
            None => {
                plain.insert(name.to_string(), json!(n));
                plain_metrics.push((*name, "Count"));
            }
            Some((key, value)) => {
                let mut members = Map::new();
                members.insert(name.to_string(), json!(n));
                members.insert(key.to_string(), json!(value));
                lines.push(record(stack, now_ms, &[*key], &[(*name, "Count")], members));
            }
        }
    }
    for (name, seconds) in &inv.samples {
        plain.insert(name.to_string(), json!(seconds));
        plain_metrics.push((*name, "Seconds"));
    }
    if !plain_metrics.is_empty() {
        lines.insert(0, record(stack, now_ms, &[], &plain_metrics, plain));
    }
    lines
}

/// The maintenance run's record: the backlog and coverage gauges (behind the alarms), what it
/// delivered, and the rest of its summary as plain members for the log reader.
pub fn summary_line(
    m: &MaintenanceSummary,
    store: &StoreFigures,
    stack: &str,
    now_ms: u64,
) -> Value {
    let (s, sp) = (&m.pending, &m.speaking);
    let sub = &m.subscriptions;
    let mut metrics = vec![
        (PENDING_DELIVERIES, "Count"),
        (PENDING_DELIVERED, "Count"),
        (UNCOVERED_USERS, "Count"),
        (FAILING_SYNC_ACCOUNTS, "Count"),
    ];
    let summary = json!({
        PENDING_DELIVERIES: store.pending_deliveries,
        PENDING_DELIVERED: s.delivered,
        UNCOVERED_USERS: sub.uncovered.len(),
        FAILING_SYNC_ACCOUNTS: sub.failed_accounts.len(),
        "superseded": s.superseded,
        "still_pending": s.still_pending,
        "budget_exhausted": m.budget_exhausted(),
        "failed_parts": m.failed,
        "speaking_synced": sp.synced,
        "speaking_still_pending": sp.still_pending,
        "overlong_calls": sp.overlong_calls,
        "accounts_missing": sub.accounts_missing,
        "subscriptions_created": sub.created + sub.recreated,
        "subscriptions_renewed": sub.renewed,
        "reconciled_users": sub.reconciled_users,
        "repaired": sub.repaired,
    });
    let mut members = match summary {
        Value::Object(members) => members,
        _ => Map::new(),
    };
    if let Some(secs) = store.next_subscription_expiry_secs {
        members.insert(NEXT_SUBSCRIPTION_EXPIRY.into(), json!(secs));
        metrics.push((NEXT_SUBSCRIPTION_EXPIRY, "Seconds"));
    }
    record(stack, now_ms, &[], &metrics, members)
}

#[cfg(test)]
mod tests;
