//! `presence-bridge serve` (a child process) against the sandbox (emulated Graph tenant and
//! connector) under hostile conditions: floods of forged notifications, and its SQLite file locked
//! by another connection. What a user notices: the genuine Teams change still reaches Swyx in
//! time, Graph always gets an answer within its 3 s, and memory stays within a 128 MB Lambda's.

use bytes::Bytes;
use presence_bridge::demo::DemoStore;
use presence_bridge::demo::parts::{
    BridgeProcess, DemoUser, SwyxView, World, enroll_accounts, link_users, prepare,
    wait_for_subscriptions,
};
use presence_bridge::demo::script::SESSION;
use presence_bridge::domain::MappingRules;
use presence_bridge::teams_to_swyx::intake::MAX_ITEMS_PER_COLLECTION;
use presence_sandbox::graph::GraphTiming;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The bridge's default body limit, which every flood fills.
const BODY_LIMIT: usize = 1024 * 1024;
/// A 128 MB Lambda's memory.
const LAMBDA_MEMORY_KIB: u64 = 128 * 1024;

struct Running {
    world: World,
    subscription: String,
    tenant: String,
    log: PathBuf,
    dir: tempfile::TempDir,
}

/// The sandbox, `serve` on SQLite, `users` linked users, one sync account and its subscription;
/// returns once every user shows in Swyx what Teams shows.
async fn start(users: usize, timing: GraphTiming) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let stage = prepare(dir.path(), &DemoStore::Sqlite, None)
        .await
        .expect("sandbox");
    stage.sandbox.graph.set_timing(timing);
    let users = link_users(&stage, users).await.expect("users");
    let log = dir.path().join("bridge.log");
    let bridge = BridgeProcess::start(
        stage.bridge_addr,
        Path::new(env!("CARGO_BIN_EXE_presence-bridge")),
        &stage.config_path,
        &stage.bridge_env,
        &log,
    )
    .await
    .expect("serve");
    enroll_accounts(&stage.sandbox, stage.store.as_ref(), &stage.sealer, 1)
        .await
        .expect("sync account");
    let subscription = wait_for_subscriptions(&stage.sandbox, 1)
        .await
        .expect("subscription")
        .remove(0);
    let tenant = stage.sandbox.tenant_id.clone();
    let world = World {
        sandbox: stage.sandbox,
        bridge,
        users,
        rules: MappingRules::default(),
        swyx: SwyxView::Emulated,
    };
    let all = world.users.len();
    assert!(
        poll(Duration::from_secs(30), || world.check().0 == all).await,
        "not consistent before the test: {:?}",
        world.check().1
    );
    Running {
        world,
        subscription,
        tenant,
        log,
        dir,
    }
}

/// The sandbox's Graph timing with quick sign-ins (and `retry_base` for Graph's redeliveries).
fn timing(retry_base: Duration) -> GraphTiming {
    GraphTiming {
        device_poll_interval: Duration::from_millis(50),
        retry_base,
        retry_cap: Duration::from_secs(2),
        ..GraphTiming::default()
    }
}

