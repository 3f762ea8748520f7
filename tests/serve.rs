//! `presence-bridge serve` as an operator starts and stops it.

use crate::support::scrape;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "tests/fixtures/crypto/key2048.pkcs8.pem";

fn config(dir: &std::path::Path, key: &str, listen: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let db = dir.join("bridge.db");
    std::fs::write(
        &path,
        format!(
            "[graph]\ntenant_id = \"9f4ebab6-520d-49c0-85cc-7b25c78d4a93\"\nclient_id = \"925bff9f-f6e2-4a69-b858-f71ea2b9b6d0\"\n\
             [[graph.encryption_keys]]\nid = \"c1\"\nprivate_key = \"file:{key}\"\n\
             [connector]\nurl = \"http://127.0.0.1:9/\"\nsigning_secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
             [store]\nsqlite_path = {:?}\n[server]\nlisten = \"{listen}\"\n",
            db.to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

fn run_to_end(config: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_presence-bridge"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_port_in_use_stops_it_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), KEY, &taken.local_addr().unwrap().to_string());
    let (code, err) = run_to_end(&cfg);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("cannot listen on") && err.contains(&taken.local_addr().unwrap().to_string()),
        "{err}"
    );
}

#[test]
fn an_unreadable_key_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "/nonexistent/notify.pem", "127.0.0.1:0");
    let (code, err) = run_to_end(&cfg);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("graph.encryption_keys") && err.contains("/nonexistent/notify.pem"),
        "{err}"
    );
}

#[test]
fn a_bad_config_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), KEY, "not-an-address");
    let (code, err) = run_to_end(&cfg);
    assert_eq!(code, Some(1));
    assert!(err.contains("server.listen"), "{err}");
}

#[test]
fn it_answers_health_and_handshakes_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = config(dir.path(), KEY, &port.to_string());
    let mut child = Command::new(env!("CARGO_BIN_EXE_presence-bridge"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let health = rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("http://{port}/healthz")).send().await {
                break r.json::<serde_json::Value>().await.unwrap();
            }
            assert!(Instant::now() < deadline, "serve did not come up");
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(health["status"], "ok");
    assert_eq!(health["pendingDeliveries"], 0);
    let echo = rt.block_on(async {
        reqwest::Client::new()
            .post(format!(
                "http://{port}/graph/lifecycle?validationToken=a%20b%3Ac"
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert_eq!(echo, "a b:c");
    let too_big = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://{port}/graph/notifications"))
            .body(vec![b'x'; 2 * 1024 * 1024])
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(too_big, 413);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
}

fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// With `server.admin_listen`, `/metrics` and `/healthz` leave the listener Graph and the
/// connector reach; the webhooks stay there.
#[test]
fn the_admin_listener_alone_serves_metrics_and_health() {
    let dir = tempfile::tempdir().unwrap();
    let (public, admin) = (free_port(), free_port());
    let cfg = config(dir.path(), KEY, &public.to_string());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("admin_listen = \"{admin}\"\n"));
    std::fs::write(&cfg, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_presence-bridge"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let health = loop {
            if let Ok(r) = http.get(format!("http://{admin}/healthz")).send().await {
                break r.json::<serde_json::Value>().await.unwrap();
            }
            assert!(Instant::now() < deadline, "serve did not come up");
            tokio::task::yield_now().await;
        };
        assert_eq!(health["status"], "ok");
        let m = scrape::scrape(&format!("http://{admin}/metrics")).await;
        assert_eq!(
            m.value("presence_bridge_pending_deliveries", None),
            Some(0.0)
        );
        for path in ["/metrics", "/healthz"] {
            let r = http
                .get(format!("http://{public}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "{path} on the public listener");
        }
        let echo = http
            .post(format!(
                "http://{public}/graph/notifications?validationToken=t"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(echo.text().await.unwrap(), "t");
        let r = http
            .post(format!(
                "http://{admin}/graph/notifications?validationToken=t"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "no webhook on the admin listener");
    });
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}
