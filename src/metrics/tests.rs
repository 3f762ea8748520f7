//! The metrics as Prometheus reads them: rendered, then parsed with a text-format parser.

use super::*;
use crate::domain::{PresenceValue, SwyxAction, SwyxStatus, SwyxUpdate};
use crate::store::{
    MemoryStore, PendingDelivery, PendingStore, SubscriptionRecord, SubscriptionStore,
};
use prometheus_parse::{Scrape, Value};

fn scrape(m: &Metrics) -> Scrape {
    let text = m.render().expect("render");
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parse")
}

/// The value of a counter or gauge sample (a counter's `_total` sample parses untyped).
fn value(s: &Scrape, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .filter(|x| label.is_none_or(|(k, v)| x.labels.get(k) == Some(v)))
        .find_map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
}

/// A histogram's cumulative bucket counts, as (upper bound, count).
fn buckets(s: &Scrape, name: &str) -> Vec<(f64, f64)> {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .find_map(|x| match &x.value {
            Value::Histogram(b) => Some(b.iter().map(|c| (c.less_than, c.count)).collect()),
            _ => None,
        })
        .unwrap_or_default()
}

fn count_below(s: &Scrape, name: &str, bound: f64) -> f64 {
    buckets(s, name)
        .into_iter()
        .find(|(le, _)| *le == bound)
        .map_or(f64::NAN, |(_, c)| c)
}

#[test]
fn a_fresh_registry_shows_every_counter_and_label_at_zero() {
    let s = scrape(&Metrics::default());
    assert_eq!(value(&s, NOTIFICATIONS, None), Some(0.0));
    assert_eq!(value(&s, PENDING_DELIVERED, None), Some(0.0));
    for outcome in FORWARD_OUTCOMES {
        assert_eq!(value(&s, FORWARDS, Some(("outcome", outcome))), Some(0.0));
    }
    for reason in DropReason::ALL {
        let label = Some(("reason", reason.as_str()));
        assert_eq!(value(&s, DROPPED_ITEMS, label), Some(0.0), "{reason:?}");
    }
    for kind in CALL_REPAIR_KINDS {
        assert_eq!(value(&s, CALLS_REPAIRED, Some(("kind", kind))), Some(0.0));
    }
    for histogram in [TEAMS_TO_SWYX_LATENCY, SWYX_TO_TEAMS_LATENCY] {
        let b = buckets(&s, histogram);
        assert_eq!(b.len(), LATENCY_BUCKETS.len() + 1, "{histogram}: {b:?}");
        assert!(b.iter().all(|(_, c)| *c == 0.0));
    }
    // Not read from the store yet: left out, not shown as 0.
    for gauge in [
        PENDING_DELIVERIES,
        UNCOVERED_USERS,
        NEXT_SUBSCRIPTION_EXPIRY,
    ] {
        assert_eq!(value(&s, gauge, None), None, "{gauge}");
    }
}

#[test]
fn a_delivered_forward_is_counted_and_its_latency_lands_in_its_bucket() {
    let m = Metrics::default();
    m.count_notifications(2);
    m.count_forward(true, Duration::from_millis(3));
    m.count_forward(false, Duration::from_millis(1));
    let s = scrape(&m);
    assert_eq!(value(&s, NOTIFICATIONS, None), Some(2.0));
    let delivered = value(&s, FORWARDS, Some(("outcome", "delivered")));
    let pending = value(&s, FORWARDS, Some(("outcome", "pending")));
    assert_eq!((delivered, pending), (Some(1.0), Some(1.0)));
    // 3 ms: above the 2.5 ms bound, within 5 ms; the pending one has no latency.
    assert_eq!(count_below(&s, TEAMS_TO_SWYX_LATENCY, 0.0025), 0.0);
    assert_eq!(count_below(&s, TEAMS_TO_SWYX_LATENCY, 0.005), 1.0);
    assert_eq!(count_below(&s, TEAMS_TO_SWYX_LATENCY, f64::INFINITY), 1.0);
    assert_eq!(count_below(&s, SWYX_TO_TEAMS_LATENCY, f64::INFINITY), 0.0);
}

