//! The bridge (`presence-bridge serve`, a child process) against the sandbox (emulated Graph tenant
//! and SwyxServer connector) over real HTTP on loopback, on both stores: the demo's scripted day —
//! every row of the mapping table, a connector outage and its recovery by maintenance.

use crate::support::moto;
use presence_bridge::demo::{DemoOptions, DemoReport, DemoStore, SwyxSide, run};
use std::path::PathBuf;
use std::time::Duration;

fn options(users: usize, store: DemoStore) -> DemoOptions {
    DemoOptions {
        users,
        swyx: SwyxSide::Emulated,
        store,
        bridge_exe: PathBuf::from(env!("CARGO_BIN_EXE_presence-bridge")),
        outage: Duration::from_secs(2),
        connector_delay: Duration::ZERO,
        progress: false,
        log_dir: None,
    }
}

fn assert_day(report: &DemoReport, users: usize) {
    assert_eq!(report.consistent, users, "{}", report.table());
    assert!(report.inconsistent.is_empty(), "{}", report.table());
    assert!(report.ok(), "{}", report.table());
    assert_eq!(report.subscriptions, 1);
    // Everyone first became Away, then took a row, then half changed during the outage.
    assert!(
        report.forwarded_to_swyx >= users as u64,
        "{}",
        report.table()
    );
    assert!(
        report.pending_during_outage > 0,
        "the outage must leave updates pending: {}",
        report.table()
    );
    assert_eq!(report.pending_at_end, 0, "{}", report.table());
    assert!(report.bridge_forward.samples > 0, "{}", report.table());
    assert!(report.bridge_stopped_cleanly);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_on_the_embedded_store() {
    let users = 30; // more than the 23 rows, so every row is played
    let report = run(options(users, DemoStore::Sqlite)).await.expect("demo");
    assert_day(&report, users);
    // Asserted here only: on DynamoDB the store is moto, a Python emulator serving one request at
    // a time, whose latency on a shared 2-core machine says nothing about DynamoDB's.
    assert_eq!(
        report.graph_slow_answers,
        0,
        "the bridge answered Graph in time: {}",
        report.table()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_on_dynamodb() {
    let users = 25;
    let store = DemoStore::DynamoDb {
        endpoint: moto::endpoint().to_string(),
        table: moto::unique_table("sandbox-day"),
    };
    let report = run(options(users, store)).await.expect("demo");
    assert_day(&report, users);
}

/// `presence-bridge demo` as an operator runs it (output not a terminal, as in CI): the table
/// alone on stdout, on stderr the log directory and one line per step, every log line in files.
#[test]
fn the_demo_command_prints_the_table_clean_and_logs_to_files() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_presence-bridge"))
        .args(["demo", "--users", "3", "--outage-secs", "1"])
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run presence-bridge demo");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("users consistent"), "{stdout}");
    assert!(stdout.contains("3/3"), "{stdout}");
    for line in stdout.lines() {
        assert!(
            !line.contains(" INFO ") && !line.contains(" WARN "),
            "a log line in the table: {line:?}\n{stdout}"
        );
    }
    let mut lines = stderr.lines();
    let logs = lines
        .next()
        .and_then(|l| l.strip_prefix("Logs: "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("the log directory comes first: {stderr}"));
    let steps: Vec<&str> = lines.collect();
    assert!(steps.len() >= 9, "one line per step: {stderr}");
    assert!(
        steps
            .iter()
            .all(|l| l.starts_with('[') && !l.contains('\r')),
        "only progress lines on stderr: {stderr}"
    );
    let logs = PathBuf::from(logs);
    let demo_log = std::fs::read_to_string(logs.join("demo.log")).expect("demo.log");
    assert!(
        demo_log.contains("presence_sandbox"),
        "the sandbox's log lines are in demo.log: {demo_log}"
    );
    assert!(logs.join("bridge.log").is_file());
    let _ = std::fs::remove_dir_all(&logs);
}
