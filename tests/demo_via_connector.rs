//! `presence-bridge demo --via-connector`: the demo's day with the real `swyx-connector` (a child
//! process) and the sandbox's SIP stand-in for SwyxServer on the Swyx side.
//!
//! The connector is another package's binary, and Cargo gives integration tests `CARGO_BIN_EXE_*`
//! only for their own package's binaries (a dev-dependency does not build the other package's
//! binaries either). Workspace builds put every binary in one directory, so the test takes
//! `swyx-connector` from next to `presence-bridge`: the test command (`cargo nextest run
//! --workspace`) builds both. Run alone with `cargo test --test demo_via_connector`, build the
//! workspace first (`cargo build --workspace`), or the test fails saying so.

use presence_bridge::demo::{DemoOptions, DemoStore, SwyxSide, run};
use std::path::PathBuf;
use std::time::Duration;

const BRIDGE: &str = env!("CARGO_BIN_EXE_presence-bridge");

fn connector_exe() -> PathBuf {
    let exe = PathBuf::from(BRIDGE)
        .with_file_name(format!("swyx-connector{}", std::env::consts::EXE_SUFFIX));
    assert!(
        exe.is_file(),
        "{} is missing: build the workspace first (`cargo build --workspace`; the test command \
         `cargo nextest run --workspace` does it)",
        exe.display()
    );
    exe
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_day_through_the_real_connector_reaches_the_writer_and_teams() {
    let users = 10; // callers 1 and 6, Do-not-disturb callers 3 and 8
    let report = run(DemoOptions {
        users,
        swyx: SwyxSide::Connector {
            exe: connector_exe(),
        },
        store: DemoStore::Sqlite,
        bridge_exe: PathBuf::from(BRIDGE),
        outage: Duration::ZERO,
        connector_delay: Duration::ZERO,
        progress: false,
        log_dir: None,
    })
    .await
    .expect("demo via the connector");
    let table = report.table();
    assert!(report.ok(), "{table}");
    assert!(table.starts_with("Swyx side"), "{table}");
    assert!(table.contains("via the real swyx-connector"), "{table}");
    assert_eq!(report.consistent, users, "{table}");
    // Every Teams change that maps to a new Swyx status reached the connector's writer.
    assert!(report.writer_expected >= users, "{table}");
    assert_eq!(report.writer_seen, report.writer_expected, "{table}");
    assert_eq!(report.end_to_end.samples, report.writer_seen, "{table}");
    // Two callers showed In a call, two kept their Do not disturb, all four were cleared.
    assert_eq!(report.calls_made, 4, "{table}");
    assert_eq!(report.swyx_to_teams.samples, 2, "{table}");
    assert_eq!(report.dnd_kept, 2, "{table}");
    assert_eq!(report.calls_cleared, 4, "{table}");
    assert_eq!(report.echoes, 0, "{table}");
    assert_eq!(report.pending_at_end, 0, "{table}");
    assert!(
        report.bridge_stopped_cleanly && report.connector_stopped_cleanly,
        "{table}"
    );
}

#[test]
fn a_missing_connector_executable_is_named_with_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("swyx-connector");
    let out = std::process::Command::new(BRIDGE)
        .args(["demo", "--via-connector", "--users", "1", "--connector-exe"])
        .arg(&missing)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run presence-bridge demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("cargo build --release -p swyx-connector"),
        "{stderr}"
    );
}
