//! The whole chain through the real connector: the sandbox's emulated Graph tenant, the sandbox's
//! SIP stand-in for SwyxServer, the bridge as an operator runs it (`presence-bridge serve` with a
//! TOML file, users linked and a sync account signed in through its command line) and the
//! `swyx-connector` in-process.
//!
//! (a) a SIP "active" NOTIFY for a linked user makes Teams show "In a call" (Busy/InACall) in the
//!     emulated Graph, and its end clears it;
//! (b) a Teams presence change reaches the connector's `command` writer with the right user,
//!     status and revision.

use crate::support::eventually;
use presence_sandbox::sip::{SipServer, SipServerOptions, UserPresence};
use presence_sandbox::{Sandbox, SandboxOptions};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use swyx_contract::signature::WebhookSecret;

const BRIDGE: &str = env!("CARGO_BIN_EXE_presence-bridge");
const ENTRA: &str = "c0ffee00-0000-4000-8000-000000002001";
const SWYX: &str = "2001";
const EMAIL: &str = "anna@contoso.example";

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
    }
}

fn bridge(args: &[&str], config: &Path) -> std::process::Output {
    Command::new(BRIDGE)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn writer_script(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("set-swyx-status.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s %s %s\\n' \"$1\" \"$2\" \"$3\" >> \"{}\"\n",
            dir.join("applied.log").display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_presence_reaches_teams_and_teams_reaches_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    // The device-code sign-in polls every 50 ms instead of Entra's 5 s.
    sandbox
        .graph
        .set_timing(presence_sandbox::graph::GraphTiming {
            device_poll_interval: Duration::from_millis(50),
            ..presence_sandbox::graph::GraphTiming::default()
        });
    sandbox.graph.add_user(ENTRA, EMAIL, "Anna");
    sandbox
        .graph
        .set_client_session(ENTRA, "teams-desktop", "Available", "Available")
        .unwrap();
    let swyx = SipServer::start(SipServerOptions::default()).await.unwrap();
    swyx.add_user(SWYX, UserPresence::LoggedOn);

    // Secrets of both directions and the bridge's address, known before either side starts.
    let to_connector = WebhookSecret::generate().expose_whsec();
    let to_bridge = WebhookSecret::generate().expose_whsec();
    let bridge_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();

    // The connector, as its administrator configures it.
    std::fs::write(
        dir.path().join("users.csv"),
        format!("swyx_user_id,name,email\n{SWYX},Anna,{EMAIL}\n"),
    )
    .unwrap();
    let script = writer_script(dir.path());
    let connector_toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"off\"\n[store]\npath = \"connector.db\"\n\
         [bridge]\nevents_url = \"http://{bridge_addr}/swyx/events\"\ninbound_secrets = [\"{to_connector}\"]\noutbound_secret = \"{to_bridge}\"\n\
         [directory]\nsource = \"csv\"\ncsv_path = \"users.csv\"\n\
         [sip]\nserver = \"{}\"\ntransport = \"udp\"\ndomain = \"{}\"\nusername = \"monitor\"\npassword = \"monitor-secret\"\nlocal_address = \"127.0.0.1:0\"\n\
         [writer]\nkind = \"command\"\n[writer.command]\nprogram = \"{}\"\n",
        swyx.udp_addr(),
        swyx.domain(),
        script.display()
    );
    std::fs::write(dir.path().join("connector.toml"), connector_toml).unwrap();
    let cfg = swyx_connector::Config::load(&dir.path().join("connector.toml")).unwrap();
    let connector = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();

    // The bridge, as its administrator configures it.
    let (key_pem, cert_b64) =
        presence_sandbox::graph::crypto::make_encryption_certificate().unwrap();
    std::fs::write(dir.path().join("notify.pem"), key_pem).unwrap();
    std::fs::write(dir.path().join("notify.cer.b64"), cert_b64).unwrap();
    let token_key = Command::new(BRIDGE)
        .args(["accounts", "new-key"])
        .output()
        .unwrap();
    std::fs::write(
        dir.path().join("token.key"),
        String::from_utf8(token_key.stdout).unwrap().trim(),
    )
    .unwrap();
    let bridge_toml = format!(
        "[graph]\ntenant_id = {:?}\nclient_id = {:?}\njwks_url = {:?}\nclient_secret = {:?}\nauthority_url = {:?}\nbase_url = {:?}\n\
         [[graph.encryption_keys]]\nid = \"chain-cert\"\nprivate_key = \"file:{}\"\n\
         [connector]\nurl = \"{}\"\nsigning_secret = \"{to_connector}\"\nevent_secrets = [\"{to_bridge}\"]\n\
         [store]\nsqlite_path = \"{}\"\n[server]\nlisten = \"{bridge_addr}\"\nmaintenance_interval_secs = 1\n\
         [subscriptions]\nnotification_url = \"http://{bridge_addr}/graph/notifications\"\nlifecycle_url = \"http://{bridge_addr}/graph/lifecycle\"\ncertificate = \"file:{}\"\ncertificate_id = \"chain-cert\"\n\
         [accounts]\ntoken_key = \"file:{}\"\n",
        sandbox.tenant_id,
        sandbox.app_id,
        sandbox.graph.jwks_url(),
        sandbox.client_secret,
        sandbox.graph.authority_url(),
        sandbox.graph.graph_url(),
        dir.path().join("notify.pem").display(),
        connector.api_url(),
        dir.path().join("bridge.db").display(),
        dir.path().join("notify.cer.b64").display(),
        dir.path().join("token.key").display(),
    );
    let bridge_cfg = dir.path().join("bridge.toml");
    std::fs::write(&bridge_cfg, bridge_toml).unwrap();
    let links = dir.path().join("links.csv");
    std::fs::write(
        &links,
        format!("entra_id,swyx_user_id,email\n{ENTRA},{SWYX},{EMAIL}\n"),
    )
    .unwrap();
    let out = bridge(&["users", "import", links.to_str().unwrap()], &bridge_cfg);
    assert!(
        out.status.success(),
        "users import: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A sync account signs in with the device code, approved in the sandbox.
    let upn = "sync1@contoso.example";
    sandbox.graph.add_sync_account(upn);
    let mut add = Command::new(BRIDGE)
        .args(["accounts", "add", "sync1", "--config"])
        .arg(&bridge_cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = add.stdout.take().unwrap();
    // Read the prompt, and keep reading: the command writes more after the sign-in.
    let (code_tx, code_rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut code_tx = Some(code_tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(code) = line.trim().strip_prefix("enter the code ")
                && let Some(tx) = code_tx.take()
            {
                let _ = tx.send(code.to_string());
            }
        }
    });
    let code = code_rx.await.expect("the device-code prompt");
    sandbox.graph.approve_device_code(&code, upn).unwrap();
    let added = tokio::task::spawn_blocking(move || add.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    reader.join().unwrap();
    assert!(
        added.status.success(),
        "accounts add: {}",
        String::from_utf8_lossy(&added.stderr)
    );

    let serve = Serve(
        Command::new(BRIDGE)
            .args(["serve", "--config"])
            .arg(&bridge_cfg)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let health = format!("http://{bridge_addr}/healthz");
    let started = Instant::now();
    while !http
        .get(&health)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the bridge did not come up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eventually(
        Duration::from_secs(30),
        "the bridge's presence subscription",
        || !sandbox.graph.subscriptions().is_empty(),
    )
    .await;
    assert!(
        swyx.wait_for(Duration::from_secs(15), |s| s.watchers(SWYX) == 1)
            .await,
        "the connector subscribed"
    );

    // (a) Swyx → Teams: "active" in SIP presence shows "In a call" in Teams, and its end clears it.
    let in_call = || {
        sandbox
            .graph
            .presence(ENTRA)
            .is_some_and(|p| p.availability == "Busy" && p.activity == "InACall")
    };
    swyx.set_presence(SWYX, UserPresence::Active);
    let latency = eventually(Duration::from_secs(15), "Teams showing In a call", in_call).await;
    eprintln!("SIP NOTIFY active → Teams Busy/InACall in the emulated Graph: {latency:?}");
    swyx.set_presence(SWYX, UserPresence::LoggedOn);
    eventually(
        Duration::from_secs(15),
        "the bridge clearing In a call",
        || sandbox.graph.app_sessions(ENTRA).is_empty() && !in_call(),
    )
    .await;

    // (b) Teams → Swyx: Do not disturb in Teams reaches the command writer.
    sandbox
        .graph
        .set_client_session(ENTRA, "teams-desktop", "DoNotDisturb", "DoNotDisturb")
        .unwrap();
    let log = dir.path().join("applied.log");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    eventually(
        Duration::from_secs(20),
        "the writer applying DoNotDisturb",
        || {
            read()
                .lines()
                .any(|l| l.starts_with(&format!("{SWYX} DoNotDisturb ")))
        },
    )
    .await;
    let line = read()
        .lines()
        .rev()
        .find(|l| l.contains("DoNotDisturb"))
        .unwrap()
        .to_string();
    let revision: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(revision > 0, "{line}");
    // What the connector holds is what the writer applied, under the same revision (recorded
    // once the writer program has exited, a moment after its log line).
    let secret: WebhookSecret = to_connector.parse().unwrap();
    let held_url = format!("{}/v1/users/{SWYX}/teams-status", connector.api_url());
    let started = Instant::now();
    loop {
        let headers =
            swyx_contract::signature::signed_headers(&secret, b"", time_now()).to_header_map();
        let held: serde_json::Value = http
            .get(&held_url)
            .headers(headers)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if (held["status"].as_str(), held["revision"].as_u64())
            == (Some("DoNotDisturb"), Some(revision))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the connector holds {held}, the writer applied:\n{}",
            read()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("applied by the command writer:\n{}", read());
    drop(serve);
    connector.stop().await;
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
