//! `presence-bridge demo`: the terminal belongs to the demo's progress and closing table, so every
//! log line (the sandbox's, the demo's, the bridge process's) goes to files in a directory that
//! outlives the run; its path is printed first, the table last.

use crate::demo::{DemoOptions, DemoStore, SwyxSide};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Runs the demo with logs in a fresh directory, then writes the closing table to `out`. `true`
/// when every user ended consistent (and the rest of the day's checks passed).
pub async fn run(
    users: usize,
    outage: Duration,
    connector_delay: Duration,
    swyx: SwyxSide,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let log_dir = log_directory()?;
    let log = std::fs::File::create(log_dir.join("demo.log")).context("demo log file")?;
    crate::telemetry::init_to_file(log);
    let connector_logs = match swyx {
        SwyxSide::Emulated => "",
        SwyxSide::Connector { .. } => {
            "; connector.log: swyx-connector run; writer.log: what its writer was handed"
        }
    };
    eprintln!(
        "Logs: {} (demo.log: sandbox and demo; bridge.log: presence-bridge serve{connector_logs})",
        log_dir.display()
    );
    let report = crate::demo::run(DemoOptions {
        users,
        swyx,
        store: DemoStore::Sqlite,
        bridge_exe: std::env::current_exe().context("the presence-bridge executable")?,
        outage,
        connector_delay,
        progress: true,
        log_dir: Some(log_dir),
    })
    .await?;
    out.write_all(report.table().as_bytes())?;
    out.flush()?;
    Ok(report.ok())
}

/// A new directory under the system's temporary directory, kept after the run.
fn log_directory() -> anyhow::Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("presence-bridge-demo-")
        .tempdir_in(std::env::temp_dir())
        .context("log directory")?;
    Ok(dir.keep())
}