#[test]
fn dropped_items_are_counted_under_their_reason() {
    let m = Metrics::default();
    m.count_dropped(DropReason::ClientStateMismatch, 1);
    m.count_dropped(DropReason::ValidationToken, 3);
    let s = scrape(&m);
    let by = |r: DropReason| value(&s, DROPPED_ITEMS, Some(("reason", r.as_str())));
    assert_eq!(by(DropReason::ClientStateMismatch), Some(1.0));
    assert_eq!(by(DropReason::ValidationToken), Some(3.0));
    assert_eq!(by(DropReason::Stale), Some(0.0));
}

#[test]
fn maintenance_sets_the_subscription_gauges_and_an_unknown_pass_keeps_them() {
    let m = Metrics::default();
    m.record_maintenance(&MaintenanceFigures {
        delivered_from_pending: 2,
        uncovered_users: Some(7),
        failing_sync_accounts: Some(1),
    });
    // A pass whose subscription part failed says nothing about coverage.
    m.record_maintenance(&MaintenanceFigures {
        delivered_from_pending: 1,
        ..MaintenanceFigures::default()
    });
    let s = scrape(&m);
    assert_eq!(value(&s, PENDING_DELIVERED, None), Some(3.0));
    assert_eq!(value(&s, UNCOVERED_USERS, None), Some(7.0));
    assert_eq!(value(&s, FAILING_SYNC_ACCOUNTS, None), Some(1.0));
}

fn update(swyx_user_id: &str, now: Timestamp) -> PendingDelivery {
    PendingDelivery {
        update: SwyxUpdate {
            swyx_user_id: swyx_user_id.into(),
            entra_id: format!("entra-{swyx_user_id}"),
            action: SwyxAction::Set(SwyxStatus::Away),
            revision: 1,
            availability: PresenceValue::new("Away"),
            activity: PresenceValue::new("Away"),
            out_of_office: false,
            observed_at: now,
        },
        attempts: 1,
        next_attempt_at: now,
        last_error: None,
        rejected: false,
        not_before: None,
    }
}

fn subscription(id: &str, expires_at: Timestamp) -> SubscriptionRecord {
    SubscriptionRecord {
        id: id.into(),
        client_state: "state".into(),
        expires_at,
        account: None,
        resource: String::new(),
        encryption_certificate_id: None,
        renewed_at: None,
    }
}

#[tokio::test]
async fn a_scrape_reads_the_backlog_and_the_first_expiry_from_the_store() {
    let m = Metrics::default();
    let store = MemoryStore::new();
    let now = Timestamp(1_800_000_000_000);
    let figures = m.refresh_from_store(&store, now).await.unwrap();
    assert_eq!(figures, StoreFigures::default());
    let s = scrape(&m);
    assert_eq!(value(&s, PENDING_DELIVERIES, None), Some(0.0));
    assert_eq!(value(&s, NEXT_SUBSCRIPTION_EXPIRY, None), None, "none yet");

    for user in ["1001", "1002"] {
        store.put_pending(&update(user, now)).await.unwrap();
    }
    store
        .put_subscription(&subscription("late", now.plus_millis(50 * 60_000)))
        .await
        .unwrap();
    store
        .put_subscription(&subscription("soon", now.plus_millis(90_500)))
        .await
        .unwrap();
    m.refresh_from_store(&store, now).await.unwrap();
    let s = scrape(&m);
    assert_eq!(value(&s, PENDING_DELIVERIES, None), Some(2.0));
    assert_eq!(value(&s, NEXT_SUBSCRIPTION_EXPIRY, None), Some(90.0));
}

#[test]
fn only_a_lambda_keeps_what_an_invocation_recorded() {
    let plain = Metrics::default();
    plain.count_notifications(1);
    assert_eq!(plain.take_invocation(), None);

    let lambda = Metrics::for_lambda();
    lambda.count_notifications(3);
    lambda.count_dropped(DropReason::Stale, 1);
    lambda.count_forward(true, Duration::from_millis(4));
    let inv = lambda.take_invocation().expect("lambda");
    assert_eq!(inv.counts[&(NOTIFICATIONS, None)], 3);
    assert_eq!(inv.counts[&(DROPPED_ITEMS, Some(("reason", "stale")))], 1);
    assert_eq!(inv.counts[&(FORWARDS, Some(("outcome", "delivered")))], 1);
    assert_eq!(inv.samples[TEAMS_TO_SWYX_LATENCY], vec![0.004]);
    // Taken: the next invocation starts empty, while the registry keeps counting.
    assert!(lambda.take_invocation().expect("lambda").is_empty());
    assert_eq!(value(&scrape(&lambda), NOTIFICATIONS, None), Some(3.0));
}

