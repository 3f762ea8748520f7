//! The demo's latency figures: percentiles of what it timed itself, and of the bridge's own
//! latency histogram as an operator's Prometheus reads it from `/metrics`.

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySummary {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
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

/// The cumulative buckets `(upper bound in seconds, count)` of histogram `name` in a text
/// exposition, sorted by bound. Lines that are not its buckets are skipped.
fn buckets(exposition: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut buckets: Vec<(f64, f64)> = exposition
        .lines()
        .filter_map(|line| {
            let (le, rest) = line.strip_prefix(&prefix)?.split_once("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, rest.split_whitespace().next()?.parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// Percentiles of a histogram the way Prometheus' `histogram_quantile` estimates them: linear
/// within the bucket the rank falls in; a rank in the `+Inf` bucket gives the largest finite
/// bound. `max_ms` is the upper bound of the highest bucket with samples.
pub fn from_histogram(exposition: &str, name: &str) -> LatencySummary {
    let buckets = buckets(exposition, name);
    let total = buckets.last().map_or(0.0, |b| b.1);
    if total <= 0.0 {
        return LatencySummary::default();
    }
    let largest_finite = buckets
        .iter()
        .rev()
        .find(|b| b.0.is_finite())
        .map_or(0.0, |b| b.0);
    let quantile = |q: f64| -> f64 {
        let rank = q * total;
        let mut below = (0.0, 0.0);
        for &(le, count) in &buckets {
            if count >= rank {
                if !le.is_finite() {
                    return largest_finite * 1000.0;
                }
                let share = if count > below.1 {
                    (rank - below.1) / (count - below.1)
                } else {
                    1.0
                };
                return (below.0 + (le - below.0) * share) * 1000.0;
            }
            below = (le, count);
        }
        largest_finite * 1000.0
    };
    let mut highest = 0.0;
    let mut previous = 0.0;
    for &(le, count) in &buckets {
        if count > previous {
            highest = if le.is_finite() { le } else { largest_finite };
        }
        previous = count;
    }
    LatencySummary {
        samples: total as usize,
        p50_ms: quantile(0.5),
        p99_ms: quantile(0.99),
        max_ms: highest * 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metrics, TEAMS_TO_SWYX_LATENCY};
    use std::time::Duration;

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
    fn histogram_percentiles_interpolate_within_the_bucket_like_prometheus() {
        let m = Metrics::default();
        // 50 forwards between 1 and 2.5 ms, 50 between 5 and 10 ms.
        for _ in 0..50 {
            m.count_forward(true, Duration::from_micros(1_500));
            m.count_forward(true, Duration::from_millis(7));
        }
        let text = m.render().unwrap();
        let s = from_histogram(&text, TEAMS_TO_SWYX_LATENCY);
        assert_eq!(s.samples, 100);
        // Rank 50 is the last sample of the 1–2.5 ms bucket: its upper bound.
        assert!((s.p50_ms - 2.5).abs() < 1e-9, "{s:?}");
        // Rank 99 is 49/50 of the way through the 5–10 ms bucket.
        assert!((s.p99_ms - 9.9).abs() < 1e-9, "{s:?}");
        assert!((s.max_ms - 10.0).abs() < 1e-9, "{s:?}");
        assert_eq!(
            from_histogram("", TEAMS_TO_SWYX_LATENCY),
            LatencySummary::default()
        );
    }
}
