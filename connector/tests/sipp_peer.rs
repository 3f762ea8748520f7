//! A third-party SIP implementation checks ours: SIPp (Debian's `sip-tester`) plays SwyxServer
//! with the scenario in `tests/sipp/swyx-uas.xml` — REGISTER challenged with 401 and verified by
//! SIPp's own digest code, SUBSCRIBE answered 200, then NOTIFYs with PIDF "active" and
//! "logged on" — and the connector must turn them into one speaking period at the bridge.

use crate::support::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const SIPP: &str = "/usr/bin/sipp";

#[tokio::test]
async fn sipp_as_swyxserver_registrar_and_presence_server() {
    assert!(
        std::path::Path::new(SIPP).exists(),
        "{SIPP} is missing: run scripts/install-system-deps.sh (Debian package sip-tester)"
    );
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/swyx-uas.xml");
    let dir = tempfile::tempdir().unwrap();
    let sipp = Command::new(SIPP)
        .args([
            "-sf",
            scenario,
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "u1",
            "-m",
            "2",
        ])
        .args([
            "-nostdin",
            "-timeout",
            "30s",
            "-timeout_error",
            "-trace_err",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let bridge = FakeBridge::start().await;
    let sip = format!(
        "[sip]\nserver = \"127.0.0.1:{port}\"\ntransport = \"udp\"\ndomain = \"swyx.test\"\nusername = \"monitor\"\npassword = \"monitor-secret\"\nlocal_address = \"127.0.0.1:0\"\n"
    );
    let cfg = config(
        dir.path(),
        &bridge.url(),
        &sip,
        "[writer]\nkind = \"log\"\n",
        "swyx_user_id,name\n1001,Alice\n",
    );
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    let ev = bridge
        .wait_events(Duration::from_secs(20), |e| {
            speaking_of(e, "1001").len() == 2
        })
        .await;
    let p = speaking_of(&ev, "1001");
    assert_eq!(
        (p[0].0.as_str(), p[1].0.as_str()),
        ("speaking.started", "speaking.ended")
    );
    assert_eq!(p[0].1, p[1].1);
    assert_eq!(c.status.snapshot().registration.state, "registered");

    // SIPp ends after its two calls (registration, subscription); success = every step matched.
    let status = tokio::task::spawn_blocking(move || sipp.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let errors: String = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with("_errors.log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        status.status.success(),
        "SIPp reported a failed scenario ({}):\n{}\n{errors}",
        status.status,
        String::from_utf8_lossy(&status.stderr)
    );
    c.stop().await;
}
