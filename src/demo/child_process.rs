//! A service the demo runs as a child process (the bridge's `serve`, the real `swyx-connector`):
//! started with its log in a file, ready once its health endpoint answers, its memory measured on
//! its own, and stopped the way an operator stops it (SIGTERM).

use anyhow::bail;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

pub struct ChildProcess {
    child: Child,
    /// What the demo calls it in errors ("the bridge", "the connector").
    name: &'static str,
}

/// A free loopback port (bound, then released for a child to take).
pub fn free_port() -> anyhow::Result<std::net::SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

impl ChildProcess {
    pub fn new(child: Child, name: &'static str) -> Self {
        Self { child, name }
    }

    /// Waits until `health_url` answers 2xx; fails with the log's text if the child exits first.
    pub async fn wait_healthy(
        &mut self,
        health_url: &str,
        within: Duration,
        log: &Path,
    ) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                bail!(
                    "{} exited ({status}) before it was ready:\n{text}",
                    self.name
                );
            }
            if let Ok(r) = http.get(health_url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer {health_url} within {within:?} (see {})",
                    self.name,
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Peak resident memory of the child so far (Linux `VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGTERM, then wait for a clean exit (the child finishes in-flight work first).
    pub fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("{} did not stop within 10 s of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl ChildProcess {
    /// SIGKILL: the child dies at once, mid-request, as in a crash or an out-of-memory kill.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
