//! The bridge's metrics: one prometheus-client registry per [`App`](crate::app::App), so every
//! process (and every test's app) counts only its own; no global recorder. `serve` renders them at
//! `GET /metrics` in the OpenMetrics text format (Prometheus' text exposition format as Prometheus
//! asks for it first); the Lambda functions write the same names as CloudWatch EMF
//! (`entry/lambda/emf.rs`): each webhook invocation what it recorded ([`Invocation`]), the
//! maintenance run its summary.
//!
//! Gauges that come from the store are read at scrape time from small record sets only (the
//! pending deliveries: one per Swyx user with an undelivered update; the subscriptions: one per
//! 650 users), never by scanning every user. The two that need every linked user (uncovered
//! users, failing sync accounts) are set by the maintenance pass, which plans the shards anyway;
//! they are at most one maintenance interval old.

mod drop_reason;
mod invocation;
mod names;
mod store_gauges;
#[cfg(test)]
mod tests;

use crate::domain::Timestamp;
use crate::store::{Store, StoreResult};
pub use drop_reason::DropReason;
pub use invocation::Invocation;
pub use names::*;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store_gauges::StoreGauges;
pub use store_gauges::StoreReading;

/// Seconds; both directions aim at well under a second and give up on a request after 2 s.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What the text format is served as: Prometheus asks for OpenMetrics first.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What a maintenance pass tells the metrics. `None`: not known from this pass (subscriptions
/// not configured, or their part failed), so the last value stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceFigures {
    pub delivered_from_pending: usize,
    pub uncovered_users: Option<usize>,
    pub failing_sync_accounts: Option<usize>,
}

/// The store's figures as read at one scrape (also the maintenance Lambda's EMF record).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreFigures {
    pub pending_deliveries: usize,
    /// `None` when there is no subscription.
    pub next_subscription_expiry_secs: Option<i64>,
}

type Labels = [(&'static str, &'static str); 1];

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    notifications: Counter,
    forwards: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    pending_delivered: Counter,
    teams_to_swyx: Histogram,
    swyx_to_teams: Histogram,
    own_status: Family<Labels, Counter>,
    calls_repaired: Family<Labels, Counter>,
    anomalies: Family<Labels, Counter>,
    set_presence_refused: Family<Labels, Counter>,
    store: Arc<StoreGauges>,
    /// Lambda only: what the current invocation recorded, written as EMF when it ends.
    invocation: Option<Mutex<Invocation>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(false)
    }
}

