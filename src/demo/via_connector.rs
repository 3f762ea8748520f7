//! `presence-bridge demo --via-connector`: the same emulated Graph tenant and bridge, but on the
//! Swyx side the real `swyx-connector` (a child process) with the sandbox's SIP stand-in playing
//! SwyxServer. A shorter day: every row of the mapping table must reach the connector's writer,
//! then calls are played as SIP presence (`active`, then `logged on` again) and must show "In a
//! call" in Teams, keep a hand-set Do not disturb, never come back to Swyx as Speaking, and be
//! cleared after. There is no outage part: the emulated connector's outage switch has no
//! counterpart in a real process short of killing it.

use super::bridge_process::BridgeProcess;
use super::connector_process::{self, ConnectorPlan, ConnectorProcess, ConnectorStart};
use super::latency::summarize;
use super::progress::Progress;
use super::report::DemoReport;
use super::script::{self, MAPPING_ROWS, TeamsState};
use super::world::{SwyxView, World};
use super::writer_log::WriterLog;
use super::{DemoOptions, setup, sip_calls, subscribe};
use anyhow::{Context, bail};
use presence_sandbox::sip::{SipServer, SipServerOptions, UserPresence};
use std::path::Path;
use std::time::{Duration, Instant};

/// The steps [`play_day`] shows progress for.
pub const STEPS: usize = 8;

/// How long a Teams change may take to reach the writer before the demo stops waiting for it.
const WRITER_WAIT: Duration = Duration::from_secs(30);

pub async fn play_day(
    opts: &DemoOptions,
    connector_exe: &Path,
    progress: &mut Progress<std::io::Stderr>,
) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    if opts.users == 0 {
        bail!("--users must be at least 1");
    }
    connector_process::check_exe(connector_exe)?;
    let dir = tempfile::tempdir().context("temporary directory")?;
    let log_dir = opts.log_dir.as_deref().unwrap_or(dir.path());

    progress.step("starting the sandbox (Graph tenant, SIP stand-in for SwyxServer)");
    let sip = SipServer::start(SipServerOptions::default()).await?;
    let plan = ConnectorPlan::new()?;
    let stage = setup::prepare(dir.path(), &opts.store, Some(plan.endpoint())).await?;
    progress.step("people on both sides");
    let users = setup::add_people(&stage, opts.users)?;
    for user in &users {
        sip.add_user(&user.swyx_id, UserPresence::LoggedOn);
    }

    progress.step("starting swyx-connector; it subscribes to every user's SIP presence");
    let (writer, writer_script) = WriterLog::create(log_dir)?;
    let connector = ConnectorProcess::start(
        &plan,
        ConnectorStart {
            exe: connector_exe,
            dir: dir.path(),
            log: &log_dir.join("connector.log"),
            bridge_addr: stage.bridge_addr,
            sip: &sip,
            users: &users,
            writer_script: &writer_script,
            writer_log: writer.path(),
        },
    )
    .await?;
    let watched = sip
        .wait_for(Duration::from_secs(30), |s| {
            users.iter().all(|u| s.watchers(&u.swyx_id) >= 1)
        })
        .await;
    if !watched {
        bail!(
            "the connector did not subscribe to every user's presence within 30 s (see connector.log)"
        );
    }
    // Linked by e-mail address from the real connector's user list (its CSV directory).
    setup::link_by_sync(
        &stage,
        &opts.bridge_exe,
        &users,
        &log_dir.join("users-sync.log"),
    )
    .await?;

    progress.step("starting the bridge (serve)");
    let bridge = BridgeProcess::start(
        stage.bridge_addr,
        &opts.bridge_exe,
        &stage.config_path,
        &stage.bridge_env,
        &log_dir.join("bridge.log"),
    )
    .await?;
    progress.step("sync accounts sign in; maintenance subscribes");
    let accounts = users.len().div_ceil(subscribe::USERS_PER_SUBSCRIPTION);
    let names = subscribe::enroll_accounts(
        &stage.sandbox,
        stage.store.as_ref(),
        &stage.sealer,
        accounts,
    )
    .await?;
    let subscriptions = subscribe::wait_for_subscriptions(&stage.sandbox, names.len()).await?;
    let world = World {
        sandbox: stage.sandbox,
        bridge,
        users,
        rules: crate::domain::MappingRules::default(),
        swyx: SwyxView::Writer(writer.clone()),
    };
    let mut report = DemoReport {
        via_connector: true,
        users: opts.users,
        subscriptions: subscriptions.len(),
        sync_accounts: subscriptions.len(),
        ..DemoReport::default()
    };

    progress.step("every row of the mapping table reaches the writer");
    let mut to_writer = WriterChanges::default();
    let busy = MAPPING_ROWS[4];
    to_writer
        .play(&world, &writer, &mut report, |_| Some(&busy))
        .await?;
    to_writer
        .play(&world, &writer, &mut report, |i| {
            Some(&MAPPING_ROWS[i % MAPPING_ROWS.len()])
        })
        .await?;
    progress.step("SIP calls show In a call in Teams");
    sip_calls::play(&world, &sip, &writer, &mut to_writer, &mut report).await?;

    progress.step("checking both sides");
    world.wait_consistent(Duration::from_secs(10)).await;
    (report.consistent, report.inconsistent) = world.check();
    // A decided update stays pending until the connector confirms it: wait for the last one.
    report.pending_at_end = world
        .wait_pending(Duration::from_secs(20), |n| n == 0)
        .await
        .unwrap_or(u64::MAX);
    report.writer_expected = to_writer.expected;
    to_writer.latencies_us.sort_unstable();
    report.writer_seen = to_writer.latencies_us.len();
    report.end_to_end = summarize(&to_writer.latencies_us);
    report.forwarded_to_swyx = writer.lines().len() as u64;
    report.accounts_listing = crate::cli::accounts::list(
        stage.store.as_ref(),
        subscribe::USERS_PER_SUBSCRIPTION,
        crate::domain::Timestamp::now(),
    )
    .await?;
    report.connector_peak_rss_kib = connector.peak_rss_kib();
    super::collect_figures(world, &mut report).await?;
    report.connector_stopped_cleanly = connector.stop()?.success();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Teams changes that must reach the writer, and how long each took.
