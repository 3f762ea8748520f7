//! Graph asks the bridge to wait longer than a call may take: a 429 to a renewal with
//! `Retry-After: 300`. The wait is kept with the account, so no run calls Graph for it before
//! the five minutes are over (whatever process runs it), and the renewal follows then.

use super::patches;
use super::subscriptions_harness::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_of_five_minutes_on_a_renewal_is_kept_across_runs() {
    let b = Bridge::subscribed(20, 1).await;
    b.advance(40 * MIN);
    b.sandbox
        .graph
        .set_throttle_storm(Some(Duration::from_secs(300)));
    let run = b.maintain().await;
    assert_eq!((run.renewed, run.failed_accounts.len()), (0, 1), "{run:?}");
    assert_eq!(patches(&b), 1);
    let account = b.store.get_account("sync01").await.unwrap().unwrap();
    let shown = account.last_error.unwrap_or_default();
    assert!(shown.contains("next Graph call not before"), "{shown}");
    // Graph would take calls again at once; the bridge still waits out what it was told.
    b.sandbox.graph.set_throttle_storm(None);

    for _ in 0..4 {
        b.advance(MIN);
        let run = b.maintain().await;
        assert_eq!(run.failed_accounts, ["sync01"], "{run:?}");
        assert_eq!(patches(&b), 1, "no renewal within the five minutes");
    }
    b.advance(MIN);
    let run = b.maintain().await;
    assert_eq!(run.renewed, 1, "{run:?}");
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(patches(&b), 2);
    let account = b.store.get_account("sync01").await.unwrap().unwrap();
    assert_eq!((account.graph_backoff, account.last_error), (None, None));
}
