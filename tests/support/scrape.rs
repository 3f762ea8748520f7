//! `GET /metrics` read as Prometheus reads it: fetched, then parsed with a text-format parser.
#![allow(dead_code)] // each test binary uses a different part

use prometheus_parse::{Scrape as Parsed, Value};

pub struct Scrape(Parsed);

/// Fetches and parses `url`; the answer must be a text exposition.
pub async fn scrape(url: &str) -> Scrape {
    let resp = reqwest::get(url).await.expect("GET /metrics");
    assert_eq!(resp.status(), 200, "{url}");
    let content_type = resp.headers()["content-type"].to_str().unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = resp.text().await.expect("body");
    assert!(text.ends_with("# EOF\n"), "a complete exposition: {text}");
    let parsed = Parsed::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    Scrape(parsed)
}

impl Scrape {
    /// A counter's or gauge's value; `label` picks one series of a labelled metric. `None` when
    /// the metric is not exported (a gauge not known yet).
    pub fn value(&self, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .find_map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
                _ => None,
            })
    }

    /// How many observations a histogram holds (its `+Inf` bucket).
    pub fn observations(&self, histogram: &str) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == histogram)
            .find_map(|s| match &s.value {
                Value::Histogram(buckets) => buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map(|b| b.count),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no histogram {histogram}"))
    }

    /// The sum of a histogram's observations.
    pub fn sum(&self, histogram: &str) -> f64 {
        self.value(&format!("{histogram}_sum"), None)
            .unwrap_or_else(|| panic!("no {histogram}_sum"))
    }
}
