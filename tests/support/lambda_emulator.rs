//! cargo-lambda's runtime emulator (`cargo lambda watch --only-lambda-apis`) on loopback, and the
//! Lambda binaries started against it as separate processes, exactly as the Lambda service starts
//! a `provided.al2023` bootstrap.
//!
//! Lookup: `$CARGO_LAMBDA`, else `<crate>/.venv/bin/cargo-lambda`, else `cargo-lambda` on PATH.
//! Binaries: the ones cargo built with this test (same profile and target dir, so CI compiles the
//! dependency tree once), or `$LAMBDA_BUILD_DIR/<fn>/bootstrap` when set (e.g. `target/lambda`
//! after `cargo lambda build`, to check the very files `sam build` packages).

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const HINT: &str = "run ./scripts/test.sh (it installs cargo-lambda into .venv)";

/// A child process killed when dropped; its output goes to a log file kept for failure messages.
pub struct Proc {
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cargo_lambda() -> PathBuf {
    if let Some(p) = std::env::var_os("CARGO_LAMBDA") {
        return PathBuf::from(p);
    }
    let venv = manifest_dir().join(".venv/bin/cargo-lambda");
    if venv.is_file() {
        return venv;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("cargo-lambda"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("cargo-lambda not found (CARGO_LAMBDA, .venv, PATH): {HINT}"))
}

pub fn bootstrap(function: &str) -> PathBuf {
    let path = match std::env::var_os("LAMBDA_BUILD_DIR") {
        Some(dir) => PathBuf::from(dir).join(function).join("bootstrap"),
        None => PathBuf::from(match function {
            "graph-webhook" => env!("CARGO_BIN_EXE_graph-webhook"),
            "swyx-webhook" => env!("CARGO_BIN_EXE_swyx-webhook"),
            "maintenance" => env!("CARGO_BIN_EXE_maintenance"),
            other => panic!("no Lambda function named {other}"),
        }),
    };
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("free port");
    l.local_addr().expect("addr").port()
}

fn spawn(mut cmd: Command, log: PathBuf) -> Proc {
    let out = File::create(&log).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    Proc { child, log }
}

/// The runtime API + invoke server of cargo-lambda.
pub struct Emulator {
    pub port: u16,
    pub proc: Proc,
}

impl Emulator {
    pub fn start(log_dir: &Path) -> Self {
        let port = free_port();
        let mut cmd = Command::new(cargo_lambda());
        cmd.args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(manifest_dir());
        let proc = spawn(cmd, log_dir.join("cargo-lambda-watch.log"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // Polled readiness: the emulator prints nothing machine-readable when it listens.
        for _ in 0..300 {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Self { port, proc };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("cargo lambda watch did not listen:\n{}", proc.log_tail());
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Function URL of `function` (the emulator turns the request into a payload-v2 event).
    pub fn function_url(&self, function: &str, path: &str) -> String {
        format!("{}/lambda-url/{function}{path}", self.base())
    }

    /// The Lambda Invoke API (what EventBridge uses for scheduled events).
    pub fn invoke_url(&self, function: &str) -> String {
        format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.base()
        )
    }

    /// Starts `target/lambda/<function>/bootstrap` with only the given environment (plus the
    /// variables the Lambda service sets), so nothing from the developer's shell leaks in.
    pub fn start_function(&self, function: &str, env: &[(String, String)], log_dir: &Path) -> Proc {
        let mut cmd = Command::new(bootstrap(function));
        cmd.env_clear()
            .env("HOME", log_dir)
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("{}/.rt/{function}", self.base()),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        spawn(cmd, log_dir.join(format!("{function}.log")))
    }
}
