//! Graph asks the bridge to wait longer than a call may take: a 429 to a renewal with
//! `Retry-After: 300`. The wait is kept with the account, so no run calls Graph for it before
//! the five minutes are over (whatever process runs it), and the renewal follows then. A wait of
//! years is cut to ten minutes.

use super::patches;
use super::subscriptions_harness::*;
use presence_bridge::domain::Timestamp;
use presence_bridge::store::SyncAccount;
use std::time::Duration;

/// A bridge 40 minutes into its subscription's life whose renewal Graph answered 429 with
/// `retry_after`; the account as that run left it. Graph takes calls again right after.
async fn renewal_throttled(retry_after: Duration) -> (Bridge, SyncAccount) {
    let b = Bridge::subscribed(20, 1).await;
    b.advance(40 * MIN);
    b.sandbox.graph.set_throttle_storm(Some(retry_after));
    let run = b.maintain().await;
    assert_eq!((run.renewed, run.failed_accounts.len()), (0, 1), "{run:?}");
    assert_eq!(patches(&b), 1);
    b.sandbox.graph.set_throttle_storm(None);
    let account = b.store.get_account("sync01").await.unwrap().unwrap();
    (b, account)
}

/// The next run renews the subscription, and the account shows no wait and no error.
async fn renewed_next(b: &Bridge) {
    let run = b.maintain().await;
    assert_eq!(run.renewed, 1, "{run:?}");
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(patches(b), 2);
    let account = b.store.get_account("sync01").await.unwrap().unwrap();
    assert_eq!((account.graph_backoff, account.last_error), (None, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_of_five_minutes_on_a_renewal_is_kept_across_runs() {
    let (b, account) = renewal_throttled(Duration::from_secs(300)).await;
    let shown = account.last_error.unwrap_or_default();
    assert!(shown.contains("next Graph call not before"), "{shown}");

    // Graph would take calls again at once; the bridge still waits out what it was told.
    for _ in 0..4 {
        b.advance(MIN);
        let run = b.maintain().await;
        assert_eq!(run.failed_accounts, ["sync01"], "{run:?}");
        assert_eq!(patches(&b), 1, "no renewal within the five minutes");
    }
    b.advance(MIN);
    renewed_next(&b).await;
}

/// `Retry-After: 999999999` (31 years: a typo, or a hostile answer) holds Graph for ten minutes at
/// most, for the process (its throttle gate) and for the account's upkeep alike: the renewal
/// follows then, before the subscription lapses, not after a restart or `accounts add`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_retry_after_holds_graph_ten_minutes_at_most() {
    let (b, account) = renewal_throttled(Duration::from_secs(999_999_999)).await;
    let now = Timestamp(b.sandbox.clock.now_ms());
    let until = account.graph_backoff.expect("a wait is kept").not_before;
    assert!(until <= now.plus_duration(10 * MIN), "waits until {until}");

    b.advance(10 * MIN);
    renewed_next(&b).await;
}
