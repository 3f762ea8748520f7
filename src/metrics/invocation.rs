//! What one Lambda invocation recorded, for its CloudWatch EMF record: a Lambda is not scraped, so
//! each invocation logs its own counts and latency samples under the same metric names.

use std::collections::BTreeMap;
use std::time::Duration;

/// EMF takes at most 100 values in one metric's array.
pub const MAX_SAMPLES: usize = 100;

/// A metric name and, for a labelled one, its (label, value).
pub type CountKey = (&'static str, Option<(&'static str, &'static str)>);

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Invocation {
    pub counts: BTreeMap<CountKey, u64>,
    /// Latencies in seconds, per histogram name (the first [`MAX_SAMPLES`]).
    pub samples: BTreeMap<&'static str, Vec<f64>>,
}

impl Invocation {
    pub(super) fn count(
        &mut self,
        metric: &'static str,
        label: Option<(&'static str, &'static str)>,
        n: u64,
    ) {
        if n > 0 {
            *self.counts.entry((metric, label)).or_default() += n;
        }
    }

    pub(super) fn sample(&mut self, metric: &'static str, latency: Duration) {
        let values = self.samples.entry(metric).or_default();
        if values.len() < MAX_SAMPLES {
            values.push(latency.as_secs_f64());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.samples.is_empty()
    }
}
