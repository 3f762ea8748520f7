//! The real `swyx-connector` as the demo runs it: a child process configured as an administrator
//! configures it (a `config.toml`, a CSV directory of the demo's users, the sandbox's SIP
//! stand-in as SwyxServer, a `command` writer), its log next to the bridge's.

use super::child_process::{ChildProcess, free_port};
use super::setup::ConnectorEndpoint;
use super::world::DemoUser;
use anyhow::{Context, bail};
use presence_sandbox::sip::SipServer;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use swyx_contract::signature::WebhookSecret;

/// The SIP account the connector registers as (the sandbox's SIP stand-in knows it).
const MONITOR: (&str, &str) = ("monitor", "monitor-secret");

/// The connector's executable next to the running one (`target/release/` holds both after
/// `cargo build --release --workspace`).
pub fn default_exe() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("the presence-bridge executable")?;
    Ok(me.with_file_name(format!("swyx-connector{}", std::env::consts::EXE_SUFFIX)))
}

/// Where the connector will listen and the secrets both sides share, known before either starts
/// (each side's configuration names the other).
pub struct ConnectorPlan {
    api: SocketAddr,
    admin: SocketAddr,
    signing_secret: String,
    event_secret: String,
}

impl ConnectorPlan {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            api: free_port()?,
            admin: free_port()?,
            signing_secret: WebhookSecret::generate().expose_whsec(),
            event_secret: WebhookSecret::generate().expose_whsec(),
        })
    }

    /// What the bridge's `[connector]` section needs.
    pub fn endpoint(&self) -> ConnectorEndpoint {
        ConnectorEndpoint {
            url: format!("http://{}", self.api),
            signing_secret: self.signing_secret.clone(),
            event_secret: self.event_secret.clone(),
        }
    }
}

pub struct ConnectorProcess {
    process: ChildProcess,
}

/// What the connector is started with.
pub struct ConnectorStart<'a> {
    pub exe: &'a Path,
    /// Its configuration, directory, store and writer script go here.
    pub dir: &'a Path,
    pub log: &'a Path,
    pub bridge_addr: SocketAddr,
    pub sip: &'a SipServer,
    pub users: &'a [DemoUser],
    pub writer_script: &'a Path,
    pub writer_log: &'a Path,
}

/// Fails, naming the path and how to build it, when there is no connector executable at `exe`.
pub fn check_exe(exe: &Path) -> anyhow::Result<()> {
    if !exe.is_file() {
        bail!(
            "the swyx-connector executable is missing: {} (build it with `cargo build --release \
             -p swyx-connector`, or name it with --connector-exe PATH)",
            exe.display()
        );
    }
    Ok(())
}

impl ConnectorProcess {
    pub async fn start(plan: &ConnectorPlan, start: ConnectorStart<'_>) -> anyhow::Result<Self> {
        check_exe(start.exe)?;
        let csv = start.dir.join("swyx-users.csv");
        std::fs::write(&csv, directory_csv(start.users)).context("connector user directory")?;
        let config = start.dir.join("connector.toml");
        std::fs::write(&config, config_text(plan, &start, &csv)).context("connector config")?;
        let log_file = std::fs::File::create(start.log).context("connector log file")?;
        let child = Command::new(start.exe)
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .with_context(|| format!("starting {}", start.exe.display()))?;
        let mut process = ChildProcess::new(child, "the connector");
        let health = format!("http://{}/healthz", plan.admin);
        process
            .wait_healthy(&health, Duration::from_secs(20), start.log)
            .await?;
        Ok(Self { process })
    }

    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.process.peak_rss_kib()
    }

    /// SIGTERM: the connector unsubscribes and unregisters, then exits.
    pub fn stop(self) -> anyhow::Result<std::process::ExitStatus> {
        self.process.stop()
    }
}

/// The user directory an administrator exports: `swyx_user_id,name,email`.
fn directory_csv(users: &[DemoUser]) -> String {
    let mut csv = String::from("swyx_user_id,name,email\n");
    for (i, u) in users.iter().enumerate() {
        let _ = writeln!(csv, "{},User {i},{}", u.swyx_id, u.email);
    }
    csv
}

fn config_text(plan: &ConnectorPlan, start: &ConnectorStart<'_>, csv: &Path) -> String {
    let path = |p: &Path| p.display().to_string();
    format!(
        "[server]\nlisten = \"{}\"\nadmin_listen = \"{}\"\n\n\
         [store]\npath = {:?}\n\n\
         [bridge]\nevents_url = \"http://{}/swyx/events\"\ninbound_secrets = [{:?}]\noutbound_secret = {:?}\n\n\
         [directory]\nsource = \"csv\"\ncsv_path = {:?}\n\n\
         [sip]\nserver = \"{}\"\ntransport = \"udp\"\ndomain = {:?}\nusername = {:?}\npassword = {:?}\nlocal_address = \"127.0.0.1:0\"\n\n\
         [writer]\nkind = \"command\"\n\n[writer.command]\nprogram = {:?}\nargs = [{:?}]\n",
        plan.api,
        plan.admin,
        path(&start.dir.join("connector.db")),
        start.bridge_addr,
        plan.signing_secret,
        plan.event_secret,
        path(csv),
        start.sip.udp_addr(),
        start.sip.domain(),
        MONITOR.0,
        MONITOR.1,
        path(start.writer_script),
        path(start.writer_log),
    )
}