/// prometheus-client appends `_total` to a counter's name itself.
fn counter_name(name: &'static str) -> &'static str {
    name.strip_suffix("_total").unwrap_or(name)
}

impl Metrics {
    /// As [`Metrics::default`], and every recording also kept for the invocation's EMF record
    /// ([`Metrics::take_invocation`]).
    pub fn for_lambda() -> Self {
        Self::new(true)
    }

    fn new(per_invocation: bool) -> Self {
        let mut registry = Registry::default();
        let notifications = Counter::default();
        registry.register(
            counter_name(NOTIFICATIONS),
            "Graph notification items received (in collections whose validation was checked)",
            notifications.clone(),
        );
        let forwards = Family::<Labels, Counter>::default();
        registry.register(
            counter_name(FORWARDS),
            "Swyx updates forwarded from notifications: delivered within the request, or kept pending",
            forwards.clone(),
        );
        let dropped = Family::<Labels, Counter>::default();
        registry.register(
            counter_name(DROPPED_ITEMS),
            "Notification items that changed nothing, by reason",
            dropped.clone(),
        );
        let pending_delivered = Counter::default();
        registry.register(
            counter_name(PENDING_DELIVERED),
            "Pending Swyx updates delivered by maintenance",
            pending_delivered.clone(),
        );
        let teams_to_swyx = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            TEAMS_TO_SWYX_LATENCY,
            "Teams to Swyx: Graph POST received until the connector took the update",
            teams_to_swyx.clone(),
        );
        let swyx_to_teams = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            SWYX_TO_TEAMS_LATENCY,
            "Swyx to Teams: connector event received until Graph took the presence call",
            swyx_to_teams.clone(),
        );
        let own_status = Family::<Labels, Counter>::default();
        registry.register(
            counter_name(SWYX_STATUS_TO_TEAMS),
            "Swyx statuses set by hand sent to Teams as a preferred presence, by outcome",
            own_status.clone(),
        );
        let calls_repaired = Family::<Labels, Counter>::default();
        registry.register(
            counter_name(CALLS_REPAIRED),
            "Calls repaired against Swyx's call state (a lost call event), by kind",
            calls_repaired.clone(),
        );
        let anomalies = Family::<Labels, Counter>::default();
        registry.register(
            counter_name(CONNECTOR_ANOMALIES),
            "What a connector did that the operator should look at, by kind",
            anomalies.clone(),
        );
        let set_presence_refused = Family::<Labels, Counter>::default();
        registry.register(
            counter_name(SET_PRESENCE_REFUSED),
            "setPresence calls Graph refused for good (not retried for the user's current calls), by status",
            set_presence_refused.clone(),
        );
        let store = Arc::new(StoreGauges::default());
        registry.register_collector(Box::new(Arc::clone(&store)));
        // Every label value from the start, at zero: a rate over a series that appears late
        // misses its first increase.
        for outcome in FORWARD_OUTCOMES {
            let _ = forwards.get_or_create(&[("outcome", outcome)]);
        }
        for reason in DropReason::ALL {
            let _ = dropped.get_or_create(&[("reason", reason.as_str())]);
        }
        for outcome in OWN_STATUS_OUTCOMES {
            let _ = own_status.get_or_create(&[("outcome", outcome)]);
        }
        for kind in CALL_REPAIR_KINDS {
            let _ = calls_repaired.get_or_create(&[("kind", kind)]);
        }
        for kind in CONNECTOR_ANOMALY_KINDS {
            let _ = anomalies.get_or_create(&[("kind", kind)]);
        }
        for status in SET_PRESENCE_REFUSED_STATUSES {
            let _ = set_presence_refused.get_or_create(&[("status", status)]);
        }
        Self {
            registry,
            notifications,
            forwards,
            dropped,
            pending_delivered,
            teams_to_swyx,
            swyx_to_teams,
            own_status,
            calls_repaired,
            anomalies,
            set_presence_refused,
            store,
            invocation: per_invocation.then(|| Mutex::new(Invocation::default())),
        }
    }

    fn invocation(&self, record: impl FnOnce(&mut Invocation)) {
        if let Some(Ok(mut inv)) = self.invocation.as_ref().map(Mutex::lock) {
            record(&mut inv);
        }
    }

    /// The items of one collection that reached the checks.
    pub fn count_notifications(&self, items: usize) {
        self.notifications.inc_by(items as u64);
        self.invocation(|i| i.count(NOTIFICATIONS, None, items as u64));
    }

    pub fn count_dropped(&self, reason: DropReason, items: usize) {
        let label = ("reason", reason.as_str());
        self.dropped.get_or_create(&[label]).inc_by(items as u64);
        self.invocation(|i| i.count(DROPPED_ITEMS, Some(label), items as u64));
    }

    /// One forwarded update; its latency counts only when it reached the connector.
    pub fn count_forward(&self, delivered: bool, since_received: Duration) {
        let label = ("outcome", FORWARD_OUTCOMES[usize::from(!delivered)]);
        self.forwards.get_or_create(&[label]).inc();
        self.invocation(|i| i.count(FORWARDS, Some(label), 1));
        if delivered {
            self.teams_to_swyx.observe(since_received.as_secs_f64());
            self.invocation(|i| i.sample(TEAMS_TO_SWYX_LATENCY, since_received));
        }
    }

    pub fn observe_swyx_to_teams(&self, since_received: Duration) {
        self.swyx_to_teams.observe(since_received.as_secs_f64());
        self.invocation(|i| i.sample(SWYX_TO_TEAMS_LATENCY, since_received));
    }

    /// One `status.changed` that Graph took as a preferred presence (or that reset it).
    pub fn count_own_status_applied(&self) {
        self.count_own_status(OWN_STATUS_OUTCOMES[0]);
    }

    /// One `status.changed` that Graph did not take within the request.
    pub fn count_own_status_failed(&self) {
        self.count_own_status(OWN_STATUS_OUTCOMES[1]);
    }

    fn count_own_status(&self, outcome: &'static str) {
        let label = ("outcome", outcome);
        self.own_status.get_or_create(&[label]).inc();
        self.invocation(|i| i.count(SWYX_STATUS_TO_TEAMS, Some(label), 1));
    }

    /// Calls maintenance ended and started to match Swyx's call state.
    pub fn count_calls_repaired(&self, ended: usize, started: usize) {
        for (kind, n) in CALL_REPAIR_KINDS.into_iter().zip([ended, started]) {
            if n > 0 {
                let label = ("kind", kind);
                self.calls_repaired.get_or_create(&[label]).inc_by(n as u64);
                self.invocation(|i| i.count(CALLS_REPAIRED, Some(label), n as u64));
            }
        }
    }

    /// One connector event of a type the bridge does not know.
    pub fn count_unknown_event_type(&self) {
        self.count_anomaly(CONNECTOR_ANOMALY_KINDS[0]);
    }

    /// One status update the connector refused for good.
    pub fn count_update_refused(&self) {
        self.count_anomaly(CONNECTOR_ANOMALY_KINDS[1]);
    }

    fn count_anomaly(&self, kind: &'static str) {
        let label = ("kind", kind);
        self.anomalies.get_or_create(&[label]).inc();
        self.invocation(|i| i.count(CONNECTOR_ANOMALIES, Some(label), 1));
    }

    /// One setPresence Graph refused for good with `status` (400, 403 or 404; others are not
    /// final and not counted).
    pub fn count_set_presence_refused(&self, status: u16) {
        let status = match status {
            400 => SET_PRESENCE_REFUSED_STATUSES[0],
            403 => SET_PRESENCE_REFUSED_STATUSES[1],
            404 => SET_PRESENCE_REFUSED_STATUSES[2],
            _ => return,
        };
        let label = ("status", status);
        self.set_presence_refused.get_or_create(&[label]).inc();
        self.invocation(|i| i.count(SET_PRESENCE_REFUSED, Some(label), 1));
    }

    pub fn record_maintenance(&self, figures: &MaintenanceFigures) {
        self.pending_delivered
            .inc_by(figures.delivered_from_pending as u64);
        self.store.set_subscription_health(figures);
    }

    /// Reads the store's gauges now (see the module comment for why these are cheap).
    pub async fn refresh_from_store(
        &self,
        store: &dyn Store,
        now: Timestamp,
    ) -> StoreResult<StoreFigures> {
        let reading = StoreReading::read(store).await?;
        Ok(self.set_store_reading(&reading, now))
    }

    /// The store's gauges from what was read earlier, at `now`.
    pub fn set_store_reading(&self, reading: &StoreReading, now: Timestamp) -> StoreFigures {
        let figures = reading.at(now);
        self.store.set_store_figures(&figures);
        figures
    }

    /// A pending count read elsewhere (the health check): the gauge follows it.
    pub fn set_pending_deliveries(&self, pending: usize) {
        self.store.set_pending(pending);
    }

    /// The text exposition of every metric, ending with `# EOF`. Fails only if an encoder does.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// What the invocation recorded since the last call (Lambda only; `None` otherwise).
    pub fn take_invocation(&self) -> Option<Invocation> {
        let mut inv = self.invocation.as_ref()?.lock().ok()?;
        Some(std::mem::take(&mut *inv))
    }
}
