//! Subscriptions that never lapse, against the sandbox on its controllable clock: sync accounts,
//! sharding, renewal, lifecycle notifications, reconciliation, outages and throttling.

#[path = "subscriptions/graph_waits.rs"]
mod graph_waits;
#[path = "subscriptions/recovery.rs"]
mod recovery;
#[path = "subscriptions/slow_connector.rs"]
mod slow_connector;
#[path = "subscriptions/slow_graph.rs"]
mod slow_graph;
#[path = "subscriptions/harness.rs"]
mod subscriptions_harness;
#[path = "subscriptions/sync_accounts.rs"]
mod sync_accounts;

use presence_bridge::cli::accounts;
use presence_bridge::domain::Timestamp;
use presence_bridge::store::UserLink;
use std::collections::BTreeSet;
use std::time::Instant;
use subscriptions_harness::*;

fn route(b: &Bridge, key: &str) -> u64 {
    b.sandbox
        .graph
        .stats()
        .requests_by_route
        .get(key)
        .copied()
        .unwrap_or(0)
}

fn patches(b: &Bridge) -> u64 {
    b.sandbox
        .graph
        .stats()
        .requests_by_route
        .iter()
        .filter(|(k, _)| k.starts_with("PATCH"))
        .map(|(_, v)| *v)
        .sum()
}

