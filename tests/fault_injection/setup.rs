//! What every round shares: a bridge (`serve`) on a fresh stage with its users linked,
//! subscribed and consistent; a burst of Teams changes; SIGKILL and restart; convergence
//! asserted with what each side holds when it fails.

use presence_bridge::demo::DemoStore;
use presence_bridge::demo::parts::{
    BridgeProcess, Stage, SwyxView, World, enroll_accounts, link_users, prepare,
    wait_for_subscriptions,
};
use presence_bridge::demo::script::{MAPPING_ROWS, apply};
use presence_bridge::domain::MappingRules;
use presence_bridge::domain::sharding::USERS_PER_ACCOUNT;
use presence_bridge::graph::sealed::TokenSealer;
use presence_bridge::store::Store;
use presence_sandbox::Sandbox;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Maintenance runs every second in the sandbox configuration; a decided update waits
/// `DELIVERY_GRACE` (15 s) for its own request before maintenance sends it; Graph's retries back
/// off from 1 s. Well within this, everyone must agree again.
pub const CONVERGE_WITHIN: Duration = Duration::from_secs(60);

/// xorshift64*: reproducible kill moments without a dependency.
pub struct Seeded(u64);

impl Seeded {
    pub fn from_env() -> Self {
        let seed = std::env::var("FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_2026_1202);
        eprintln!("fault injection seed: FAULT_SEED={seed}");
        Self(seed.max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

async fn start_bridge(stage_dir: &Path, stage: &StageFiles, round: usize) -> BridgeProcess {
    let log = stage_dir.join(format!("bridge-{round}.log"));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_presence-bridge"));
    BridgeProcess::start(stage.addr, &exe, &stage.config, &stage.env, &log)
        .await
        .expect("the bridge starts")
}

/// For each user left wrong: Teams' presence, the connector's Teams slot, the bridge's stored
/// state and pending delivery, and every line of the killed and the restarted bridge's logs that
/// names the user.
async fn diagnose(world: &World, store: &dyn Store, dir: &Path, round: usize) -> String {
    let logs: Vec<(String, String)> = (round.saturating_sub(1)..=round)
        .map(|r| {
            let name = format!("bridge-{r}.log");
            let text = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
            (name, text)
        })
        .collect();
    let mut out = String::new();
    for line in world.check().1 {
        let Some(user) = world.users.iter().find(|u| line.starts_with(&u.entra_id)) else {
            continue;
        };
        out.push_str(&format!(
            "{line}\n  teams: {:?}\n  connector: {:?}\n  state: {:?}\n  pending: {:?}\n",
            world.sandbox.graph.presence(&user.entra_id),
            world.sandbox.swyx.user(&user.swyx_id).and_then(|u| u.teams),
            store.get_sync_state(&user.entra_id).await,
            store.get_pending(&user.swyx_id).await,
        ));
        for (name, text) in &logs {
            for l in text
                .lines()
                .filter(|l| l.contains(&user.swyx_id) || l.contains(&user.entra_id))
            {
                out.push_str(&format!("  {name}: {l}\n"));
            }
        }
    }
    out
}

/// What a restart needs from the stage (the sandbox moves into the world).
struct StageFiles {
    addr: std::net::SocketAddr,
    config: PathBuf,
    env: Vec<(String, String)>,
}

/// A bridge on a fresh stage, its users linked, subscribed and consistent: what every round
/// starts from.
pub struct Running {
    pub dir: tempfile::TempDir,
    files: StageFiles,
    /// The bridge's store, opened by the test too (diagnosis).
    pub store: Arc<dyn Store>,
    /// Seals the refresh tokens of sync accounts enrolled later.
    pub sealer: TokenSealer,
    pub world: World,
}

/// A fresh table on the binary's shared moto: for rounds whose load it carries alongside others.
pub fn shared_dynamodb(prefix: &str) -> DemoStore {
    DemoStore::DynamoDb {
        endpoint: crate::support::moto::endpoint().to_string(),
        table: crate::support::moto::unique_table(prefix),
    }
}

pub async fn start_consistent(store: DemoStore, users: usize) -> Running {
    start_consistent_with(store, users, |_| {}).await
}

/// As [`start_consistent`], with `before_subscribing` done to the sandbox before the bridge
/// makes its first subscription.
pub async fn start_consistent_with(
    store: DemoStore,
    users: usize,
    before_subscribing: impl FnOnce(&Sandbox),
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let stage: Stage = prepare(dir.path(), &store, None).await.unwrap();
    let users = link_users(&stage, users).await.unwrap();
    let mut env = stage.bridge_env.clone();
    // Debug, not warn: a failure shows what the bridge did for the users left wrong.
    env.push(("RUST_LOG".into(), "info,presence_bridge=debug".into()));
    let files = StageFiles {
        addr: stage.bridge_addr,
        config: stage.config_path.clone(),
        env,
    };
    let store = Arc::clone(&stage.store);
    let bridge = start_bridge(dir.path(), &files, 0).await;
    // Swyx calls reach this bridge (and its successors on the same address).
    stage
        .sandbox
        .swyx
        .set_bridge_events_url(&bridge.url("/swyx/events"));
    before_subscribing(&stage.sandbox);
    // One sync account per 650 users: Graph's limit of users per presence subscription.
    let accounts = users.len().div_ceil(USERS_PER_ACCOUNT);
    enroll_accounts(
        &stage.sandbox,
        stage.store.as_ref(),
        &stage.sealer,
        accounts,
    )
    .await
    .unwrap();
    if let Err(e) = wait_for_subscriptions(&stage.sandbox, accounts).await {
        let log = std::fs::read_to_string(dir.path().join("bridge-0.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!("{e:#}; the bridge's log ends:\n{}", tail.join("\n"));
    }
    let world = World {
        sandbox: stage.sandbox,
        bridge,
        users,
        rules: MappingRules::default(),
        swyx: SwyxView::Emulated,
    };
    world.wait_consistent(CONVERGE_WITHIN).await;
    assert_eq!(world.check().1, Vec::<String>::new(), "before any fault");
    Running {
        dir,
        files,
        store,
        sealer: stage.sealer,
        world,
    }
}

impl Running {
    /// Every user's Teams presence changes (a different row per round).
    pub fn burst(&self, round: usize) {
        self.change(round, |_| true);
    }

    /// The Teams presence of the users whose index `who` picks changes (a different row per
    /// round).
    pub fn change(&self, round: usize, who: impl Fn(usize) -> bool) {
        for (i, user) in self.world.users.iter().enumerate().filter(|(i, _)| who(*i)) {
            let row = &MAPPING_ROWS[(i * 7 + round * 3) % MAPPING_ROWS.len()];
            apply(&self.world.sandbox.graph, &user.entra_id, row).unwrap();
        }
    }

    /// Waits until the connector has applied `count` updates in all (at most 20 s).
    pub async fn wait_applied(&self, count: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.world.sandbox.swyx.stats().updates_applied < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGKILL, then a new `serve` on the same address, logging to `bridge-{round}.log`.
    pub async fn kill_and_restart(self, round: usize) -> Self {
        let Running {
            dir,
            files,
            store,
            sealer,
            world,
        } = self;
        // `World` owns its bridge by value: taken apart to swap the process.
        let World {
            sandbox,
            bridge,
            users,
            rules,
            swyx,
        } = world;
        bridge.kill().expect("SIGKILL");
        let bridge = start_bridge(dir.path(), &files, round).await;
        let world = World {
            sandbox,
            bridge,
            users,
            rules,
            swyx,
        };
        Running {
            dir,
            files,
            store,
            sealer,
            world,
        }
    }

    /// Waits for consistency (bounded); asserts it, with what each side holds when not.
    pub async fn assert_converges(&self, round: usize, what: &str) -> Duration {
        self.assert_settles(round, what, &HashSet::new()).await
    }

    /// As [`Self::assert_converges`] with the users `in_call` in Swyx calls: each of them has
    /// exactly one "In a call" session of the bridge in Teams and is left out of the Swyx
    /// comparison (Teams shows the bridge's own In a call, which must not go back to Swyx);
    /// everyone else has no session of the bridge.
    pub async fn assert_settles(
        &self,
        round: usize,
        what: &str,
        in_call: &HashSet<usize>,
    ) -> Duration {
        let started = Instant::now();
        let deadline = started + CONVERGE_WITHIN;
        let mut wrong = self.wrong(in_call);
        while !wrong.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            wrong = self.wrong(in_call);
        }
        let took = started.elapsed();
        assert_eq!(
            wrong,
            Vec::<String>::new(),
            "round {round} ({what}): {} of {} wrong after {took:?}; what each side holds:\n{}",
            wrong.len(),
            self.world.users.len(),
            diagnose(&self.world, self.store.as_ref(), self.dir.path(), round).await
        );
        eprintln!(
            "round {round} ({what}): all {} consistent {took:?} after the fault ended",
            self.world.users.len()
        );
        took
    }

    /// A line for each user whose sides disagree, or whose Teams sessions of the bridge do not
    /// match their Swyx calls.
    fn wrong(&self, in_call: &HashSet<usize>) -> Vec<String> {
        let callers: HashSet<&str> = in_call
            .iter()
            .map(|&i| self.world.users[i].entra_id.as_str())
            .collect();
        let mut wrong: Vec<String> = self
            .world
            .check()
            .1
            .into_iter()
            .filter(|line| !callers.iter().any(|c| line.starts_with(c)))
            .collect();
        let graph = &self.world.sandbox.graph;
        for (i, user) in self.world.users.iter().enumerate() {
            let ours: Vec<String> = graph
                .app_sessions(&user.entra_id)
                .into_iter()
                .filter(|s| s.session_id == self.world.sandbox.app_id)
                .map(|s| s.activity)
                .collect();
            let want: &[&str] = if in_call.contains(&i) {
                &["InACall"]
            } else {
                &[]
            };
            if ours != want {
                wrong.push(format!(
                    "{}: the bridge's Teams sessions are {ours:?}, its Swyx calls want {want:?}",
                    user.entra_id
                ));
            }
        }
        wrong
    }

    pub fn stop(self) {
        assert!(self.world.bridge.stop().expect("stops").success());
    }
}
