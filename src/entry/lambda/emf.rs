//! The maintenance run's summary as one CloudWatch Embedded Metric Format record: logged to
//! stdout, it becomes metrics (and alarms) without any extra permission or SDK call.

use crate::maintenance::MaintenanceSummary;
use serde_json::{Value, json};

pub const METRIC_NAMESPACE: &str = "PresenceBridge";

pub fn summary_line(
    m: &MaintenanceSummary,
    pending_total: usize,
    stack: &str,
    now_ms: u64,
) -> Value {
    let (s, sp) = (&m.pending, &m.speaking);
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
        "budget_exhausted": m.budget_exhausted(),
        "failed_parts": m.failed,
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
    use crate::maintenance::MaintenanceSummary;
    use crate::subscriptions::upkeep::SubscriptionSummary;
    use crate::swyx_to_teams::upkeep::SpeakingSummary;
    use crate::teams_to_swyx::redeliver::PendingSummary;

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
            linking: Default::default(),
            failed: Vec::new(),
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
