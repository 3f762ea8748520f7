//! The afternoon through the real connector: calls are SwyxServer's SIP presence turning `active`
//! (the sandbox's SIP stand-in sends the NOTIFYs), then `logged on` again. Callers who were
//! Available show In a call in Teams; those who had set Do not disturb by hand stay DND. The
//! writer's file is the whole history of what reached Swyx, so an echo (Speaking sent because of
//! the bridge's own In a call) is caught even if a later change overwrote it.

use super::latency::summarize;
use super::report::DemoReport;
use super::script::MAPPING_ROWS;
use super::via_connector::WriterChanges;
use super::world::World;
use super::writer_log::WriterLog;
use presence_sandbox::sip::{SipServer, UserPresence};
use std::time::{Duration, Instant};

/// How often the demo looks at Teams while calls start and end.
const POLL: Duration = Duration::from_millis(2);

pub async fn play(
    world: &World,
    sip: &SipServer,
    writer: &WriterLog,
    to_writer: &mut WriterChanges,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let callers: Vec<usize> = (0..world.users.len()).filter(|i| i % 5 == 1).collect();
    let dnd_callers: Vec<usize> = (0..world.users.len()).filter(|i| i % 5 == 3).collect();
    let (available, dnd_by_hand) = (&MAPPING_ROWS[0], &MAPPING_ROWS[9]);
    // Each caller's state before the call, through the writer like every other change.
    to_writer
        .play(world, writer, report, |i| match i % 5 {
            1 => Some(available),
            3 => Some(dnd_by_hand),
            _ => None,
        })
        .await?;
    world.wait_graph_quiet().await;
    let history_before = writer.lines().len();

    let everyone: Vec<usize> = callers.iter().chain(&dnd_callers).copied().collect();
    let mut started = Vec::new();
    for &i in &everyone {
        started.push((i, Instant::now()));
        sip.set_presence(&world.users[i].swyx_id, UserPresence::Active);
    }
    report.calls_made = everyone.len();
    report.swyx_to_teams = summarize(&wait_in_a_call(world, &callers, &started).await);
    report.dnd_kept = count_dnd_kept(world, &dnd_callers).await;
    // Graph's notifications of the bridge's own In a call reach the bridge now: an echo would
    // be sent to the connector then.
    world.wait_graph_quiet().await;
    for &i in &everyone {
        sip.set_presence(&world.users[i].swyx_id, UserPresence::LoggedOn);
    }
    report.calls_cleared = wait_cleared(world, &everyone).await;
    world.wait_graph_quiet().await;
    world.wait_consistent(Duration::from_secs(30)).await;
    // Nobody is in a Teams call in this part: any Speaking the writer got is an echo.
    report.echoes = writer
        .lines()
        .iter()
        .skip(history_before)
        .filter(|l| l.status == "Speaking")
        .count();
    Ok(())
}

/// Waits until Teams shows In a call for each of `callers`; the latencies (µs, sorted) from the
/// NOTIFY that started each call.
async fn wait_in_a_call(
    world: &World,
    callers: &[usize],
    started: &[(usize, Instant)],
) -> Vec<u64> {
    let mut latencies = Vec::new();
    let mut waiting = callers.to_vec();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !waiting.is_empty() && Instant::now() < deadline {
        waiting.retain(|i| {
            let in_call = world
                .sandbox
                .graph
                .presence(&world.users[*i].entra_id)
                .is_some_and(|p| p.activity.eq_ignore_ascii_case("InACall"));
            if in_call && let Some((_, t0)) = started.iter().find(|(j, _)| j == i) {
                latencies.push(t0.elapsed().as_micros() as u64);
            }
            !in_call
        });
        tokio::time::sleep(POLL).await;
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
        let dnd = world
            .sandbox
            .graph
            .presence(user)
            .is_some_and(|p| p.availability.eq_ignore_ascii_case("DoNotDisturb"));
        if dnd && !world.sandbox.graph.app_sessions(user).is_empty() {
            kept += 1;
        }
    }
    kept
}

/// Waits until none of `who` has the bridge's session any more; how many were cleared.
async fn wait_cleared(world: &World, who: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let cleared = who
            .iter()
            .filter(|&&i| {
                world
                    .sandbox
                    .graph
                    .app_sessions(&world.users[i].entra_id)
                    .is_empty()
            })
            .count();
        if cleared == who.len() || Instant::now() > deadline {
            return cleared;
        }
        tokio::time::sleep(POLL).await;
    }
}
