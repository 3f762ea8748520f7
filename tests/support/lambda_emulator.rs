//! cargo-lambda's runtime emulator (`cargo lambda watch --only-lambda-apis`) on loopback, and the
//! Lambda binaries started against it as separate processes, exactly as the Lambda service starts
//! a `provided.al2023` bootstrap.
//!
//! Lookup: `$CARGO_LAMBDA`, else `<crate>/.venv/bin/cargo-lambda`, else `cargo-lambda` on PATH.
//! Binaries: `$LAMBDA_BUILD_DIR/<fn>/bootstrap` when set (`scripts/test.sh` sets `target/lambda`
//! after `cargo lambda build --release`: the very files `sam build` packages), else the ones cargo
//! built with this test.

use serde_json::{Value, json};
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::graph_sender::{APP_ID, CERT_ID, TENANT};
use super::moto;
use presence_bridge::domain::Timestamp;
use presence_bridge::store::{DynamoStore, SubscriptionRecord, SubscriptionStore};
use presence_sandbox::Clock;
use presence_sandbox::graph::{GraphEmulator, GraphOptions};
use presence_sandbox::swyx::{SwyxEmulator, SwyxOptions};

const HINT: &str = "run ./scripts/test.sh (it installs cargo-lambda into .venv)";

/// A child process killed when dropped; its output goes to a log file kept for failure messages.
pub struct Proc {
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// SIGKILL, as the Lambda service ends a sandbox that timed out or ran out of memory.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

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

/// The directory `cargo lambda build --release` wrote the functions to, when a test run names
/// one (`$LAMBDA_BUILD_DIR`).
fn lambda_build_dir() -> Option<PathBuf> {
    std::env::var_os("LAMBDA_BUILD_DIR").map(PathBuf::from)
}

/// `function` as shipped: `$LAMBDA_BUILD_DIR/<fn>/bootstrap`, else `target/lambda/<fn>/bootstrap`.
pub fn shipped_bootstrap(function: &str) -> PathBuf {
    let dir = lambda_build_dir().unwrap_or_else(|| manifest_dir().join("target/lambda"));
    let path = dir.join(function).join("bootstrap");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo lambda build --release --bin {function}` \
         (scripts/test.sh does)",
        path.display()
    );
    path
}

pub fn bootstrap(function: &str) -> PathBuf {
    if lambda_build_dir().is_some() {
        return shipped_bootstrap(function);
    }
    let path = PathBuf::from(match function {
        "graph-webhook" => env!("CARGO_BIN_EXE_graph-webhook"),
        "swyx-webhook" => env!("CARGO_BIN_EXE_swyx-webhook"),
        "maintenance" => env!("CARGO_BIN_EXE_maintenance"),
        other => panic!("no Lambda function named {other}"),
    });
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("free port");
    l.local_addr().expect("addr").port()
}

pub fn spawn(mut cmd: Command, log: PathBuf) -> Proc {
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
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // Its own access key id: moto applies this function's role in template.yaml to it.
            .env("AWS_ACCESS_KEY_ID", function);
        spawn(cmd, log_dir.join(format!("{function}.log")))
    }
}

/// The Swyx connector's emulator as the Lambda tests start it: the bridge signs its requests with
/// `inbound`, the connector its events with `outbound`; events go nowhere until a test sets
/// their URL.
pub async fn swyx_emulator(inbound: &str, outbound: &str) -> SwyxEmulator {
    SwyxEmulator::start(SwyxOptions {
        inbound_secret: inbound.to_string(),
        outbound_secret: outbound.to_string(),
        bridge_events_url: None,
        clock: Clock::new(),
    })
    .await
    .expect("swyx emulator")
}

/// A secret in moto's Secrets Manager; its ARN (what the SAM template hands the functions).
pub async fn put_secret(name: &str, value: &str) -> String {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(moto::endpoint())
        .build();
    let out = aws_sdk_secretsmanager::Client::from_conf(conf)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret in moto");
    out.arn().expect("secret ARN").to_string()
}

/// The environment the SAM template gives every function, pointed at loopback (moto), plus
/// `specific`.
pub fn function_env(specific: &[(&str, String)]) -> Vec<(String, String)> {
    let common = [
        ("AWS_REGION", "eu-west-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_ENDPOINT_URL", moto::endpoint().to_string()),
        ("RUST_LOG", "info".to_string()),
        ("STACK_NAME", "lambda-e2e".to_string()),
    ];
    common
        .iter()
        .chain(specific)
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The environment of the webhook functions in these tests: the table, Graph's JWKS and the
/// notification key, the connector with one attempt of at most 1 s.
pub fn webhook_env(
    table: &str,
    jwks_url: &str,
    key_arn: String,
    connector_url: &str,
    connector_arn: String,
) -> Vec<(String, String)> {
    function_env(&[
        ("TABLE_NAME", table.to_string()),
        ("GRAPH_TENANT_ID", TENANT.to_string()),
        ("GRAPH_CLIENT_ID", APP_ID.to_string()),
        ("GRAPH_JWKS_URL", jwks_url.to_string()),
        (
            "GRAPH_ENCRYPTION_KEYS",
            json!([{ "id": CERT_ID, "private_key": key_arn }]).to_string(),
        ),
        ("CONNECTOR_URL", connector_url.to_string()),
        ("CONNECTOR_SIGNING_SECRET", connector_arn),
        ("CONNECTOR_MAX_ATTEMPTS", "1".to_string()),
        ("CONNECTOR_TIMEOUT_MS", "1000".to_string()),
    ])
}

/// A rich presence subscription of sync account `sync1`, live for an hour, as maintenance
/// stores one.
pub async fn put_subscription(store: &DynamoStore, id: &str, client_state: &str) {
    store
        .put_subscription(&SubscriptionRecord {
            id: id.to_string(),
            client_state: client_state.to_string(),
            expires_at: Timestamp::now().plus_millis(3_600_000),
            account: Some("sync1".to_string()),
            resource: "/communications/presences".to_string(),
            encryption_certificate_id: Some(CERT_ID.to_string()),
            renewed_at: None,
        })
        .await
        .expect("subscription");
}

/// EventBridge's scheduled event, as the maintenance function receives it.
pub fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-26T12:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/presence-bridge-EveryMinute"],
        "detail": {}
    })
}

/// `what`, with the tail of each process's log.
pub fn with_logs(what: &str, procs: &[&Proc]) -> String {
    let logs: Vec<String> = procs
        .iter()
        .map(|p| format!("--- {}\n{}", p.log.display(), p.log_tail()))
        .collect();
    format!("{what}\n{}", logs.join("\n"))
}

/// The emulated Graph tenant of the Lambda tests: their tenant and app, `client_secret`, no
/// throttling, its own clock.
pub async fn graph_emulator(client_secret: &str) -> GraphEmulator {
    GraphEmulator::start(GraphOptions {
        tenant_id: TENANT.to_string(),
        app_id: APP_ID.to_string(),
        client_secret: client_secret.to_string(),
        throttle_per_30s: None,
        clock: Clock::new(),
    })
    .await
    .expect("graph emulator")
}
