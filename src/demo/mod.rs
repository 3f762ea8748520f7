//! `presence-bridge demo`: the sandbox (emulated Graph tenant and SwyxServer connector) and the bridge
//! (`serve`, embedded store) on free loopback ports, N linked users, and a scripted day: every row of
//! the mapping table, a connector outage and its recovery. Ends with a table; succeeds only when every
//! user is consistent on both sides.

mod bridge_process;
pub mod script;
mod subscribe;

use crate::domain::{MappedStatus, MappingRules, TeamsPresence};
use crate::metrics::{LatencySummary, MetricsSnapshot, summarize};
use crate::store::{DynamoStore, SqliteStore, Store, UserLink};
use anyhow::{Context, bail};
use bridge_process::BridgeProcess;
use presence_sandbox::swyx::Outage;
use presence_sandbox::{Sandbox, SandboxOptions};
use script::MAPPING_ROWS;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum DemoStore {
    Sqlite,
    /// A DynamoDB-compatible endpoint (moto in the tests); the table is created if missing.
    DynamoDb {
        endpoint: String,
        table: String,
    },
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub users: usize,
    pub store: DemoStore,
    /// The `presence-bridge` executable to run as `serve`.
    pub bridge_exe: PathBuf,
    /// How long the connector stays down in the outage part of the day.
    pub outage: Duration,
    /// Progress on stderr.
    pub progress: bool,
}

#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    pub users: usize,
    pub consistent: usize,
    pub inconsistent: Vec<String>,
    pub subscriptions: usize,
    pub sync_accounts: usize,
    pub teams_changes: usize,
    pub forwarded_to_swyx: u64,
    pub pending_during_outage: u64,
    pub pending_at_end: u64,
    pub bridge: MetricsSnapshot,
    /// Teams change in the emulated tenant → status applied at the emulated connector.
    pub end_to_end: LatencySummary,
    pub graph_notifications_delivered: u64,
    pub graph_slow_answers: u64,
    /// Swyx call started → Teams shows In a call (Busy/InACall) in the emulated tenant.
    pub swyx_to_teams: LatencySummary,
    pub calls_made: usize,
    /// Callers who had set Do not disturb by hand and still show it during the call.
    pub dnd_kept: usize,
    /// Swyx slots that turned Speaking because of the bridge's own "In a call" (must be 0).
    pub echoes: usize,
    /// Callers whose "In a call" was cleared after the call.
    pub calls_cleared: usize,
    pub bridge_peak_rss_kib: Option<u64>,
    pub bridge_stopped_cleanly: bool,
    pub elapsed: Duration,
    /// `presence-bridge accounts list` at the end of the day.
    pub accounts_listing: String,
}

impl DemoReport {
    pub fn ok(&self) -> bool {
        self.consistent == self.users
            && self.pending_at_end == 0
            && self.bridge_stopped_cleanly
            && self.echoes == 0
            && self.calls_cleared == self.calls_made
            && self.swyx_to_teams.samples + self.dnd_kept == self.calls_made
    }

    pub fn table(&self) -> String {
        let rss = self.bridge_peak_rss_kib.map_or("n/a".to_string(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        });
        let rows = [
            (
                "users consistent",
                format!("{}/{}", self.consistent, self.users),
            ),
            (
                "sync accounts / subscriptions",
                format!("{} / {}", self.sync_accounts, self.subscriptions),
            ),
            ("Teams changes made", self.teams_changes.to_string()),
            (
                "Graph notifications delivered",
                format!(
                    "{} ({} slow answers)",
                    self.graph_notifications_delivered, self.graph_slow_answers
                ),
            ),
            (
                "changes forwarded to Swyx",
                self.forwarded_to_swyx.to_string(),
            ),
            (
                "pending during the outage → at the end",
                format!("{} → {}", self.pending_during_outage, self.pending_at_end),
            ),
            (
                "Teams → Swyx, bridge (POST in → connector request) p50 / p99",
                format!(
                    "{:.2} ms / {:.2} ms  ({} samples)",
                    self.bridge.forward_latency.p50_ms,
                    self.bridge.forward_latency.p99_ms,
                    self.bridge.forward_latency.samples
                ),
            ),
            (
                "Teams → Swyx, end to end (Teams change → Swyx applied) p50 / p99",
                format!(
                    "{:.1} ms / {:.1} ms  ({} samples)",
                    self.end_to_end.p50_ms, self.end_to_end.p99_ms, self.end_to_end.samples
                ),
            ),
            (
                "Swyx → Teams (call start → Teams In a call) p50 / p99",
                format!(
                    "{:.1} ms / {:.1} ms  ({} calls)",
                    self.swyx_to_teams.p50_ms,
                    self.swyx_to_teams.p99_ms,
                    self.swyx_to_teams.samples
                ),
            ),
            (
                "calls: DND kept / echoes / cleared after the call",
                format!(
                    "{} / {} / {}/{}",
                    self.dnd_kept, self.echoes, self.calls_cleared, self.calls_made
                ),
            ),
            ("bridge peak RSS (serve)", rss),
            (
                "bridge stopped cleanly on SIGTERM",
                if self.bridge_stopped_cleanly {
                    "yes"
                } else {
                    "NO"
                }
                .to_string(),
            ),
            ("elapsed", format!("{:.1} s", self.elapsed.as_secs_f64())),
        ];
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            out.push_str(&format!("{k:<width$}  {v}\n"));
        }
        for who in self.inconsistent.iter().take(10) {
            out.push_str(&format!("INCONSISTENT: {who}\n"));
        }
        if !self.accounts_listing.is_empty() {
            out.push_str("\nSync accounts and subscriptions (presence-bridge accounts list):\n");
            out.push_str(&self.accounts_listing);
        }
        out
    }
}

