//! The scale bench's maintenance child: one pass of what the maintenance Lambda runs, in a
//! process of its own so that its peak RSS (`VmHWM`) is its own and not the sandbox's, its store
//! requests counted.

use presence_bridge::app::App;
use presence_bridge::config::{Origin, RawConfig};
use presence_bridge::domain::{Clock as BridgeClock, Timestamp};
use presence_bridge::store::CountingStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Set in the child: the configuration file of the maintenance run.
pub const CHILD_CONFIG: &str = "SCALE_BENCH_MAINTENANCE_CONFIG";
/// Set in the child: the sandbox clock's offset from real time (ms).
const CHILD_OFFSET: &str = "SCALE_BENCH_CLOCK_OFFSET_MS";
/// Set: the maintenance child's log (warnings) goes to this process's stderr as it happens.
const CHILD_STDERR: &str = "SCALE_BENCH_CHILD_STDERR";
/// A command the maintenance child is run under (a profiler), split at spaces.
const CHILD_WRAPPER: &str = "SCALE_BENCH_CHILD_WRAPPER";
const MAINTENANCE_BUDGET: Duration = Duration::from_secs(600);

/// What one maintenance run in the child reports.
#[derive(Debug, Default)]
pub struct ChildRun {
    pub store_requests: u64,
    pub vm_hwm_kib: u64,
    pub summary: String,
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

pub fn real_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The child: one maintenance pass (what the maintenance Lambda runs), on the sandbox's clock.
pub async fn child(config: &Path) {
    let offset: i64 = std::env::var(CHILD_OFFSET)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let text = std::fs::read_to_string(config).expect("configuration");
    let cfg = RawConfig::from_toml(&text, "config.toml")
        .expect("configuration parses")
        .validate(Origin::File)
        .expect("configuration is valid");
    let clock = BridgeClock::from_fn(move || Timestamp(real_ms() + offset));
    let mut app = App::from_config_with_clock(&cfg, clock).await.expect("app");
    let counting = Arc::new(CountingStore::new(Arc::clone(&app.store)));
    app.store = counting.clone();
    let summary = presence_bridge::maintenance::run(&app, MAINTENANCE_BUDGET).await;
    let s = &summary.subscriptions;
    println!(
        "child: store_requests={} vm_hwm_kib={} linking_ran={} linked={} unlinked={} created={} renewed={} reconciled={} repaired={} failed_accounts={} parts_failed={} budget_exhausted={} store_calls={:?}",
        counting.total(),
        vm_hwm_kib(),
        summary.linking.ran,
        summary.linking.linked,
        summary.linking.unlinked,
        s.created,
        s.renewed,
        s.reconciled_users,
        s.repaired,
        s.failed_accounts.len(),
        summary.failed.len(),
        summary.budget_exhausted(),
        counting.counts(),
    );
}

/// One maintenance pass in a child process (this executable again), with the configuration
/// file `config` and the sandbox clock `offset_ms` ahead of real time.
pub async fn run_pass(config: &Path, offset_ms: i64) -> ChildRun {
    let exe = std::env::current_exe().expect("own executable");
    // e.g. `heaptrack -o /tmp/scale`: what takes the child's memory.
    let wrapper = std::env::var(CHILD_WRAPPER).unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = tokio::process::Command::new(program);
            c.args(words).arg(exe);
            c
        }
        None => tokio::process::Command::new(exe),
    };
    let out = command
        .env(CHILD_CONFIG, config)
        .env(CHILD_OFFSET, offset_ms.to_string())
        .env("RUST_LOG", "warn")
        // As template.yaml deploys the maintenance function; a value in the environment wins
        // (to compare).
        .env(
            "MALLOC_ARENA_MAX",
            std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "1".into()),
        )
        .env(
            "MALLOC_MMAP_THRESHOLD_",
            std::env::var("MALLOC_MMAP_THRESHOLD_").unwrap_or_else(|_| "131072".into()),
        )
        .stderr(if std::env::var_os(CHILD_STDERR).is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::piped()
        })
        .output()
        .await
        .expect("maintenance child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "maintenance child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("child: "))
        .expect("the child's report");
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    ChildRun {
        store_requests: field("store_requests"),
        vm_hwm_kib: field("vm_hwm_kib"),
        summary: line.to_string(),
    }
}
