//! 100,000 users over 154 sync accounts, on SQLite, against the sandbox (emulated Graph tenant
//! and emulated connector, in this process): from an empty store to every subscription created
//! and every user reconciled, then a steady run that renews every subscription, then one an
//! hour later with the users sync due (for its peak RSS).
//!
//! `cargo bench --bench scale` runs the full 100,000; in test mode (`cargo nextest run --benches`)
//! a few hundred users, the same checks. Maintenance runs as a child process (this executable
//! again, as the maintenance Lambda is its own process: `scale/child.rs`), so its peak RSS
//! (`VmHWM`) is its own and not the sandbox's; the bridge's webhook (Graph's validation
//! handshakes) is served here. The child counts its store requests with `CountingStore`; Graph's
//! requests are counted by the emulator, which also enforces 1,500 presence requests per 30 s
//! (none may be throttled).
//! By default nobody is linked before the first pass: automatic linking makes the links, as on
//! an administrator's day one (`SCALE_BENCH_IMPORTED_LINKS=1`: links imported beforehand).
//! Prints, last: `scale: users=N accounts=A from_empty_s=S renew_s=R graph_requests=G
//! store_requests_per_user=X peak_rss_mib=M`.

#[path = "scale/child.rs"]
mod child;

use child::ChildRun;
use presence_bridge::app::App;
use presence_bridge::config::{Origin, RawConfig};
use presence_bridge::domain::Timestamp;
use presence_bridge::domain::{Clock as BridgeClock, MappedStatus, MappingRules, TeamsPresence};
use presence_bridge::entry::server;
use presence_bridge::store::UserLink;
use presence_bridge::subscriptions::sync_accounts::enroll;
use presence_sandbox::Clock;
use presence_sandbox::graph::{GraphEmulator, GraphOptions};
use presence_sandbox::swyx::{SwyxEmulator, SwyxOptions};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Another number of users than the mode's (e.g. 20000: a quicker look at how a figure grows).
const USERS_OVERRIDE: &str = "SCALE_BENCH_USERS";
/// Set: the links are imported before the first pass (`users import`), not made by automatic
/// linking in it.
const IMPORTED_LINKS: &str = "SCALE_BENCH_IMPORTED_LINKS";
/// Set: automatic linking is off (so the links are imported).
const NO_LINKING: &str = "SCALE_BENCH_NO_LINKING";
const USERS_PER_ACCOUNT: usize = 650;
const FULL_USERS: usize = 100_000;
const TEST_USERS: usize = 300;
/// Microsoft's presence pages: plan for 1,500 requests per 30 s per app and tenant.
const PRESENCE_PER_30S: u32 = 1_500;
const TENANT: &str = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93";
const APP_ID: &str = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0";
const CLIENT_SECRET: &str = "bench-client-secret";
const CERT_ID: &str = "bench-cert-1";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Ok(config) = std::env::var(child::CHILD_CONFIG) {
        runtime.block_on(child::child(Path::new(&config)));
        return;
    }
    // The test harness's listing protocol, as cargo nextest asks for it.
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("scale: test");
        }
        return;
    }
    let users = std::env::var(USERS_OVERRIDE)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if args.iter().any(|a| a == "--bench") {
            FULL_USERS
        } else {
            TEST_USERS
        });
    runtime.block_on(run(users));
}

fn imported_links() -> bool {
    std::env::var_os(IMPORTED_LINKS).is_some() || std::env::var_os(NO_LINKING).is_some()
}

