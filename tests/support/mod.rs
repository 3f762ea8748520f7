//! Helpers shared by integration tests.
#![allow(dead_code)] // each test binary uses a different part of the shared helpers

pub mod bridge;
pub mod connector;
pub mod graph_sender;
pub mod lambda_emulator;
pub mod moto;
pub mod scrape;
pub mod test_issuer;
pub mod webdriver;

use std::time::{Duration, Instant};

/// Waits for a condition with a deadline, checking it every few milliseconds; how long it took.
pub async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}
