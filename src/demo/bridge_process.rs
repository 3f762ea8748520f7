//! The bridge as the demo runs it: `presence-bridge serve` as a child process on a free loopback
//! port, so its memory can be measured on its own and it is stopped the way an operator stops it.

use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct BridgeProcess {
    child: Child,
    pub addr: SocketAddr,
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

impl BridgeProcess {
    pub async fn start(
        addr: SocketAddr,
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
        let mut this = Self { child, addr };
        this.wait_healthy(Duration::from_secs(20), log).await?;
        Ok(this)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn wait_healthy(&mut self, within: Duration, log: &Path) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                bail!("the bridge exited ({status}) before it was ready:\n{text}");
            }
            if let Ok(r) = http.get(self.url("/healthz")).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the bridge did not answer /healthz within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Peak resident memory of the bridge so far (Linux `VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGTERM, then wait for a clean exit (the server finishes in-flight work first).
    pub fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("the bridge did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
