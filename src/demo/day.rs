//! The Teams side of the scripted day: a morning through every row of the mapping table, a noon
//! connector outage while people keep changing their status, and the recovery in which the
//! bridge's maintenance delivers what was kept pending. (The afternoon's calls are in
//! [`super::calls`].)

use super::report::DemoReport;
use super::script::{self, MAPPING_ROWS};
use super::world::{ChangeLatencies, World};
use presence_sandbox::swyx::Outage;
use std::time::{Duration, Instant};

/// Everyone turns busy (Away at Swyx), then each user takes one row of the mapping table.
pub async fn morning(
    world: &World,
    latencies: &mut ChangeLatencies,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let busy = MAPPING_ROWS[4];
    for (i, user) in world.users.iter().enumerate() {
        script::apply(&world.sandbox.graph, &user.entra_id, &busy)?;
        latencies.changed(i, world.sandbox.clock.now_ms());
        report.teams_changes += 1;
    }
    world.wait_consistent(Duration::from_secs(30)).await;
    latencies.collect(world);
    for (i, user) in world.users.iter().enumerate() {
        let row = &MAPPING_ROWS[i % MAPPING_ROWS.len()];
        script::apply(&world.sandbox.graph, &user.entra_id, row)?;
        latencies.changed(i, world.sandbox.clock.now_ms());
        report.teams_changes += 1;
    }
    world.wait_consistent(Duration::from_secs(30)).await;
    latencies.collect(world);
    Ok(())
}

/// The connector stops listening for `outage`; every other user changes their status meanwhile.
/// The bridge still answers Graph (202) for each change and keeps what it cannot deliver pending.
pub async fn outage(
    world: &World,
    outage: Duration,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    world.sandbox.swyx.set_outage(Outage::NotListening);
    let outage_started = Instant::now();
    let mut expected_pending = 0u64;
    for (i, user) in world.users.iter().enumerate().step_by(2) {
        // Nine rows on: a different Swyx status for most users.
        let row = &MAPPING_ROWS[(i + 9) % MAPPING_ROWS.len()];
        script::apply(&world.sandbox.graph, &user.entra_id, row)?;
        report.teams_changes += 1;
        if world.expected(user) != world.actual(user) {
            expected_pending += 1;
        }
    }
    report.pending_during_outage = world
        .wait_pending(Duration::from_secs(20), |n| n >= expected_pending)
        .await
        .unwrap_or(0);
    tokio::time::sleep(outage.saturating_sub(outage_started.elapsed())).await;
    world.sandbox.swyx.set_outage(Outage::None);
    Ok(())
}

/// The connector is back: maintenance delivers every pending update and Swyx catches up.
pub async fn recovery(world: &World, report: &mut DemoReport) {
    world.wait_consistent(Duration::from_secs(40)).await;
    // Pending entries are cleared as each delivery lands; wait until the last one is gone.
    report.pending_at_end = world
        .wait_pending(Duration::from_secs(20), |n| n == 0)
        .await
        .unwrap_or(u64::MAX);
}