fn progress(on: bool, done: usize, total: usize, what: &str) {
    if !on {
        return;
    }
    let width = 30;
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    eprint!(
        "\r[{}{}] {:>3}%  {:<40}",
        "#".repeat(filled),
        ".".repeat(width - filled),
        (done * 100).checked_div(total).unwrap_or(100),
        what
    );
    if done >= total {
        eprintln!();
    }
    let _ = std::io::stderr().flush();
}

fn entra_id(i: usize) -> String {
    format!("d0d0d0d0-0000-4000-8000-{i:012x}")
}

fn swyx_id(i: usize) -> String {
    format!("{}", 1000 + i)
}

pub async fn run(opts: DemoOptions) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    if opts.users == 0 {
        bail!("--users must be at least 1");
    }
    let dir = tempfile::tempdir().context("temporary directory")?;
    let steps = 9;
    progress(opts.progress, 0, steps, "starting the sandbox");
    let sandbox = Sandbox::start(SandboxOptions::default()).await?;

    // The bridge's notification key and certificate (Graph encrypts to the certificate).
    let (key_pem, cert_b64) = presence_sandbox::graph::crypto::make_encryption_certificate()?;
    let key_path = dir.path().join("notify.pem");
    std::fs::write(&key_path, key_pem)?;
    let cert_path = dir.path().join("notify.cer.b64");
    std::fs::write(&cert_path, &cert_b64)?;
    let cert_id = "demo-cert-1";
    // The key that seals the sync accounts' refresh tokens, in a file only the operator reads.
    let token_key = crate::graph::sealed::TokenSealer::generate_key_text();
    let key_file = dir.path().join("token.key");
    std::fs::write(&key_file, &token_key)?;
    // The bridge's address must be known for the subscriptions' notification URL.
    let bridge_addr = bridge_process::free_port()?;
    sandbox
        .graph
        .set_timing(presence_sandbox::graph::GraphTiming {
            device_poll_interval: Duration::from_millis(50),
            ..presence_sandbox::graph::GraphTiming::default()
        });

    // Store and configuration.
    let (store, store_toml, env): (Arc<dyn Store>, String, Vec<(String, String)>) = match &opts
        .store
    {
        DemoStore::Sqlite => {
            let path = dir.path().join("bridge.db");
            let store = Arc::new(SqliteStore::open(&path)?);
            (
                store,
                format!("sqlite_path = {:?}\n", path.display().to_string()),
                Vec::new(),
            )
        }
        DemoStore::DynamoDb { endpoint, table } => {
            // A local DynamoDB-compatible server takes any credentials; the child gets the same.
            let conf = aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "local", "local", None, None, "demo",
                ))
                .endpoint_url(endpoint)
                .build();
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), table.clone());
            store.create_table_if_missing().await?;
            let env = [
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "local"),
                ("AWS_SECRET_ACCESS_KEY", "local"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            (
                Arc::new(store),
                format!("dynamodb_table = {table:?}\ndynamodb_endpoint = {endpoint:?}\n"),
                env,
            )
        }
    };
    let config = format!(
        "[graph]\ntenant_id = {:?}\nclient_id = {:?}\njwks_url = {:?}\nclient_secret = {:?}\nauthority_url = {:?}\nbase_url = {:?}\n\n\
         [[graph.encryption_keys]]\nid = {:?}\nprivate_key = {:?}\n\n\
         [connector]\nurl = {:?}\nsigning_secret = {:?}\nevent_secrets = [{:?}]\ntimeout_ms = 500\nmax_attempts = 2\n\n\
         [store]\n{store_toml}\n[server]\nmaintenance_interval_secs = 1\n\n\
         [subscriptions]\nnotification_url = \"http://{bridge_addr}/graph/notifications\"\nlifecycle_url = \"http://{bridge_addr}/graph/lifecycle\"\ncertificate = {:?}\ncertificate_id = {:?}\n\n\
         [accounts]\ntoken_key = {:?}\n",
        sandbox.tenant_id,
        sandbox.app_id,
        sandbox.graph.jwks_url(),
        sandbox.client_secret,
        sandbox.graph.authority_url(),
        sandbox.graph.graph_url(),
        cert_id,
        format!("file:{}", key_path.display()),
        sandbox.swyx.url(),
        sandbox.connector_secret,
        sandbox.events_secret,
        format!("file:{}", cert_path.display()),
        cert_id,
        format!("file:{}", key_file.display()),
    );
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config)?;

    // People on both sides, linked in the store, each signed in to Teams.
    progress(opts.progress, 1, steps, "linking users");
    let mut users = Vec::with_capacity(opts.users);
    for i in 0..opts.users {
        let (e, s) = (entra_id(i), swyx_id(i));
        let email = format!("user{i}@contoso.example");
        sandbox.add_person(&e, &s, &email, &format!("User {i}"));
        sandbox
            .graph
            .set_client_session(&e, script::SESSION, "Available", "Available")?;
        store
            .put_user(&UserLink {
                entra_id: e.clone(),
                swyx_user_id: s.clone(),
                email,
            })
            .await?;
        users.push((e, s));
    }

    progress(opts.progress, 2, steps, "starting the bridge (serve)");
    let bridge = BridgeProcess::start(
        bridge_addr,
        &opts.bridge_exe,
        &config_path,
        &env,
        &dir.path().join("bridge.log"),
    )
    .await?;

    sandbox
        .swyx
        .set_bridge_events_url(&bridge.url("/swyx/events"));

    progress(
        opts.progress,
        3,
        steps,
        "sync accounts sign in; maintenance subscribes",
    );
    let sealer = crate::graph::sealed::TokenSealer::from_key_text(&token_key)?;
    let account_count = opts.users.div_ceil(subscribe::USERS_PER_SUBSCRIPTION);
    let account_names =
        subscribe::enroll_accounts(&sandbox, store.as_ref(), &sealer, account_count).await?;
    // The bridge's maintenance loop (every second here) creates the subscriptions.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sandbox.graph.subscriptions().len() < account_names.len() {
        if Instant::now() > deadline {
            bail!("the bridge did not create its subscriptions within 60 s (see its log)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let subscription_ids: Vec<String> = sandbox
        .graph
        .subscriptions()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let rules = MappingRules::default();
    let mut report = DemoReport {
        users: opts.users,
        subscriptions: subscription_ids.len(),
        sync_accounts: subscription_ids.len(),
        ..DemoReport::default()
    };
    let mut change_times: Vec<Option<i64>> = vec![None; opts.users];
    let mut latencies_us: Vec<u64> = Vec::new();

    // Morning: everyone busy, then each user takes one row of the mapping table.
    progress(opts.progress, 4, steps, "every row of the mapping table");
    let busy = MAPPING_ROWS[4];
    for (i, (e, _)) in users.iter().enumerate() {
        script::apply(&sandbox.graph, e, &busy)?;
        change_times[i] = Some(sandbox.clock.now_ms());
        report.teams_changes += 1;
    }
    wait_consistent(&sandbox, &users, &rules, Duration::from_secs(30)).await?;
    collect_latencies(&sandbox, &users, &mut change_times, &mut latencies_us);
    for (i, (e, _)) in users.iter().enumerate() {
        script::apply(&sandbox.graph, e, &MAPPING_ROWS[i % MAPPING_ROWS.len()])?;
        change_times[i] = Some(sandbox.clock.now_ms());
        report.teams_changes += 1;
    }
    wait_consistent(&sandbox, &users, &rules, Duration::from_secs(30)).await?;
    collect_latencies(&sandbox, &users, &mut change_times, &mut latencies_us);

    // Noon: the connector goes down; people keep changing their status; it comes back.
    progress(opts.progress, 5, steps, "connector outage");
    sandbox.swyx.set_outage(Outage::NotListening);
    let outage_started = Instant::now();
    let changed: Vec<usize> = (0..opts.users).filter(|i| i % 2 == 0).collect();
    let mut expected_pending = 0u64;
    for &i in &changed {
        // Nine rows on: a different Swyx status for most users.
        script::apply(
            &sandbox.graph,
            &users[i].0,
            &MAPPING_ROWS[(i + 9) % MAPPING_ROWS.len()],
        )?;
        report.teams_changes += 1;
        if expected(&sandbox, &rules, &users[i].0) != actual(&sandbox, &users[i].1) {
            expected_pending += 1;
        }
    }
    // The bridge answers Graph (202) for every change; what it could not deliver is pending.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        report.pending_during_outage = pending(&bridge).await.unwrap_or(0);
        if report.pending_during_outage >= expected_pending || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = opts.outage.saturating_sub(outage_started.elapsed());
    tokio::time::sleep(left).await;
    sandbox.swyx.set_outage(Outage::None);
    progress(
        opts.progress,
        6,
        steps,
        "recovery: maintenance delivers pending",
    );
    wait_consistent(&sandbox, &users, &rules, Duration::from_secs(40)).await?;
    // Pending entries are cleared as each delivery lands; wait until the last one is gone.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        report.pending_at_end = pending(&bridge).await.unwrap_or(u64::MAX);
        if report.pending_at_end == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Afternoon: calls on SwyxServer show "In a call" in Teams, except for who chose Do not disturb.
    progress(
        opts.progress,
        7,
        steps,
        "Swyx calls show In a call in Teams",
    );
    calls(&sandbox, &users, &rules, &mut report).await?;

    progress(opts.progress, 8, steps, "checking both sides");
    let (consistent, inconsistent) = check(&sandbox, &users, &rules);
    report.consistent = consistent;
    report.inconsistent = inconsistent;
    let http = reqwest::Client::new();
    report.bridge = http
        .get(bridge.url("/metrics"))
        .send()
        .await?
        .json()
        .await
        .context("bridge metrics")?;
    report.forwarded_to_swyx = sandbox.swyx.stats().updates_applied;
    latencies_us.sort_unstable();
    report.end_to_end = summarize(&latencies_us);
    let gs = sandbox.graph.stats();
    report.graph_notifications_delivered = gs.notifications_delivered;
    report.graph_slow_answers = gs.slow_answers;
    report.bridge_peak_rss_kib = bridge.peak_rss_kib();
    report.accounts_listing = crate::cli::accounts::list(
        store.as_ref(),
        subscribe::USERS_PER_SUBSCRIPTION,
        crate::domain::Timestamp::now(),
    )
    .await?;
    report.bridge_stopped_cleanly = bridge.stop()?.success();
    progress(opts.progress, steps, steps, "done");
    report.elapsed = started.elapsed();
    Ok(report)
}

async fn pending(bridge: &BridgeProcess) -> anyhow::Result<u64> {
    let v: serde_json::Value = reqwest::get(bridge.url("/healthz")).await?.json().await?;
    v["pendingDeliveries"].as_u64().context("pendingDeliveries")
}

/// What the Swyx side should show for a user: the mapping of the aggregated Teams presence.
fn expected(sandbox: &Sandbox, rules: &MappingRules, entra_id: &str) -> Option<String> {
    let p = sandbox.graph.presence(entra_id)?;
    let presence =
        TeamsPresence::new(&p.availability, &p.activity).with_out_of_office(p.out_of_office);
    match rules.map(&presence) {
        MappedStatus::Swyx(s) => Some(s.to_string()),
        MappedStatus::NoSync => None,
    }
}

fn actual(sandbox: &Sandbox, swyx_id: &str) -> Option<String> {
    sandbox
        .swyx
        .user(swyx_id)
        .and_then(|u| u.teams)
        .and_then(|t| t.status)
        .map(|s| format!("{s:?}"))
}

fn check(
    sandbox: &Sandbox,
    users: &[(String, String)],
    rules: &MappingRules,
) -> (usize, Vec<String>) {
    let mut ok = 0;
    let mut bad = Vec::new();
    for (e, s) in users {
        let (want, got) = (expected(sandbox, rules, e), actual(sandbox, s));
        if want == got {
            ok += 1;
        } else {
            bad.push(format!(
                "{e} ↔ {s}: Teams maps to {want:?}, Swyx shows {got:?}"
            ));
        }
    }
    (ok, bad)
}

async fn wait_consistent(
    sandbox: &Sandbox,
    users: &[(String, String)],
    rules: &MappingRules,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let (ok, _) = check(sandbox, users, rules);
        if ok == users.len() || Instant::now() > deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Teams change → applied at the connector, for users whose last change reached Swyx as a new status.
fn collect_latencies(
    sandbox: &Sandbox,
    users: &[(String, String)],
    change_times: &mut [Option<i64>],
    out: &mut Vec<u64>,
) {
    for (i, (_, s)) in users.iter().enumerate() {
        let Some(changed_at) = change_times[i].take() else {
            continue;
        };
        if let Some(applied) = sandbox
            .swyx
            .user(s)
            .and_then(|u| u.teams)
            .map(|t| t.applied_at_ms)
            && applied >= changed_at
        {
            out.push(((applied - changed_at) * 1000) as u64);
        }
    }
}

/// Some users call on SwyxServer: those who were Available show In a call in Teams, those who had
/// set Do not disturb by hand stay DND (the seed's aggregation). The bridge's own In a call must
/// not come back to Swyx as Speaking, and every call's In a call goes away when it ends.
async fn calls(
    sandbox: &Sandbox,
    users: &[(String, String)],
    rules: &MappingRules,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let available = MAPPING_ROWS[0];
    let dnd_by_hand = MAPPING_ROWS[9];
    let callers: Vec<usize> = (0..users.len()).filter(|i| i % 5 == 1).collect();
    let dnd_callers: Vec<usize> = (0..users.len()).filter(|i| i % 5 == 3).collect();
    for &i in &callers {
        script::apply(&sandbox.graph, &users[i].0, &available)?;
    }
    for &i in &dnd_callers {
        script::apply(&sandbox.graph, &users[i].0, &dnd_by_hand)?;
    }
    wait_consistent(sandbox, users, rules, Duration::from_secs(30)).await?;
    let before: Vec<Option<String>> = users.iter().map(|(_, s)| actual(sandbox, s)).collect();

    // Calls start one after another on their own task while this one watches Teams, so each
    // call's latency is measured from its own start.
    let starts: Arc<std::sync::Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let starter = {
        let (swyx, starts) = (sandbox.swyx.clone(), Arc::clone(&starts));
        let who: Vec<(usize, String)> = callers
            .iter()
            .chain(&dnd_callers)
            .map(|&i| (i, users[i].1.clone()))
            .collect();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for (i, swyx_id) in who {
                if let Ok(mut s) = starts.lock() {
                    s.push((i, Instant::now()));
                }
                ids.push((i, swyx.start_call(&swyx_id).await?));
            }
            anyhow::Ok(ids)
        })
    };
    // Callers who were Available: wait until Teams shows In a call.
    let mut latencies = Vec::new();
    let mut waiting: Vec<usize> = callers.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !waiting.is_empty() && Instant::now() < deadline {
        let started: Vec<(usize, Instant)> = starts.lock().map(|s| s.clone()).unwrap_or_default();
        waiting.retain(|i| {
            let Some((_, t0)) = started.iter().find(|(j, _)| j == i) else {
                return true;
            };
            let in_call = sandbox
                .graph
                .presence(&users[*i].0)
                .is_some_and(|p| p.activity.eq_ignore_ascii_case("InACall"));
            if in_call {
                latencies.push(t0.elapsed().as_micros() as u64);
            }
            !in_call
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let call_ids = starter.await.context("starting calls")??;
    report.calls_made = call_ids.len();
    latencies.sort_unstable();
    report.swyx_to_teams = summarize(&latencies);
    // DND callers: the bridge's session exists, yet Teams still shows Do not disturb.
    for &i in &dnd_callers {
        let deadline = Instant::now() + Duration::from_secs(10);
        while sandbox.graph.app_sessions(&users[i].0).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if sandbox
            .graph
            .presence(&users[i].0)
            .is_some_and(|p| p.availability.eq_ignore_ascii_case("DoNotDisturb"))
        {
            report.dnd_kept += 1;
        }
    }
    // Let Graph's In a call notifications reach the bridge, then look for echoes on the Swyx side.
    let settle = Instant::now() + Duration::from_millis(300);
    while Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for &(i, _) in &call_ids {
        let now = actual(sandbox, &users[i].1);
        if now.as_deref() == Some("Speaking") && before[i].as_deref() != Some("Speaking") {
            report.echoes += 1;
        }
    }
    for (i, call_id) in &call_ids {
        sandbox.swyx.end_call(&users[*i].1, call_id).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        report.calls_cleared = call_ids
            .iter()
            .filter(|(i, _)| sandbox.graph.app_sessions(&users[*i].0).is_empty())
            .count();
        if report.calls_cleared == call_ids.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_consistent(sandbox, users, rules, Duration::from_secs(30)).await
}
