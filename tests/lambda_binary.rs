//! The Lambda functions' files as `cargo lambda build --release` makes them for x86_64
//! (`$LAMBDA_BUILD_DIR`, else `target/lambda`; `scripts/test.sh` builds them first): each is
//! position-independent, so the kernel loads it at a random address, and the code that parses what
//! the internet sends (aws-lc's C included) is at no known place. A build that is not (a static
//! relocation model, or a linker that drops `-pie`, as Zig does for a static musl binary) starts
//! faster and fails here.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn shipped(function: &str) -> PathBuf {
    let dir = std::env::var_os("LAMBDA_BUILD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/lambda"));
    let path = dir.join(function).join("bootstrap");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo lambda build --release --bin {function}` \
         (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A function process waiting for its first event, killed when dropped.
struct Waiting(Child);

impl Drop for Waiting {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where `function`'s binary is mapped in a fresh process: the first line of its memory map.
/// The runtime API (`runtime_api`) accepts its request for the first event and never answers, so
/// the process is up and waits.
fn load_address(function: &str, runtime_api: &TcpListener) -> String {
    let addr = runtime_api.local_addr().expect("listener address");
    let child = Command::new(shipped(function))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_REGION", "eu-west-1")
        .env("TABLE_NAME", "unused")
        .env("GRAPH_TENANT_ID", "9f4ebab6-520d-49c0-85cc-7b25c78d4a93")
        .env("GRAPH_CLIENT_ID", "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0")
        .env(
            "GRAPH_ENCRYPTION_KEYS",
            r#"[{"id":"c1","private_key":"unused"}]"#,
        )
        .env("CONNECTOR_URL", "http://127.0.0.1:9/")
        .env("CONNECTOR_SIGNING_SECRET", "unused")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {function}: {e}"));
    let process = Waiting(child);
    let _held = runtime_api
        .accept()
        .unwrap_or_else(|e| panic!("{function} never asked for an event: {e}"));
    let maps = std::fs::File::open(format!("/proc/{}/maps", process.0.id())).expect("maps");
    let first = BufReader::new(maps)
        .lines()
        .next()
        .expect("a mapping")
        .expect("maps line");
    first.split('-').next().expect("an address").to_string()
}

#[test]
fn a_function_is_loaded_at_another_address_each_start() {
    let runtime_api = TcpListener::bind("127.0.0.1:0").expect("listener");
    // graph-webhook reads nothing before its first event: nothing else to stand in for.
    let first = load_address("graph-webhook", &runtime_api);
    let second = load_address("graph-webhook", &runtime_api);
    assert_ne!(
        first, second,
        "loaded twice at {first}: no address randomisation"
    );
}
