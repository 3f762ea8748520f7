use super::*;
use crate::maintenance::MaintenanceSummary;
use crate::metrics::{
    DROPPED_ITEMS, DropReason, FORWARDS, Metrics, NOTIFICATIONS, TEAMS_TO_SWYX_LATENCY,
};
use crate::subscriptions::upkeep::SubscriptionSummary;
use crate::swyx_to_teams::upkeep::SpeakingSummary;
use crate::teams_to_swyx::redeliver::PendingSummary;
use std::time::Duration;

/// Every metric a record declares must be a top-level member, and so must every dimension.
fn assert_valid(line: &Value) {
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], METRIC_NAMESPACE);
    for metric in directive["Metrics"].as_array().expect("metrics") {
        let name = metric["Name"].as_str().expect("name");
        assert!(!line[name].is_null(), "{name} missing in {line}");
    }
    for dimension in directive["Dimensions"][0].as_array().expect("dimensions") {
        let name = dimension.as_str().expect("dimension");
        assert!(line[name].is_string(), "{name} missing in {line}");
    }
}

#[test]
fn the_maintenance_record_carries_the_gauges_under_the_prometheus_names() {
    let s = MaintenanceSummary {
        pending: PendingSummary {
            delivered: 2,
            superseded: 1,
            still_pending: 3,
            budget_exhausted: false,
            ..PendingSummary::default()
        },
        speaking: SpeakingSummary {
            synced: 4,
            ..SpeakingSummary::default()
        },
        read_back: Default::default(),
        calls: Default::default(),
        swyx_truth: Default::default(),
        linking: Default::default(),
        subscriptions: SubscriptionSummary {
            uncovered: vec!["u1".to_string()],
            accounts_missing: 1,
            ..SubscriptionSummary::default()
        },
        failed: Vec::new(),
        store_outage: false,
    };
    let store = StoreFigures {
        pending_deliveries: 3,
        next_subscription_expiry_secs: Some(1_500),
    };
    let line = summary_line(&s, &store, "prod", 1_700_000_000_000);
    assert_valid(&line);
    assert_eq!(line["presence_bridge_pending_deliveries"], 3);
    assert_eq!(line["presence_bridge_pending_delivered_total"], 2);
    assert_eq!(line["presence_bridge_uncovered_users"], 1);
    assert_eq!(line["presence_bridge_failing_sync_accounts"], 0);
    assert_eq!(
        line["presence_bridge_next_subscription_expiry_seconds"],
        1_500
    );
    assert_eq!(line["Stack"], "prod");
    assert_eq!(
        (
            line["still_pending"].clone(),
            line["speaking_synced"].clone()
        ),
        (json!(3), json!(4))
    );

    // No subscription: no expiry metric rather than a made-up number.
    let line = summary_line(&s, &StoreFigures::default(), "prod", 0);
    assert_valid(&line);
    assert!(line.get(NEXT_SUBSCRIPTION_EXPIRY).is_none(), "{line}");
}

#[test]
fn an_invocation_writes_its_counts_and_latencies_with_labels_as_dimensions() {
    let m = Metrics::for_lambda();
    m.count_notifications(3);
    m.count_forward(true, Duration::from_millis(7));
    m.count_forward(false, Duration::from_millis(1));
    m.count_dropped(DropReason::ClientStateMismatch, 1);
    let inv = m.take_invocation().expect("lambda");
    let lines = invocation_lines(&inv, "prod", 1_700_000_000_000);
    lines.iter().for_each(assert_valid);

    let plain = &lines[0];
    assert_eq!(plain[NOTIFICATIONS], 3);
    assert_eq!(plain[TEAMS_TO_SWYX_LATENCY], json!([0.007]));
    let labelled = |name: &str, key: &str, value: &str| {
        lines
            .iter()
            .find(|l| l[key] == value && !l[name].is_null())
            .map(|l| l[name].clone())
    };
    assert_eq!(labelled(FORWARDS, "outcome", "delivered"), Some(json!(1)));
    assert_eq!(labelled(FORWARDS, "outcome", "pending"), Some(json!(1)));
    assert_eq!(
        labelled(DROPPED_ITEMS, "reason", "client_state_mismatch"),
        Some(json!(1))
    );
    assert_eq!(lines.len(), 4, "{lines:?}");

    // A validation handshake records nothing and writes nothing.
    let inv = m.take_invocation().expect("lambda");
    assert!(invocation_lines(&inv, "prod", 0).is_empty());
}
