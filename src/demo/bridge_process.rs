//! The bridge as the demo runs it: `presence-bridge serve` as a child process on a free loopback
//! port, so its memory can be measured on its own and it is stopped the way an operator stops it.

use super::child_process::ChildProcess;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub use super::child_process::free_port;

pub struct BridgeProcess {
    process: ChildProcess,
    pub addr: SocketAddr,
}

impl BridgeProcess {
    pub async fn start(
        addr: SocketAddr,
        exe: &Path,
        config: &Path,
        env: &[(String, String)],
        log: &Path,
    ) -> anyhow::Result<Self> {
        Self::start_with_health_at(addr, addr, exe, config, env, log).await
    }

    /// As [`BridgeProcess::start`], for a configuration with `server.admin_listen`: `/healthz`
    /// is answered there (`health`), not on `addr`.
    pub async fn start_with_health_at(
        addr: SocketAddr,
        health: SocketAddr,
        exe: &Path,
        config: &Path,
        env: &[(String, String)],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let log_file = std::fs::File::create(log).context("bridge log file")?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--config"])
            .arg(config)
            .args(["--listen", &addr.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let mut this = Self {
            process: ChildProcess::new(child, "the bridge"),
            addr,
        };
        let health = format!("http://{health}/healthz");
        this.process
            .wait_healthy(&health, Duration::from_secs(20), log)
            .await?;
        Ok(this)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Peak resident memory of the bridge so far (Linux `VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.process.peak_rss_kib()
    }

    /// SIGTERM, then wait for a clean exit (the server finishes in-flight work first).
    pub fn stop(self) -> anyhow::Result<std::process::ExitStatus> {
        self.process.stop()
    }

    /// SIGKILL, mid-whatever-it-was-doing (fault-injection tests).
    pub fn kill(self) -> anyhow::Result<()> {
        self.process.kill()
    }
}