#[derive(Debug, Default)]
pub struct WriterChanges {
    /// Changes whose mapped Swyx status differed from what the writer last had.
    pub expected: usize,
    /// Teams change → the writer's line for it, µs.
    pub latencies_us: Vec<u64>,
}

/// A change the demo waits to see at the writer.
struct Awaited {
    swyx_id: String,
    /// As the writer gets it: the status, or `none` for a withdrawal.
    status: String,
    changed_at: Instant,
    /// Lines the writer had written before the change: the answer comes after them.
    after_line: usize,
}

impl WriterChanges {
    /// Puts every user `i` into `state(i)` in Teams (`None`: leaves them be), then waits until
    /// the writer got each change that maps to a new Swyx status.
    pub async fn play<'a>(
        &mut self,
        world: &World,
        writer: &WriterLog,
        report: &mut DemoReport,
        state: impl Fn(usize) -> Option<&'a TeamsState>,
    ) -> anyhow::Result<()> {
        let mut awaited = Vec::new();
        for (i, user) in world.users.iter().enumerate() {
            let Some(state) = state(i) else { continue };
            let lines = writer.lines();
            let before = WriterLog::status_of(&lines, &user.swyx_id);
            script::apply(&world.sandbox.graph, &user.entra_id, state)?;
            report.teams_changes += 1;
            let after = world.expected(user);
            if after != before {
                awaited.push(Awaited {
                    swyx_id: user.swyx_id.clone(),
                    status: after.unwrap_or_else(|| "none".into()),
                    changed_at: Instant::now(),
                    after_line: lines.len(),
                });
            }
        }
        self.expected += awaited.len();
        let deadline = Instant::now() + WRITER_WAIT;
        while !awaited.is_empty() && Instant::now() < deadline {
            let lines = writer.lines();
            awaited.retain(|a| {
                let seen = lines
                    .iter()
                    .skip(a.after_line)
                    .any(|l| l.swyx_id == a.swyx_id && l.status == a.status);
                if seen {
                    self.latencies_us
                        .push(a.changed_at.elapsed().as_micros() as u64);
                }
                !seen
            });
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }
}
