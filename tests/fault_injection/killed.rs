//! `serve` killed with SIGKILL at seeded random moments in the middle of a burst of Teams
//! changes to a slow connector, then restarted; Graph redelivers what was not answered, as it
//! does. Across the kills some users are in Swyx calls: calls start and end between rounds, so
//! the bridge is killed while it holds "In a call" sessions in Teams and while its own In a call
//! is what Teams shows for them. After each round every user is consistent again, each caller
//! has exactly one "In a call" session of the bridge and everyone else none.

use super::setup::{Running, Seeded, start_consistent};
use crate::support::moto;
use presence_bridge::demo::DemoStore;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;

/// Whether user `i` is in a Swyx call during `round` (none before the first): every tenth user
/// takes part, some calling through several kills, some ending, some starting.
fn in_call(i: usize, round: usize) -> bool {
    round > 0 && i.is_multiple_of(10) && !(i / 10 + round).is_multiple_of(3)
}

/// The Swyx calls going on, by user index.
#[derive(Default)]
struct Calls(HashMap<usize, String>);

impl Calls {
    /// Starts and ends calls so that exactly those `in_call` for `round` are in one.
    async fn play(&mut self, run: &Running, round: usize) {
        let swyx = &run.world.sandbox.swyx;
        for (i, user) in run.world.users.iter().enumerate() {
            match (self.0.contains_key(&i), in_call(i, round)) {
                (false, true) => {
                    let call = swyx.start_call(&user.swyx_id).await.expect("call starts");
                    self.0.insert(i, call);
                }
                (true, false) => {
                    let call = self.0.remove(&i).unwrap_or_default();
                    swyx.end_call(&user.swyx_id, &call)
                        .await
                        .expect("call ends");
                }
                _ => {}
            }
        }
    }

    fn callers(&self) -> HashSet<usize> {
        self.0.keys().copied().collect()
    }
}

/// `moto`: the endpoint of the DynamoDB emulator when `store` is on it, whose work is reported.
async fn killed_mid_burst_rounds(store: DemoStore, users: usize, moto: Option<&str>) {
    let started = Instant::now();
    let mut run = start_consistent(store, users).await;
    let stats_at = |label: &'static str| async move {
        if let Some(stats) = match moto {
            Some(endpoint) => moto::MotoStats::of(endpoint).await,
            None => None,
        } {
            let busy: Vec<String> = stats
                .busy_by_operation
                .iter()
                .map(|(op, s)| {
                    format!(
                        "{op} {}: {s:.1} s",
                        stats.by_operation.get(op).copied().unwrap_or(0)
                    )
                })
                .collect();
            eprintln!(
                "FIGURE moto after {label}: {} requests, {:.1} s busy: {}",
                stats.requests,
                stats.busy_seconds,
                busy.join(", ")
            );
        }
    };
    stats_at("setup").await;
    eprintln!(
        "FIGURE {users} users consistent after {:?}",
        started.elapsed()
    );
    let mut rng = Seeded::from_env();
    let mut calls = Calls::default();
    // Each put waits 50 ms at the connector: the burst is still in flight when the kill comes.
    run.world
        .sandbox
        .swyx
        .set_answer_delay(Duration::from_millis(50));
    for round in 1..=ROUNDS {
        calls.play(&run, round).await;
        let applied_before = run.world.sandbox.swyx.stats().updates_applied;
        run.burst(round);
        // Killed once the connector has applied a seeded share of the burst (0 = at once).
        let kill_at = applied_before + rng.below(users as u64 / 2);
        run.wait_applied(kill_at).await;
        run = run.kill_and_restart(round).await;
        let what = format!(
            "killed after {} of the burst's updates, {} users in calls",
            kill_at - applied_before,
            calls.0.len()
        );
        run.assert_settles(round, &what, &calls.callers()).await;
        stats_at("a round").await;
    }
    // Every call ends: no session of the bridge is left, and Swyx agrees with Teams for all.
    calls.play(&run, 0).await;
    run.assert_settles(ROUNDS, "every call ended", &HashSet::new())
        .await;
    let events = run.world.sandbox.swyx.stats();
    assert_eq!(events.events_failed, 0, "call events lost: {events:?}");
    run.world.sandbox.swyx.set_answer_delay(Duration::ZERO);
    run.stop();
    eprintln!(
        "FIGURE {users} users, {ROUNDS} rounds: {:?} in all",
        started.elapsed()
    );
}

/// The burst.
const SQLITE_USERS: usize = 1000;
const DYNAMO_USERS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_mid_burst_converges_after_restart_on_sqlite() {
    killed_mid_burst_rounds(DemoStore::Sqlite, SQLITE_USERS, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_mid_burst_converges_after_restart_on_dynamodb() {
    // A moto of its own: a burst of 1,000 on the shared one (one request at a time) would hold
    // up every other test of the binary, and its figures would be theirs too.
    let moto = moto::MotoServer::dedicated();
    killed_mid_burst_rounds(
        DemoStore::DynamoDb {
            endpoint: moto.endpoint.clone(),
            table: "fault-killed".to_string(),
        },
        DYNAMO_USERS,
        Some(&moto.endpoint),
    )
    .await;
}
