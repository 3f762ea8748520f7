//! A real `moto_server` (DynamoDB emulator) on a free loopback port, one per test binary.
//!
//! Binary lookup: `$MOTO_SERVER`, else `<crate>/scripts/moto-server` (moto from `.venv`, one request
//! at a time, as DynamoDB applies each request atomically), else `moto_server` on PATH.
//! The server runs under a small `sh` watchdog holding a pipe from us: when this process ends in
//! any way (even killed), the pipe closes and the watchdog stops moto, so no server outlives the
//! tests although the shared instance lives in a `static`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const INSTALL_HINT: &str =
    "run `python3 -m venv .venv && .venv/bin/pip install 'moto[server]'` in the crate directory";
/// Port polls before giving up; with the growing pause below this is about 30 s in total.
const READY_POLLS: u32 = 150;
const START_ATTEMPTS: u32 = 3;

/// `sh -c` script: start moto, wait for EOF on fd 3 (our pipe) in the background, then stop it.
const WATCHDOG: &str = r#"exec 3<&0; "$0" "$@" </dev/null & pid=$!; (cat <&3 >/dev/null; kill "$pid" 2>/dev/null) & exec 3<&-; wait "$pid""#;

pub struct MotoServer {
    pub endpoint: String,
    child: Child,
    lifeline: Option<ChildStdin>,
    /// Stopped by [`MotoServer::pause`] and not yet resumed.
    paused: AtomicBool,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // A test that failed while the server was stopped: a stopped watchdog would never see
        // its lifeline close, and reaping it would hang the test instead of failing it.
        // (Not asserted: a panic while unwinding would abort the whole test binary.)
        if self.paused.load(Ordering::SeqCst) {
            let _ = self.send_signal("-CONT");
        }
        // Closing the lifeline makes the watchdog stop moto; then reap the watchdog.
        drop(self.lifeline.take());
        let _ = self.child.wait();
    }
}

fn binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "MOTO_SERVER={} does not exist; unset it or {INSTALL_HINT}",
                path.display()
            ))
        };
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if crate_dir.join(".venv/bin/moto_server").is_file() {
        return Ok(crate_dir.join("scripts/moto-server"));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("moto_server"))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("moto_server not found (MOTO_SERVER, .venv, PATH): {INSTALL_HINT}"))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// `own_group`: the server (watchdog and moto) in a process group of its own, so that it can be
/// paused and resumed as a whole.
fn start_once_in(bin: &Path, own_group: bool) -> Result<MotoServer, String> {
    let port = free_port()?;
    let log = std::env::temp_dir().join(format!("moto-{}-{port}.log", std::process::id()));
    let out = File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot share log file: {e}"))?;
    let mut command = Command::new("sh");
    if own_group {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    let mut child = command
        .args(["-c", WATCHDOG])
        .arg(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        // The serial server applies the template's IAM policies to the Lambda functions' requests
        // (scripts/iam_check.py): a role that lacks what the code does fails here, not on AWS.
        .env(
            "MOTO_IAM_TEMPLATE",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"),
        )
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let lifeline = child.stdin.take();
    let mut server = MotoServer {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
        lifeline,
        paused: AtomicBool::new(false),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for poll in 0..READY_POLLS {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            // Only needed to explain a failed start; moto keeps its open handle.
            let _ = std::fs::remove_file(&log);
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!(
                "moto_server exited ({status}):\n{}",
                log_tail(&log)
            ));
        }
        // Python needs a moment to import moto; poll quickly first, then back off.
        std::thread::sleep(Duration::from_millis(10 + 2 * u64::from(poll)));
    }
    Err(format!(
        "moto_server did not listen on {addr} in time:\n{}",
        log_tail(&log)
    ))
}

fn start() -> Result<MotoServer, String> {
    start_in(false)
}

fn start_in(own_group: bool) -> Result<MotoServer, String> {
    let bin = binary()?;
    let mut last = String::new();
    // Another process may grab the free port before moto binds it: try a fresh one.
    for _ in 0..START_ATTEMPTS {
        match start_once_in(&bin, own_group) {
            Ok(server) => return Ok(server),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl MotoServer {
    /// A server for one test alone (fault injection pauses it); stopped when dropped.
    pub fn dedicated() -> Self {
        start_in(true).unwrap_or_else(|e| panic!("cannot start moto_server: {e}"))
    }

    /// SIGSTOP to the server's process group: it accepts no more work until [`Self::resume`].
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        self.signal_group("-STOP");
    }

    pub fn resume(&self) {
        self.signal_group("-CONT");
        self.paused.store(false, Ordering::SeqCst);
    }

    fn signal_group(&self, signal: &str) {
        assert!(
            self.send_signal(signal),
            "kill {signal} -- -{} failed",
            self.child.id()
        );
    }

    /// `signal` to the server's process group; whether it was delivered.
    fn send_signal(&self, signal: &str) -> bool {
        let group = format!("-{}", self.child.id());
        Command::new("kill")
            .args([signal, "--", &group])
            .status()
            .is_ok_and(|status| status.success())
    }
}

/// The shared server's endpoint, starting it on first use.
pub fn endpoint() -> &'static str {
    static SERVER: OnceLock<Result<MotoServer, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(server) => &server.endpoint,
        Err(e) => panic!("cannot start moto_server: {e}"),
    }
}

/// A fresh client for the shared server. One per test: an SDK client keeps connections tied to
/// the tokio runtime that opened them, and every `#[tokio::test]` has its own runtime.
pub fn client() -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint())
        .build();
    Client::from_conf(config)
}

/// A table name no other test of this binary uses.
pub fn unique_table(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// What a moto of `scripts/moto-server` has served so far; `None` from another moto.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct MotoStats {
    pub requests: u64,
    pub busy_seconds: f64,
    pub by_operation: std::collections::BTreeMap<String, u64>,
    /// Seconds spent, by operation.
    #[serde(default)]
    pub busy_by_operation: std::collections::BTreeMap<String, f64>,
    /// Requests of Lambda functions their role in template.yaml does not allow.
    #[serde(default)]
    pub denied: Vec<Denied>,
}

/// A request refused as IAM would refuse it (scripts/iam_check.py).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Denied {
    pub function: String,
    pub action: String,
    pub table: Option<String>,
    pub leading_keys: Vec<String>,
}

/// What the shared server refused the Lambda functions working on `table`: a test asserts it is
/// nothing, since a refusal the code absorbs (a best-effort read) shows in no answer.
pub async fn denied_on(table: &str) -> Vec<Denied> {
    let stats = MotoStats::of(endpoint())
        .await
        .expect("moto answers its stats");
    stats
        .denied
        .into_iter()
        .filter(|d| d.table.as_deref().is_none_or(|t| t == table))
        .collect()
}

impl MotoStats {
    pub async fn of(endpoint: &str) -> Option<Self> {
        let answer = reqwest::get(format!("{endpoint}/_serial/stats"))
            .await
            .ok()?;
        answer.json().await.ok()
    }
}
