//! The gauges that come from the store and from maintenance, encoded at each scrape from their
//! last known values. A value not known yet is left out rather than shown as 0: "no subscription
//! expires" and "no user is uncovered" must not read like "expires now" or "all covered" before
//! anyone looked.

use super::{
    FAILING_SYNC_ACCOUNTS, MaintenanceFigures, NEXT_SUBSCRIPTION_EXPIRY, PENDING_DELIVERIES,
    StoreFigures, UNCOVERED_USERS,
};
use crate::domain::Timestamp;
use crate::store::{Store, StoreResult};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use std::sync::Mutex;

/// What the store's gauges are made of, as read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreReading {
    pending_deliveries: usize,
    next_expiry: Option<Timestamp>,
}

impl StoreReading {
    /// The pending deliveries and the subscriptions, both at once: the maintenance Lambda answers
    /// after them.
    pub async fn read(store: &dyn Store) -> StoreResult<Self> {
        let (pending_deliveries, subscriptions) =
            tokio::try_join!(store.count_pending(), store.list_subscriptions())?;
        Ok(Self {
            pending_deliveries,
            next_expiry: subscriptions.iter().map(|s| s.expires_at).min(),
        })
    }

    /// The figures at `now` (the next expiry counted from it).
    pub fn at(&self, now: Timestamp) -> StoreFigures {
        StoreFigures {
            pending_deliveries: self.pending_deliveries,
            next_subscription_expiry_secs: self
                .next_expiry
                .map(|at| (at.0 - now.0).div_euclid(1000)),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct StoreGauges {
    values: Mutex<Values>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Values {
    pending: Option<usize>,
    uncovered: Option<usize>,
    failing: Option<usize>,
    next_expiry_secs: Option<i64>,
}

impl StoreGauges {
    fn update(&self, change: impl FnOnce(&mut Values)) {
        if let Ok(mut v) = self.values.lock() {
            change(&mut v);
        }
    }

    pub(super) fn set_pending(&self, pending: usize) {
        self.update(|v| v.pending = Some(pending));
    }

    pub(super) fn set_store_figures(&self, f: &StoreFigures) {
        self.update(|v| {
            v.pending = Some(f.pending_deliveries);
            v.next_expiry_secs = f.next_subscription_expiry_secs;
        });
    }

    pub(super) fn set_subscription_health(&self, f: &MaintenanceFigures) {
        self.update(|v| {
            if let Some(n) = f.uncovered_users {
                v.uncovered = Some(n);
            }
            if let Some(n) = f.failing_sync_accounts {
                v.failing = Some(n);
            }
        });
    }
}

impl Collector for StoreGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let v = self.values.lock().map(|v| *v).unwrap_or_default();
        let gauges: [(&str, &str, Option<i64>); 4] = [
            (
                PENDING_DELIVERIES,
                "Swyx updates waiting for delivery.",
                v.pending.map(|n| n as i64),
            ),
            (
                UNCOVERED_USERS,
                "Linked users no sync account has room for (add sync accounts).",
                v.uncovered.map(|n| n as i64),
            ),
            (
                FAILING_SYNC_ACCOUNTS,
                "Sync accounts whose upkeep failed in the last maintenance pass.",
                v.failing.map(|n| n as i64),
            ),
            (
                NEXT_SUBSCRIPTION_EXPIRY,
                "Seconds until the first Graph subscription expires.",
                v.next_expiry_secs,
            ),
        ];
        // Help texts end with a period, as the registry writes those of registered metrics.
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let gauge = ConstGauge::new(value);
                let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
                gauge.encode(metric)?;
            }
        }
        Ok(())
    }
}
