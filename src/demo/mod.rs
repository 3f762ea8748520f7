//! `presence-bridge demo`: the sandbox (emulated Graph tenant and SwyxServer connector) and the bridge
//! (`serve`, embedded store) on free loopback ports, N linked users, and a scripted day: every row of
//! the mapping table, a connector outage and its recovery, calls on SwyxServer. Ends with a report;
//! succeeds only when every user is consistent on both sides.
//!
//! [`run`] is the list of steps; [`setup`] prepares the stage, [`day`] and [`calls`] play the day,
//! [`world`] judges both sides, [`report`] holds what a person checks, [`progress`] shows where it is.
//! With [`SwyxSide::Connector`] the Swyx side is the real `swyx-connector` instead
//! ([`via_connector`], [`sip_calls`]).

mod bridge_process;
mod calls;
mod child_process;
mod connector_process;
mod day;
pub mod latency;
mod progress;
mod report;
pub mod script;
mod setup;
mod sip_calls;
mod subscribe;
mod via_connector;
mod world;
mod writer_log;

pub use connector_process::default_exe as default_connector_exe;

pub use report::DemoReport;

/// The demo's building blocks, for end-to-end tests that need the sandbox and a real `serve`
/// process (tests/serve_hardening.rs).
pub mod parts {
    pub use super::bridge_process::BridgeProcess;
    pub use super::setup::{Stage, link_users, prepare};
    pub use super::subscribe::{enroll_account, enroll_accounts, wait_for_subscriptions};
    pub use super::world::{DemoUser, SwyxView, World};
}

use anyhow::{Context, bail};
use bridge_process::BridgeProcess;
use progress::Progress;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use world::{ChangeLatencies, World};

#[derive(Debug, Clone)]
pub enum DemoStore {
    Sqlite,
    /// A DynamoDB-compatible endpoint (moto in the tests); the table is created if missing.
    DynamoDb {
        endpoint: String,
        table: String,
    },
}

/// What plays the Swyx side.
#[derive(Debug, Clone)]
pub enum SwyxSide {
    /// The sandbox's emulated connector (with its outage switch).
    Emulated,
    /// The real `swyx-connector` executable at `exe`, as a child process, with the sandbox's SIP
    /// stand-in playing SwyxServer.
    Connector { exe: PathBuf },
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub users: usize,
    pub swyx: SwyxSide,
    pub store: DemoStore,
    /// The `presence-bridge` executable to run as `serve`.
    pub bridge_exe: PathBuf,
    /// How long the connector stays down in the outage part of the day.
    pub outage: Duration,
    /// How long the emulated connector takes to answer each request (a slow SwyxServer).
    pub connector_delay: Duration,
    /// Progress on stderr (redrawn in place on a terminal, one line per step otherwise).
    pub progress: bool,
    /// Where the bridge's log (and the connector's and its writer's) is kept; `None`: with the
    /// demo's other files, removed at the end.
    pub log_dir: Option<PathBuf>,
}

/// The steps [`run`] shows progress for.
const STEPS: usize = 9;

pub async fn run(opts: DemoOptions) -> anyhow::Result<DemoReport> {
    let steps = match opts.swyx {
        SwyxSide::Emulated => STEPS,
        SwyxSide::Connector { .. } => via_connector::STEPS,
    };
    let mut progress = Progress::on_stderr(opts.progress, steps);
    let result = match &opts.swyx {
        SwyxSide::Emulated => play_day(&opts, &mut progress).await,
        SwyxSide::Connector { exe } => via_connector::play_day(&opts, exe, &mut progress).await,
    };
    match &result {
        Ok(_) => progress.finish("done"),
        Err(_) => progress.interrupt(),
    }
    result
}

async fn play_day(
    opts: &DemoOptions,
    progress: &mut Progress<std::io::Stderr>,
) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    if opts.users == 0 {
        bail!("--users must be at least 1");
    }
    let dir = tempfile::tempdir().context("temporary directory")?;
    let log_dir = opts.log_dir.as_deref().unwrap_or(dir.path());

    progress.step("starting the sandbox");
    let stage =
        setup::prepare_for_connector_delay(dir.path(), &opts.store, None, opts.connector_delay)
            .await?;
    progress.step("linking users by e-mail address (users sync)");
    let users = setup::add_people(&stage, opts.users)?;
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
    let sandbox = stage.sandbox;
    sandbox
        .swyx
        .set_bridge_events_url(&bridge.url("/swyx/events"));
    sandbox.swyx.set_answer_delay(opts.connector_delay);

    progress.step("sync accounts sign in; maintenance subscribes");
    let accounts = users.len().div_ceil(subscribe::USERS_PER_SUBSCRIPTION);
    let names =
        subscribe::enroll_accounts(&sandbox, stage.store.as_ref(), &stage.sealer, accounts).await?;
    let subscriptions = subscribe::wait_for_subscriptions(&sandbox, names.len()).await?;
    let world = World {
        sandbox,
        bridge,
        users,
        rules: crate::domain::MappingRules::default(),
        swyx: world::SwyxView::Emulated,
    };
    let mut report = DemoReport {
        users: opts.users,
        subscriptions: subscriptions.len(),
        sync_accounts: subscriptions.len(),
        ..DemoReport::default()
    };
    let mut latencies = ChangeLatencies::new(opts.users);

    progress.step("every row of the mapping table");
    day::morning(&world, &mut latencies, &mut report).await?;
    progress.step("connector outage");
    day::outage(&world, opts.outage, &mut report).await?;
    progress.step("recovery: maintenance delivers pending");
    day::recovery(&world, &mut report).await;
    progress.step("Swyx calls show In a call in Teams");
    calls::play(&world, &mut report).await?;

    progress.step("checking both sides");
    (report.consistent, report.inconsistent) = world.check();
    report.end_to_end = latencies.summary();
    report.accounts_listing = crate::cli::accounts::list(
        stage.store.as_ref(),
        subscribe::USERS_PER_SUBSCRIPTION,
        crate::domain::Timestamp::now(),
    )
    .await?;
    collect_figures(world, &mut report).await?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The bridge's own figures and the sandbox's counts, then the bridge is stopped as an operator
/// stops it (SIGTERM).
async fn collect_figures(world: World, report: &mut DemoReport) -> anyhow::Result<()> {
    if !report.via_connector {
        report.forwarded_to_swyx = world.sandbox.swyx.stats().updates_applied;
    }
    let exposition = reqwest::get(world.bridge.url("/metrics"))
        .await?
        .error_for_status()?
        .text()
        .await
        .context("bridge metrics")?;
    report.bridge_forward =
        latency::from_histogram(&exposition, crate::metrics::TEAMS_TO_SWYX_LATENCY);
    let graph = world.sandbox.graph.stats();
    report.graph_notifications_delivered = graph.notifications_delivered;
    report.graph_slow_answers = graph.slow_answers;
    report.bridge_peak_rss_kib = world.bridge.peak_rss_kib();
    // The sandbox encrypts on the same cores as the bridge: the figures mean little without it.
    report.load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    report.bridge_stopped_cleanly = world.bridge.stop()?.success();
    Ok(())
}
