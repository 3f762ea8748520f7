//! The `presence-sandbox` binary: `run` prints one JSON line and stops cleanly on SIGTERM;
//! `scenario` plays steps against it and names a bad step.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_presence-sandbox");

/// Kills the sandbox if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scenario(control: &str, steps: &[&str]) -> Output {
    Command::new(BIN)
        .args(["scenario", "--control", control])
        .args(steps)
        .env_remove("SANDBOX_CONTROL_URL")
        .output()
        .unwrap()
}

#[test]
fn run_prints_urls_and_secrets_and_scenario_drives_it() {
    let child = Command::new(BIN)
        .args(["run", "--swyx-user", "101:alice@contoso.com:Alice Example"])
        .env_remove("SANDBOX_SWYX_INBOUND_SECRET")
        .env_remove("SANDBOX_SWYX_OUTBOUND_SECRET")
        .env_remove("SANDBOX_BRIDGE_EVENTS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut sandbox = Running(child);
    let mut line = String::new();
    BufReader::new(sandbox.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    let control = ready["controlUrl"].as_str().unwrap();
    assert!(control.starts_with("http://127.0.0.1:"));
    assert!(
        ready["swyx"]["connectorUrl"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    for k in ["inboundSecret", "outboundSecret"] {
        assert!(
            ready["swyx"][k].as_str().unwrap().starts_with("whsec_"),
            "{k}"
        );
    }
    assert_ne!(
        ready["swyx"]["inboundSecret"],
        ready["swyx"]["outboundSecret"]
    );

    let out = scenario(
        control,
        &["swyx 101 call start", "swyx 101 status away", "show"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = stdout
        .lines()
        .find(|l| l.starts_with("101"))
        .unwrap_or_default();
    assert!(
        row.contains("Alice Example") && row.contains("Away") && row.contains("Speaking"),
        "{stdout}"
    );

    let bad = scenario(control, &["show", "swyx 101 call later"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("step 2 \"swyx 101 call later\""),
        "{stderr}"
    );
    assert!(bad.stdout.is_empty(), "no step ran when one is bad");

    let pid = sandbox.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        sandbox.0.wait().unwrap().success(),
        "SIGTERM is a clean stop"
    );
}

#[test]
fn run_refuses_a_bad_secret_without_echoing_it() {
    let out = Command::new(BIN)
        .args(["run", "--inbound-secret", "whsec_c2VjcmV0"])
        .env_remove("SANDBOX_SWYX_OUTBOUND_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("inbound_secret") && stderr.contains("at least 16 bytes"),
        "{stderr}"
    );
    assert!(!stderr.contains("c2VjcmV0"));
    assert!(out.stdout.is_empty());
}
