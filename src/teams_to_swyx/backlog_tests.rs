//! A backlog of pending updates as maintenance meets it: drained several at once, and left for
//! the next pass after one round of failures when the connector is down.

use super::*;

/// `n` users, each with one update pending after a failed first attempt.
async fn backlog(n: usize) -> (World, Vec<String>) {
    let ids: Vec<(String, String)> = (0..n)
        .map(|i| (format!("entra-{i:03}"), format!("swyx-{i:03}")))
        .collect();
    let pairs: Vec<(&str, &str)> = ids.iter().map(|(e, s)| (e.as_str(), s.as_str())).collect();
    let w = World::new(&pairs).await;
    w.connector.set_down(true);
    for (entra_id, _) in &ids {
        let Observed::Forward(update) = w
            .observe(w.judge(), entra_id, seen("Busy", "Busy", 1))
            .await
        else {
            panic!("a first presence is forwarded");
        };
        w.delivery().deliver(&update, 0, BUDGET).await;
    }
    assert_eq!(w.store.count_pending().await.unwrap(), n);
    w.time.advance(Duration::from_secs(5));
    (w, ids.into_iter().map(|(_, swyx)| swyx).collect())
}

#[tokio::test]
async fn a_backlog_larger_than_a_batch_is_delivered_in_one_pass() {
    let (w, _) = backlog(250).await;
    w.connector.set_down(false);
    let summary = deliver_pending(w.delivery(), BUDGET).await.unwrap();
    assert_eq!((summary.delivered, summary.still_pending), (250, 0));
    assert!(!summary.connector_down && !summary.budget_exhausted);
    assert_eq!(w.connector.received().len(), 250);
    assert_eq!(w.store.count_pending().await.unwrap(), 0);
}

#[tokio::test]
async fn a_connector_still_down_ends_the_pass_after_one_round_of_failures() {
    let (w, swyx_ids) = backlog(100).await;
    let summary = deliver_pending(w.delivery(), BUDGET).await.unwrap();
    assert!(summary.connector_down, "{summary:?}");
    let mut tried = 0;
    for id in &swyx_ids {
        let pending = w
            .store
            .get_pending(id)
            .await
            .unwrap()
            .expect("still pending");
        tried += usize::from(pending.attempts > 1);
    }
    assert_eq!(tried, summary.still_pending);
    assert!(
        (1..40).contains(&tried),
        "{tried} of 100 tried: a down connector must not cost every update its timeout"
    );
}