/// Every `presence_bridge_…` name a dashboard or the template uses, with a histogram's series
/// suffix taken off.
fn names_used(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for (start, _) in text.match_indices("presence_bridge_") {
        let name: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| ALL.contains(base))
            .map_or(name.clone(), str::to_string);
        names.insert(base);
    }
    names
}

#[test]
fn the_dashboards_use_only_exported_names_and_show_every_one() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let grafana = std::fs::read_to_string(root.join("infra/grafana/presence-bridge.json"))
        .expect("infra/grafana/presence-bridge.json");
    let dashboard: serde_json::Value = serde_json::from_str(&grafana).expect("valid JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let exprs: Vec<&str> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str())
        .collect();
    let grafana_names = names_used(&exprs.join("\n"));
    let template = std::fs::read_to_string(root.join("template.yaml")).expect("template.yaml");
    let template_names = names_used(&template);
    // The CloudWatch dashboard's body: from `DashboardBody` to the next top-level section.
    let body_start = template
        .find("DashboardBody:")
        .expect("template.yaml has a DashboardBody");
    let body = &template[body_start..];
    let body = &body[..body.find("\nOutputs:").unwrap_or(body.len())];
    let cloudwatch_names = names_used(body);
    let exported: std::collections::BTreeSet<String> = ALL.iter().map(|n| n.to_string()).collect();
    for (what, used) in [("Grafana", &grafana_names), ("template", &template_names)] {
        let unknown: Vec<_> = used.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{what} uses names the bridge does not export: {unknown:?}"
        );
    }
    // README (Metrics, step 8) says both show every metric: none is left out on purpose.
    for (what, shown) in [
        ("Grafana panel", &grafana_names),
        ("CloudWatch widget", &cloudwatch_names),
    ] {
        let missing: Vec<_> = exported.difference(shown).collect();
        assert!(missing.is_empty(), "no {what} for {missing:?}");
    }
}

#[test]
fn calls_repaired_are_counted_by_kind_and_kept_for_the_lambda_record() {
    let m = Metrics::for_lambda();
    m.count_calls_repaired(2, 0);
    m.count_calls_repaired(1, 1);
    let s = scrape(&m);
    assert_eq!(
        value(&s, CALLS_REPAIRED, Some(("kind", "ended"))),
        Some(3.0)
    );
    assert_eq!(
        value(&s, CALLS_REPAIRED, Some(("kind", "started"))),
        Some(1.0)
    );
    let inv = m
        .take_invocation()
        .expect("a Lambda's metrics keep the invocation");
    let lines = crate::entry::lambda::emf::invocation_lines(&inv, "prod", 0);
    let ended = lines
        .iter()
        .find(|l| l["kind"] == "ended")
        .expect("an EMF record for the ended calls");
    assert_eq!(ended[CALLS_REPAIRED], 3);
}

#[test]
fn final_set_presence_refusals_are_counted_by_status_and_kept_for_the_lambda_record() {
    let m = Metrics::for_lambda();
    let s = scrape(&m);
    for status in SET_PRESENCE_REFUSED_STATUSES {
        let label = Some(("status", status));
        assert_eq!(
            value(&s, SET_PRESENCE_REFUSED, label),
            Some(0.0),
            "{status}"
        );
    }
    m.count_set_presence_refused(404);
    m.count_set_presence_refused(404);
    m.count_set_presence_refused(403);
    // Not a final refusal: never counted here.
    m.count_set_presence_refused(429);
    let s = scrape(&m);
    let refused = |status| value(&s, SET_PRESENCE_REFUSED, Some(("status", status)));
    assert_eq!(
        (refused("400"), refused("403"), refused("404")),
        (Some(0.0), Some(1.0), Some(2.0))
    );
    let inv = m
        .take_invocation()
        .expect("a Lambda's metrics keep the invocation");
    assert_eq!(
        inv.counts[&(SET_PRESENCE_REFUSED, Some(("status", "404")))],
        2
    );
    assert_eq!(inv.counts.len(), 2);
}
