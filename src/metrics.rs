//! In-process figures of the bridge, served at `GET /metrics` by `serve`: how many changes were
//! forwarded and how long each took from the Graph POST's arrival to the connector request.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Keeps the latest samples only, so memory stays bounded in a long-running server.
const MAX_SAMPLES: usize = 100_000;

#[derive(Debug, Default)]
pub struct Metrics {
    forward_latency_us: Mutex<VecDeque<u64>>,
    forwarded: AtomicU64,
    kept_pending: AtomicU64,
    notifications: AtomicU64,
    dropped_items: AtomicU64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSnapshot {
    pub notifications: u64,
    pub dropped_items: u64,
    pub forwarded: u64,
    pub kept_pending: u64,
    /// Graph POST received → connector request started.
    pub forward_latency: LatencySummary,
}

impl Metrics {
    pub fn record_forward_start(&self, since_received: Duration) {
        if let Ok(mut samples) = self.forward_latency_us.lock() {
            if samples.len() == MAX_SAMPLES {
                samples.pop_front();
            }
            samples.push_back(since_received.as_micros() as u64);
        }
    }

    pub fn count_forwarded(&self, delivered: bool) {
        if delivered {
            self.forwarded.fetch_add(1, Ordering::Relaxed);
        } else {
            self.kept_pending.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn count_notification(&self, items: usize, dropped: usize) {
        self.notifications
            .fetch_add(items as u64, Ordering::Relaxed);
        self.dropped_items
            .fetch_add(dropped as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut samples: Vec<u64> = self
            .forward_latency_us
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        samples.sort_unstable();
        MetricsSnapshot {
            notifications: self.notifications.load(Ordering::Relaxed),
            dropped_items: self.dropped_items.load(Ordering::Relaxed),
            forwarded: self.forwarded.load(Ordering::Relaxed),
            kept_pending: self.kept_pending.load(Ordering::Relaxed),
            forward_latency: summarize(&samples),
        }
    }
}

/// Nearest-rank percentiles of sorted microsecond samples, in milliseconds.
pub fn summarize(sorted_us: &[u64]) -> LatencySummary {
    let pick = |p: f64| -> f64 {
        if sorted_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
        sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
    };
    LatencySummary {
        samples: sorted_us.len(),
        p50_ms: pick(50.0),
        p99_ms: pick(99.0),
        max_ms: sorted_us.last().map_or(0.0, |v| *v as f64 / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        let s = summarize(&samples);
        assert_eq!(
            (s.samples, s.p50_ms, s.p99_ms, s.max_ms),
            (100, 50.0, 99.0, 100.0)
        );
        assert_eq!(summarize(&[]), LatencySummary::default());
    }

    #[test]
    fn snapshot_counts_and_bounds_memory() {
        let m = Metrics::default();
        for i in 0..(MAX_SAMPLES + 10) {
            m.record_forward_start(Duration::from_micros(i as u64));
        }
        m.count_forwarded(true);
        m.count_forwarded(false);
        let s = m.snapshot();
        assert_eq!(s.forward_latency.samples, MAX_SAMPLES);
        assert_eq!((s.forwarded, s.kept_pending), (1, 1));
    }
}