/// Polls `done` until it holds or `within` has passed; whether it held.
async fn poll(within: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// 1 MiB of the smallest items that name a subscription: about 45,000 of them.
fn tiny_items_flood() -> Bytes {
    let item = r#"{"subscriptionId":"x"},"#;
    let count = (BODY_LIMIT - 20) / item.len();
    let mut body = String::from(r#"{"value":["#);
    body.push_str(&item.repeat(count));
    body.pop();
    body.push_str("]}");
    Bytes::from(body)
}

/// 1 MiB of as many items as the bridge takes, each one that passes every check without the
/// store: a plausible clientState, our tenant, a documented lifecycle event; `subscription` (or a
/// made-up id when `None`) as their subscription.
fn plausible_items_flood(subscription: Option<&str>, tenant: &str) -> Bytes {
    let items: Vec<_> = (0..MAX_ITEMS_PER_COLLECTION)
        .map(|i| {
            let id = subscription.map_or_else(
                || format!("{i:08x}-0000-4000-8000-000000000000"),
                str::to_string,
            );
            json!({
                "subscriptionId": id,
                "clientState": format!("{i:064x}"),
                "tenantId": tenant,
                "lifecycleEvent": "missed",
                "padding": "",
            })
        })
        .collect();
    let bare = json!({ "value": items }).to_string();
    let pad = (BODY_LIMIT - bare.len() - 1) / MAX_ITEMS_PER_COLLECTION;
    let body = bare.replace(
        r#""padding":"""#,
        &format!(r#""padding":"{}""#, "p".repeat(pad)),
    );
    assert!(body.len() <= BODY_LIMIT && body.len() > BODY_LIMIT - 2 * MAX_ITEMS_PER_COLLECTION);
    Bytes::from(body)
}

/// POSTs `body` again and again until `stop`; the answers by status (0: no answer).
async fn flood(
    url: String,
    body: Bytes,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
) -> BTreeMap<u16, usize> {
    let http = reqwest::Client::new();
    let mut answers = BTreeMap::new();
    while !stop.load(Ordering::SeqCst) {
        let status = match http.post(&url).body(body.clone()).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        *answers.entry(status).or_default() += 1;
        sent.fetch_add(1, Ordering::SeqCst);
    }
    answers
}

/// Teams changes `user` to Do not disturb; what Swyx must show for it.
fn make_busy(world: &World, user: &DemoUser) -> String {
    let before = world.expected(user);
    world
        .sandbox
        .graph
        .set_client_session(&user.entra_id, SESSION, "DoNotDisturb", "DoNotDisturb")
        .expect("Teams change");
    let after = world.expected(user).expect("a status to sync");
    assert_ne!(before.as_deref(), Some(after.as_str()));
    after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_change_gets_through_four_floods_in_time_and_memory_stays_within_a_lambdas() {
    let run = start(2, timing(Duration::from_secs(1))).await;
    let world = &run.world;
    let url = world.bridge.url("/graph/notifications");
    let bodies = [
        tiny_items_flood(),
        plausible_items_flood(Some(&run.subscription), &run.tenant),
        tiny_items_flood(),
        plausible_items_flood(None, &run.tenant),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let floods: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            tokio::spawn(flood(
                url.clone(),
                body,
                Arc::clone(&stop),
                Arc::clone(&sent),
            ))
        })
        .collect();
    // The floods are under way before Teams changes.
    assert!(poll(Duration::from_secs(10), || sent.load(Ordering::SeqCst) >= 8).await);

    let user = &world.users[0];
    let changed = Instant::now();
    let want = make_busy(world, user);
    let arrived = poll(Duration::from_secs(3), || {
        world.actual(user).as_deref() == Some(want.as_str())
    })
    .await;
    let took = changed.elapsed();
    // The floods go on a while longer (ten bodies each at least), so the peak covers them at full
    // pressure.
    let until = (sent.load(Ordering::SeqCst) + 8).max(40);
    poll(Duration::from_secs(5), || {
        sent.load(Ordering::SeqCst) >= until
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    let mut answers = Vec::new();
    for f in floods {
        answers.push(f.await.expect("flood"));
    }
    let peak_kib = world.bridge.peak_rss_kib().expect("VmHWM of serve");
    let graph = world.sandbox.graph.stats();
    let log_lines = std::fs::read_to_string(&run.log)
        .unwrap_or_default()
        .lines()
        .count();
    let requests: usize = answers.iter().flat_map(|a| a.values()).sum();
    eprintln!(
        "floods: {requests} POSTs of 1 MiB {answers:?}; genuine change in Swyx after {took:?}; \
         serve peak RSS {:.1} MiB; {log_lines} log lines",
        peak_kib as f64 / 1024.0
    );

    assert!(arrived, "the change did not reach the connector within 3 s");
    assert!(
        peak_kib < LAMBDA_MEMORY_KIB,
        "serve peaked at {peak_kib} KiB"
    );
    // Too many items: refused whole. Plausible forgeries: accepted and dropped.
    for (i, a) in answers.iter().enumerate() {
        let expected = if i % 2 == 0 { 413 } else { 202 };
        assert_eq!(
            a.keys().copied().collect::<Vec<_>>(),
            [expected],
            "flood {i}: {a:?}"
        );
    }
    assert_eq!(graph.slow_answers, 0, "Graph waited over 3 s: {graph:?}");
    // One line per request at most, not one per forged item.
    assert!(log_lines <= requests + 20, "{log_lines} log lines");
    run.world.bridge.stop().expect("stop");
    drop(run.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_gets_answers_in_time_and_the_change_arrives_once_released() {
    let run = start(2, timing(Duration::from_millis(200))).await;
    let world = &run.world;
    let before = world.sandbox.graph.stats();
    // Another connection (the CLI, an operator's sqlite3) holds the write lock.
    let holder = rusqlite::Connection::open(run.dir.path().join("bridge.db")).expect("open");
    holder
        .execute_batch(
            "BEGIN IMMEDIATE; INSERT INTO claims (key, expires_at) VALUES ('held-by-the-test', 0);",
        )
        .expect("write lock");

    let user = &world.users[0];
    let want = make_busy(world, user);
    // The decision cannot be stored: Graph hears 503 (a retry), more than once, never late.
    let graph = &world.sandbox.graph;
    assert!(
        poll(Duration::from_secs(15), || {
            graph.stats().notifications_failed >= before.notifications_failed + 2
        })
        .await,
        "the bridge did not refuse the notification while locked: {:?}",
        graph.stats()
    );
    // Meanwhile everything else is answered at once.
    let http = reqwest::Client::new();
    let asked = Instant::now();
    let health = http
        .get(world.bridge.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let forged = json!({ "value": [{
        "subscriptionId": run.subscription, "clientState": "0".repeat(64),
        "tenantId": run.tenant, "lifecycleEvent": "missed",
    }]});
    let answer = http
        .post(world.bridge.url("/graph/lifecycle"))
        .json(&forged)
        .send()
        .await
        .expect("lifecycle");
    assert_eq!(answer.status(), 202);
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    assert_ne!(world.actual(user).as_deref(), Some(want.as_str()));

    holder.execute_batch("ROLLBACK").expect("release");
    assert!(
        poll(Duration::from_secs(20), || {
            world.actual(user).as_deref() == Some(want.as_str())
        })
        .await,
        "the change did not arrive after the lock was released: {:?}",
        graph.stats()
    );
    let after = graph.stats();
    eprintln!("while locked: {:?}", after);
    assert_eq!(
        after.slow_answers, before.slow_answers,
        "Graph waited over 3 s"
    );
    run.world.bridge.stop().expect("stop");
}