/// The sandbox's live subscriptions cover every linked user exactly once, ≤ `per` each.
fn assert_covered_once(b: &Bridge, per: usize) {
    let subs = b.sandbox.graph.subscriptions();
    let mut seen = BTreeSet::new();
    for s in &subs {
        assert!(
            s.user_ids.len() <= per,
            "{} users in one subscription",
            s.user_ids.len()
        );
        assert!(s.include_resource_data);
        for u in &s.user_ids {
            assert!(seen.insert(u.clone()), "{u} is in two subscriptions");
        }
    }
    let linked: BTreeSet<String> = b.users.iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(seen, linked, "subscriptions cover exactly the linked users");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_users_over_sixteen_accounts_from_empty_in_one_run_then_steady_renewal() {
    let b = Bridge::start(Options {
        users: 10_000,
        users_per_account: 625,
        ..Options::default()
    })
    .await;
    b.vary_presence();
    b.add_accounts(16).await;

    let (t0, r0) = (Instant::now(), b.graph_requests());
    let run = b.maintain().await;
    let (first_run, first_requests) = (t0.elapsed(), b.graph_requests() - r0);
    assert_eq!(run.created, 16, "{run:?}");
    assert!(
        run.uncovered.is_empty() && run.failed_accounts.is_empty(),
        "{run:?}"
    );
    assert_eq!(run.reconciled_users, 10_000);
    assert!(!run.budget_exhausted);
    assert_covered_once(&b, 625);
    b.assert_all_consistent();
    // 16 × (refresh token, create) + 16 getPresencesByUserId + the app token. A bulk read is
    // idempotent, so one that timed out on a loaded machine is retried: allow a few such retries.
    let reads = route(&b, "POST /v1.0/communications/getPresencesByUserId");
    assert!((16..=19).contains(&reads), "{reads} bulk presence reads");
    eprintln!(
        "FIGURE run from empty, 10,000 users / 16 accounts: {:.1} s, {first_requests} Graph requests ({:?})",
        first_run.as_secs_f64(),
        b.sandbox.graph.stats().requests_by_route
    );

    // Steady state: 40 minutes on, every subscription is inside the renewal margin.
    b.advance(40 * MIN);
    let (t1, r1) = (Instant::now(), b.graph_requests());
    let run = b.maintain().await;
    let (steady, steady_requests) = (t1.elapsed(), b.graph_requests() - r1);
    assert_eq!(
        (run.renewed, run.created, run.recreated),
        (16, 0, 0),
        "{run:?}"
    );
    assert_eq!(run.reconciled_users, 0, "reconciliation is not due yet");
    assert_eq!(
        steady_requests, 16,
        "one PATCH per subscription, nothing else"
    );
    eprintln!(
        "FIGURE steady-state renewal run, 16 subscriptions: {:.3} s, {steady_requests} Graph requests",
        steady.as_secs_f64()
    );

    // A change still arrives by notification.
    let before = b.delivered();
    b.set_presence(7, "Busy", "Busy");
    b.wait_delivered(before, 1).await;
    assert_eq!(b.expected_and_actual(7).0, b.expected_and_actual(7).1);

    // One user more than 16 × 625: reported, nothing rebuilt.
    let extra = entra_id(10_000);
    b.sandbox
        .add_person(&extra, "99999", "extra@contoso.example", "Extra");
    b.store
        .put_user(&UserLink {
            entra_id: extra.clone(),
            swyx_user_id: "99999".into(),
            email: "extra@contoso.example".into(),
            groups: Vec::new(),
        })
        .await
        .unwrap();
    let run = b.maintain().await;
    assert_eq!(run.uncovered, vec![extra.clone()]);
    assert_eq!(run.accounts_missing, 1);
    assert_eq!((run.created, run.recreated), (0, 0));
    let now = Timestamp(b.sandbox.clock.now_ms());
    let listing = accounts::list(b.store.as_ref(), 625, now).await.unwrap();
    assert!(
        listing.contains("NOT COVERED: 1 users; add 1 more sync account(s)")
            && listing.contains(&extra),
        "{listing}"
    );

    // Unlinking one user and linking the extra one rebuilds exactly one subscription, and its
    // users are read back right after.
    b.store.delete_user(&entra_id(3)).await.unwrap();
    let run = b.maintain().await;
    assert!(run.uncovered.is_empty(), "{run:?}");
    assert_eq!((run.recreated, run.created), (1, 0), "{run:?}");
    assert_eq!(run.reconciled_users, 625);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_renewals_never_lapses_and_loses_no_change() {
    let b = Bridge::start(Options::default()).await;
    b.add_accounts(2).await;
    let first = b.maintain().await;
    assert_eq!(first.created, 2, "{first:?}");
    let ids: Vec<String> = b
        .sandbox
        .graph
        .subscriptions()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    let mut renewals = 0;
    for step in 0..144 {
        b.advance(10 * MIN);
        let run = b.maintain().await;
        assert!(run.failed_accounts.is_empty(), "step {step}: {run:?}");
        assert_eq!((run.created, run.recreated), (0, 0), "step {step}: {run:?}");
        renewals += run.renewed;
        let now = b.sandbox.clock.now_ms();
        let live = b.sandbox.graph.subscriptions();
        assert_eq!(
            live.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            ids,
            "step {step}: the same two subscriptions live on"
        );
        assert!(live.iter().all(|s| s.expiration_ms - now > 10 * 60_000));
        // Three users change (to a status they do not have); each change reaches Swyx by
        // notification.
        let before = b.delivered();
        let statuses = [
            ("Busy", "Busy"),
            ("Away", "Away"),
            ("DoNotDisturb", "DoNotDisturb"),
            ("Available", "Available"),
        ];
        for k in 0..3 {
            let i = (step * 7 + k * 233) % b.users.len();
            let now = b
                .sandbox
                .graph
                .presence(&b.users[i].0)
                .unwrap()
                .availability;
            let next = statuses
                .iter()
                .cycle()
                .skip(step + k)
                .find(|(a, _)| *a != now)
                .unwrap();
            b.set_presence(i, next.0, next.1);
        }
        b.wait_delivered(before, 3).await;
        for k in 0..3 {
            let i = (step * 7 + k * 233) % b.users.len();
            let (want, got) = b.expected_and_actual(i);
            assert_eq!(want, got, "step {step}: user {i}");
        }
    }
    // 24 h / (58 min life − 20 min margin) ≈ 38 renewals per subscription.
    assert!(renewals >= 2 * 30, "{renewals} renewals");
    b.sandbox
        .graph
        .wait_stats(WAIT, |s| {
            s.notifications_failed == 0 || s.notifications_dropped == 0
        })
        .await
        .unwrap();
    b.assert_all_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_subscription_missed_notifications_and_a_graph_outage_are_repaired() {
    let mut b = Bridge::subscribed(700, 2).await;
    let subs = b.sandbox.graph.subscriptions();
    assert_eq!(subs.len(), 2);

    // subscriptionRemoved: Graph dropped it; changes in the gap come back by reconciliation.
    let removed = subs[0].clone();
    b.lifecycle(&removed.id, "subscriptionRemoved").await;
    let victim = b
        .users
        .iter()
        .position(|(e, _)| removed.user_ids.contains(e))
        .unwrap();
    b.set_presence(victim, "DoNotDisturb", "DoNotDisturb");
    let run = b.maintain().await;
    assert_eq!(
        (run.recreated + run.created, run.lifecycle_handled),
        (1, 1),
        "{run:?}"
    );
    assert!(run.reconciled_users >= removed.user_ids.len());
    b.assert_all_consistent();

    // missed: Graph gave up delivering while the bridge was unreachable.
    b.sandbox
        .graph
        .set_timing(presence_sandbox::graph::GraphTiming {
            retry_base: std::time::Duration::from_millis(20),
            retry_cap: std::time::Duration::from_millis(50),
            retry_window: MIN,
            // Each POST to the paused bridge waits its timeout in real time: short, so Graph
            // gives up within seconds even on a busy machine.
            delivery_timeout: std::time::Duration::from_millis(300),
            retry_timeout: std::time::Duration::from_millis(500),
            ..Default::default()
        });
    b.pause();
    let dropped_before = b.sandbox.graph.stats().notifications_dropped;
    b.set_presence(victim, "Away", "Away");
    b.advance(2 * MIN);
    b.sandbox
        .graph
        .wait_stats(WAIT, |s| s.notifications_dropped > dropped_before)
        .await
        .unwrap();
    b.resume();
    let sub = b
        .sandbox
        .graph
        .subscriptions()
        .into_iter()
        .find(|s| s.user_ids.contains(&b.users[victim].0))
        .unwrap();
    b.lifecycle(&sub.id, "missed").await;
    assert_ne!(
        b.expected_and_actual(victim).0,
        b.expected_and_actual(victim).1
    );
    let run = b.maintain().await;
    assert_eq!(run.lifecycle_handled, 1, "{run:?}");
    assert!(run.repaired >= 1, "{run:?}");
    b.assert_all_consistent();

    // A Graph outage of 30 minutes across the subscriptions' expiry.
    b.advance(30 * MIN);
    b.sandbox.graph.set_outage(true);
    for _ in 0..3 {
        b.advance(10 * MIN);
        let run = b.maintain().await;
        assert_eq!(run.failed_accounts.len(), 2, "{run:?}");
    }
    assert!(
        b.sandbox.graph.subscriptions().is_empty(),
        "they lapsed during the outage"
    );
    let now = Timestamp(b.sandbox.clock.now_ms());
    let listing = accounts::list(b.store.as_ref(), 650, now).await.unwrap();
    assert!(
        listing.contains("503") || listing.contains("unavailable"),
        "{listing}"
    );
    for i in 0..20 {
        b.set_presence(i, "Busy", "Busy");
    }
    b.sandbox.graph.set_outage(false);
    let run = b.maintain().await;
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(run.created + run.recreated, 2, "{run:?}");
    assert_covered_once(&b, 650);
    b.assert_all_consistent();
    let accounts = b.store.list_accounts().await.unwrap();
    assert!(accounts.iter().all(|a| a.last_error.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_slows_maintenance_down_and_loses_nothing() {
    let b = Bridge::start(Options::default()).await;
    b.vary_presence();
    b.add_accounts(2).await;
    // Three Graph requests per 30 s: a run needs at least four (create and read per account),
    // so Graph answers 429 with Retry-After and maintenance waits or comes back next run.
    b.sandbox.graph.set_throttle(Some(3));
    let mut runs = 0;
    loop {
        runs += 1;
        let run = b.maintain().await;
        if run.failed_accounts.is_empty()
            && !run.budget_exhausted
            && b.sandbox.graph.subscriptions().len() == 2
        {
            break;
        }
        assert!(
            runs < 5,
            "maintenance did not get through the storm: {run:?}"
        );
    }
    assert!(b.sandbox.graph.stats().throttled_429 > 0);
    b.sandbox.graph.set_throttle(None);
    assert_covered_once(&b, 650);
    b.assert_all_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reauthorization_required_is_answered_by_one_patch_sent_after_it() {
    let b = Bridge::subscribed(20, 1).await;
    let sub = b.sandbox.graph.subscriptions().remove(0);
    let expiry = sub.expiration_ms;
    b.advance(MIN);
    // Graph may repeat itself: two in a row are still one PATCH.
    b.lifecycle(&sub.id, "reauthorizationRequired").await;
    b.lifecycle(&sub.id, "reauthorizationRequired").await;
    let run = b.maintain().await;
    assert_eq!((run.renewed, run.lifecycle_handled), (1, 1), "{run:?}");
    assert_eq!(patches(&b), 1);
    assert_eq!(route(&b, "POST /v1.0/subscriptions/{id}/reauthorize"), 0);
    assert!(b.sandbox.graph.subscriptions()[0].expiration_ms > expiry);

    // A challenge that comes after that PATCH is answered by another (Graph's 10-minute rule is
    // against a reauthorize and a PATCH; the bridge only PATCHes), even 5 minutes later.
    b.advance(5 * MIN);
    b.lifecycle(&sub.id, "reauthorizationRequired").await;
    let run = b.maintain().await;
    assert_eq!((run.renewed, run.lifecycle_handled), (1, 1), "{run:?}");
    assert_eq!(patches(&b), 2, "asked again after the last PATCH");

    // Nothing asked since: no PATCH until the subscription nears its expiry.
    b.advance(6 * MIN);
    let run = b.maintain().await;
    assert_eq!(run.renewed, 0, "{run:?}");
    assert_eq!(patches(&b), 2);
    assert_eq!(route(&b, "POST /v1.0/subscriptions/{id}/reauthorize"), 0);
}
