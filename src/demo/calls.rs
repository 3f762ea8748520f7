//! The afternoon: some users call on SwyxServer. Those who were Available show In a call in Teams;
//! those who had set Do not disturb by hand stay DND (Teams' aggregation). The bridge's own In a
//! call must not come back to Swyx as Speaking, and every call's In a call goes away when it ends.

use super::latency::summarize;
use super::report::DemoReport;
use super::script::{self, MAPPING_ROWS};
use super::world::World;
use anyhow::Context;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When each caller's call started, shared with the task that starts them.
type CallStarts = Arc<Mutex<Vec<(usize, Instant)>>>;

/// How often the demo looks at Teams while calls start and end.
const POLL: Duration = Duration::from_millis(5);

pub async fn play(world: &World, report: &mut DemoReport) -> anyhow::Result<()> {
    let callers: Vec<usize> = (0..world.users.len()).filter(|i| i % 5 == 1).collect();
    let dnd_callers: Vec<usize> = (0..world.users.len()).filter(|i| i % 5 == 3).collect();
    let (available, dnd_by_hand) = (&MAPPING_ROWS[0], &MAPPING_ROWS[9]);
    for &i in &callers {
        script::apply(&world.sandbox.graph, &world.users[i].entra_id, available)?;
    }
    for &i in &dnd_callers {
        script::apply(&world.sandbox.graph, &world.users[i].entra_id, dnd_by_hand)?;
    }
    world.wait_consistent(Duration::from_secs(30)).await;
    let before: Vec<Option<String>> = world.users.iter().map(|u| world.actual(u)).collect();

    let starts = CallStarts::default();
    let everyone: Vec<usize> = callers.iter().chain(&dnd_callers).copied().collect();
    let starter = start_calls(world, &everyone, Arc::clone(&starts));
    let latencies = wait_in_a_call(world, &callers, &starts).await;
    let calls = starter.await.context("starting calls")??;
    report.calls_made = calls.len();
    report.swyx_to_teams = summarize(&latencies);
    report.dnd_kept = count_dnd_kept(world, &dnd_callers).await;
    report.echoes = count_echoes(world, &calls, &before).await;
    for (i, call_id) in &calls {
        world
            .sandbox
            .swyx
            .end_call(&world.users[*i].swyx_id, call_id)
            .await?;
    }
    report.calls_cleared = wait_cleared(world, &calls).await;
    world.wait_consistent(Duration::from_secs(30)).await;
    Ok(())
}

/// Starts the calls one after another on their own task, so each call's latency is measured from
/// its own start while this task watches Teams. Resolves to (user index, call id) per call.
fn start_calls(
    world: &World,
    who: &[usize],
    starts: CallStarts,
) -> tokio::task::JoinHandle<anyhow::Result<Vec<(usize, String)>>> {
    let swyx = world.sandbox.swyx.clone();
    let who: Vec<(usize, String)> = who
        .iter()
        .map(|&i| (i, world.users[i].swyx_id.clone()))
        .collect();
    tokio::spawn(async move {
        let mut ids = Vec::new();
        for (i, swyx_id) in who {
            if let Ok(mut s) = starts.lock() {
                s.push((i, Instant::now()));
            }
            ids.push((i, swyx.start_call(&swyx_id).await?));
        }
        Ok(ids)
    })
}

/// Waits until Teams shows In a call for each of `callers`; the latencies (µs, sorted) from each
/// call's start.
async fn wait_in_a_call(world: &World, callers: &[usize], starts: &CallStarts) -> Vec<u64> {
    let mut latencies = Vec::new();
    let mut waiting = callers.to_vec();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !waiting.is_empty() && Instant::now() < deadline {
        let started: Vec<(usize, Instant)> = starts.lock().map(|s| s.clone()).unwrap_or_default();
        waiting.retain(|i| {
            let Some((_, t0)) = started.iter().find(|(j, _)| j == i) else {
                return true;
            };
            let in_call = world
                .sandbox
                .graph
                .presence(&world.users[*i].entra_id)
                .is_some_and(|p| p.activity.eq_ignore_ascii_case("InACall"));
            if in_call {
                latencies.push(t0.elapsed().as_micros() as u64);
            }
            !in_call
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    latencies.sort_unstable();
    latencies
}

/// DND callers: the bridge's session exists, yet Teams still shows Do not disturb.
async fn count_dnd_kept(world: &World, dnd_callers: &[usize]) -> usize {
    let mut kept = 0;
    for &i in dnd_callers {
        let user = &world.users[i].entra_id;
        let deadline = Instant::now() + Duration::from_secs(10);
        while world.sandbox.graph.app_sessions(user).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        if world
            .sandbox
            .graph
            .presence(user)
            .is_some_and(|p| p.availability.eq_ignore_ascii_case("DoNotDisturb"))
        {
            kept += 1;
        }
    }
    kept
}

/// Callers whose Swyx status turned Speaking because of the bridge's own In a call. Graph's In a
/// call notifications are given a moment to reach the bridge first: an echo would arrive then.
async fn count_echoes(
    world: &World,
    calls: &[(usize, String)],
    before: &[Option<String>],
) -> usize {
    let settle = Instant::now() + Duration::from_millis(300);
    while Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    calls
        .iter()
        .filter(|(i, _)| {
            let now = world.actual(&world.users[*i]);
            now.as_deref() == Some("Speaking") && before[*i].as_deref() != Some("Speaking")
        })
        .count()
}

/// Waits until no caller has the bridge's session any more; how many were cleared.
async fn wait_cleared(world: &World, calls: &[(usize, String)]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let cleared = calls
            .iter()
            .filter(|(i, _)| {
                world
                    .sandbox
                    .graph
                    .app_sessions(&world.users[*i].entra_id)
                    .is_empty()
            })
            .count();
        if cleared == calls.len() || Instant::now() > deadline {
            return cleared;
        }
        tokio::time::sleep(POLL).await;
    }
}
