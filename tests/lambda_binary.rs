//! The Lambda functions' files as `cargo lambda build --release` makes them for x86_64
//! (`$LAMBDA_BUILD_DIR`, else `target/lambda`; `scripts/test.sh` builds them first): each is
//! position-independent, so the kernel loads it at a random address, and the code that parses what
//! the internet sends (aws-lc's C included) is at no known place. A build that is not (a static
//! relocation model, or a linker that drops `-pie`, as Zig does for a static musl binary) starts
//! faster and fails here.

use crate::support::graph_sender::{APP_ID, CERT_ID, TENANT};
use crate::support::lambda_emulator::{shipped_bootstrap, spawn};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// Where `function`'s binary is mapped in a fresh process: the first line of its memory map.
/// The runtime API (`runtime_api`) accepts its request for the first event and never answers, so
/// the process is up and waits (it is killed when this returns).
fn load_address(function: &str, runtime_api: &TcpListener, log_dir: &Path, run: usize) -> String {
    let addr = runtime_api.local_addr().expect("listener address");
    let mut cmd = Command::new(shipped_bootstrap(function));
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_REGION", "eu-west-1")
        .env("TABLE_NAME", "unused")
        .env("GRAPH_TENANT_ID", TENANT)
        .env("GRAPH_CLIENT_ID", APP_ID)
        .env(
            "GRAPH_ENCRYPTION_KEYS",
            format!(r#"[{{"id":"{CERT_ID}","private_key":"unused"}}]"#),
        )
        .env("CONNECTOR_URL", "http://127.0.0.1:9/")
        .env("CONNECTOR_SIGNING_SECRET", "unused");
    let process = spawn(cmd, log_dir.join(format!("{function}-{run}.log")));
    let _held = runtime_api.accept().unwrap_or_else(|e| {
        panic!(
            "{function} never asked for an event: {e}\n{}",
            process.log_tail()
        )
    });
    let maps = std::fs::File::open(format!("/proc/{}/maps", process.id())).expect("maps");
    let first = BufReader::new(maps)
        .lines()
        .next()
        .expect("a mapping")
        .expect("maps line");
    first.split('-').next().expect("an address").to_string()
}

#[test]
fn a_function_is_loaded_at_another_address_each_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime_api = TcpListener::bind("127.0.0.1:0").expect("listener");
    // graph-webhook reads nothing before its first event: nothing else to stand in for.
    let first = load_address("graph-webhook", &runtime_api, dir.path(), 1);
    let second = load_address("graph-webhook", &runtime_api, dir.path(), 2);
    assert_ne!(
        first, second,
        "loaded twice at {first}: no address randomisation"
    );
}