struct Sandbox {
    graph: GraphEmulator,
    swyx: SwyxEmulator,
    clock: Clock,
    app: Arc<App>,
    config: std::path::PathBuf,
    users: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    async fn start(users: usize) -> Self {
        let clock = Clock::new();
        let graph = GraphEmulator::start(GraphOptions {
            tenant_id: TENANT.to_string(),
            app_id: APP_ID.to_string(),
            client_secret: CLIENT_SECRET.to_string(),
            throttle_per_30s: None,
            clock: clock.clone(),
        })
        .await
        .expect("emulated Graph");
        graph.set_presence_throttle(Some(PRESENCE_PER_30S));
        let connector_secret = presence_sandbox::swyx::webhook::generate_secret();
        let swyx = SwyxEmulator::start(SwyxOptions {
            inbound_secret: connector_secret.clone(),
            outbound_secret: presence_sandbox::swyx::webhook::generate_secret(),
            bridge_events_url: None,
            clock: Clock::new(),
        })
        .await
        .expect("emulated connector");
        let dir = tempfile::tempdir().expect("temporary directory");
        let (key_pem, cert_b64) =
            presence_sandbox::graph::make_encryption_certificate().expect("certificate");
        std::fs::write(dir.path().join("notify.pem"), key_pem).expect("write key");
        std::fs::write(dir.path().join("notify.cer.b64"), cert_b64).expect("write certificate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let addr = listener.local_addr().expect("address");
        let token_key = presence_bridge::graph::sealed::TokenSealer::generate_key_text();
        let text = format!(
            "[graph]\ntenant_id = {TENANT:?}\nclient_id = {APP_ID:?}\njwks_url = {:?}\nclient_secret = {CLIENT_SECRET:?}\nauthority_url = {:?}\nbase_url = {:?}\n\n\
             [[graph.encryption_keys]]\nid = {CERT_ID:?}\nprivate_key = {:?}\n\n\
             [connector]\nurl = {:?}\nsigning_secret = {:?}\n\n\
             [store]\nsqlite_path = {:?}\n\n\
             [subscriptions]\nnotification_url = \"http://{addr}/graph/notifications\"\nlifecycle_url = \"http://{addr}/graph/lifecycle\"\n\
             certificate = {:?}\ncertificate_id = {CERT_ID:?}\nusers_per_account = {USERS_PER_ACCOUNT}\n\
             reconcile_interval_minutes = 60\nrenew_margin_minutes = 15\n\n\
             [accounts]\ntoken_key = {token_key:?}\n{}",
            graph.jwks_url(),
            graph.authority_url(),
            graph.graph_url(),
            format!("file:{}", dir.path().join("notify.pem").display()),
            swyx.url(),
            connector_secret,
            dir.path().join("bridge.db").display().to_string(),
            format!("file:{}", dir.path().join("notify.cer.b64").display()),
            if std::env::var_os(NO_LINKING).is_some() {
                "\n[users]\nsync_interval_minutes = 0\n"
            } else {
                ""
            },
        );
        let config = dir.path().join("config.toml");
        std::fs::write(&config, &text).expect("write configuration");
        let cfg = RawConfig::from_toml(&text, "config.toml")
            .expect("configuration parses")
            .validate(Origin::File)
            .expect("configuration is valid");
        let bridge_clock = clock.clone();
        let app = Arc::new(
            App::from_config_with_clock(
                &cfg,
                BridgeClock::from_fn(move || Timestamp(bridge_clock.now_ms())),
            )
            .await
            .expect("app"),
        );
        let router = server::router(Arc::clone(&app));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let mut sandbox = Self {
            graph,
            swyx,
            clock,
            app,
            config,
            users: Vec::with_capacity(users),
            _dir: dir,
        };
        sandbox.add_people(users).await;
        sandbox
            .add_accounts(users.div_ceil(USERS_PER_ACCOUNT))
            .await;
        sandbox
    }

    /// Users in Teams (signed in, a third each Available, Busy in a call, Away) and in Swyx
    /// with the same address; linked in the store only with imported links (otherwise the first
    /// maintenance pass links them, as on an administrator's day one).
    async fn add_people(&mut self, n: usize) {
        let store = self.app.store.as_ref();
        let import = imported_links();
        for i in 0..n {
            let entra = format!("5ab5ab5a-0000-4000-8000-{i:012x}");
            let swyx = format!("{}", 100_000 + i);
            let email = format!("user{i}@contoso.example");
            self.graph.add_user(&entra, &email, &format!("User {i}"));
            self.swyx.add_user(&swyx, &format!("User {i}"), &email);
            let (availability, activity) = match i % 3 {
                0 => ("Available", "Available"),
                1 => ("Busy", "InACall"),
                _ => ("Away", "Away"),
            };
            self.graph
                .set_client_session(&entra, "teams-desktop", availability, activity)
                .expect("Teams session");
            if import {
                store
                    .put_user(&UserLink {
                        entra_id: entra.clone(),
                        swyx_user_id: swyx.clone(),
                        email,
                        groups: Vec::new(),
                    })
                    .await
                    .expect("link");
            }
            self.users.push((entra, swyx));
        }
    }

    async fn add_accounts(&self, n: usize) {
        let sealer = &self.app.accounts.as_ref().expect("accounts").sealer;
        for i in 1..=n {
            let name = format!("sync{i:03}");
            let upn = format!("{name}@contoso.example");
            self.graph.add_sync_account(&upn);
            let refresh = self.graph.issue_refresh_token(&upn).expect("refresh token");
            let now = Timestamp(self.clock.now_ms());
            enroll(self.app.store.as_ref(), sealer, &name, &refresh, now)
                .await
                .expect("enroll");
        }
    }

    /// One maintenance pass in a child process, on the sandbox's clock.
    async fn maintain(&self) -> ChildRun {
        child::run_pass(&self.config, self.clock.now_ms() - child::real_ms()).await
    }

    /// Every account has a live subscription and has been reconciled.
    async fn all_subscribed_and_reconciled(&self) -> bool {
        let accounts = self.app.store.list_accounts().await.expect("accounts");
        accounts
            .iter()
            .all(|a| a.subscription_id.is_some() && a.reconciled_at.is_some())
    }

    fn inconsistent(&self) -> usize {
        let rules = MappingRules::default();
        self.users
            .iter()
            .filter(|(entra, swyx)| {
                let p = self.graph.presence(entra).expect("presence");
                let presence = TeamsPresence::new(&p.availability, &p.activity)
                    .with_out_of_office(p.out_of_office);
                let want = match rules.map(&presence) {
                    MappedStatus::Swyx(s) => Some(s.to_string()),
                    MappedStatus::NoSync => None,
                };
                let got = self
                    .swyx
                    .user(swyx)
                    .and_then(|u| u.teams)
                    .and_then(|t| t.status)
                    .map(|s| format!("{s:?}"));
                want != got
            })
            .count()
    }

    fn graph_requests(&self) -> u64 {
        self.graph.stats().requests_by_route.values().sum()
    }
}

async fn run(users: usize) {
    let set_up = Instant::now();
    let sandbox = Sandbox::start(users).await;
    let accounts = users.div_ceil(USERS_PER_ACCOUNT);
    eprintln!(
        "scale: {users} users, {accounts} sync accounts set up in {:.1} s; links {}",
        set_up.elapsed().as_secs_f64(),
        if imported_links() {
            "imported"
        } else {
            "made by automatic linking (day one)"
        }
    );
    let graph_before = sandbox.graph_requests();

    // From empty: passes until every subscription is made and every user reconciled.
    let started = Instant::now();
    let mut first = ChildRun::default();
    for pass in 1..=5 {
        let run = sandbox.maintain().await;
        eprintln!("pass {pass}: {}", run.summary);
        first.store_requests += run.store_requests;
        first.vm_hwm_kib = first.vm_hwm_kib.max(run.vm_hwm_kib);
        if sandbox.all_subscribed_and_reconciled().await {
            break;
        }
    }
    let from_empty = started.elapsed();
    assert!(
        sandbox.all_subscribed_and_reconciled().await,
        "not every account was subscribed and reconciled"
    );
    let bad = sandbox.inconsistent();
    assert_eq!(
        bad, 0,
        "{bad} of {users} users inconsistent after the first run"
    );

    // Steady: time moves on to within the renewal margin of the first expiry.
    let subs = sandbox
        .app
        .store
        .list_subscriptions()
        .await
        .expect("subscriptions");
    assert_eq!(subs.len(), accounts);
    let first_expiry = subs
        .iter()
        .map(|s| s.expires_at.millis())
        .min()
        .unwrap_or(0);
    let to_margin = first_expiry - sandbox.clock.now_ms() - 5 * 60_000;
    sandbox
        .clock
        .advance(Duration::from_millis(u64::try_from(to_margin).unwrap_or(0)));
    let renewing = Instant::now();
    let steady = sandbox.maintain().await;
    let renew = renewing.elapsed();
    eprintln!("renewal: {}", steady.summary);
    assert!(
        steady.summary.contains(&format!("renewed={accounts} ")),
        "not every subscription was renewed: {}",
        steady.summary
    );

    let graph_requests = sandbox.graph_requests() - graph_before;

    // Steady with the hourly users sync due: every link and mark read and matched again, for
    // the peak RSS of such a pass (with links made on day one, 100,000 automatic marks). The
    // renewal ran 5 minutes before the first expiry, about an hour after the first pass's sync:
    // 10 minutes on, that sync's hour is up and the renewed subscriptions are far from theirs.
    sandbox.clock.advance(Duration::from_secs(600));
    let synced = sandbox.maintain().await;
    eprintln!("steady with users sync: {}", synced.summary);
    let expected = if std::env::var_os(NO_LINKING).is_some() {
        "linking_ran=false "
    } else {
        "linking_ran=true linked=0 unlinked=0 "
    };
    assert!(
        synced.summary.contains(expected),
        "not {expected}: {}",
        synced.summary
    );
    let stats = sandbox.graph.stats();
    eprintln!("Graph requests by route: {:?}", stats.requests_by_route);
    assert_eq!(
        stats.throttled_429, 0,
        "Graph throttled the bridge: {:?}",
        stats.throttled_by_route
    );
    let per_user = first.store_requests as f64 / users as f64;
    let steady_per_user = steady.store_requests as f64 / users as f64;
    eprintln!(
        "store requests: first run {} ({per_user:.4}/user), steady run {} ({steady_per_user:.4}/user)",
        first.store_requests, steady.store_requests
    );
    assert!(per_user <= 1.0, "{per_user} store requests per user");
    let synced_per_user = synced.store_requests as f64 / users as f64;
    eprintln!(
        "store requests: steady run with users sync {} ({synced_per_user:.4}/user); peak RSS by pass: first {} KiB, renewal {} KiB, with users sync {} KiB",
        synced.store_requests, first.vm_hwm_kib, steady.vm_hwm_kib, synced.vm_hwm_kib
    );
    let peak_mib = first
        .vm_hwm_kib
        .max(steady.vm_hwm_kib)
        .max(synced.vm_hwm_kib) as f64
        / 1024.0;
    println!(
        "scale: users={users} accounts={accounts} from_empty_s={:.1} renew_s={:.2} graph_requests={graph_requests} store_requests_per_user={per_user:.3} peak_rss_mib={peak_mib:.1}",
        from_empty.as_secs_f64(),
        renew.as_secs_f64(),
    );
}
