//! The pluggable writers through the contract: the `command` writer's exit-code contract,
//! arguments and environment (no shell: a user id full of shell syntax stays text), timeout and
//! retries; the `http` writer's signed POST and how its answers become the contract's.
#![cfg(unix)]

use crate::support::*;
use axum::http::{HeaderMap, StatusCode};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const SHELLY: &str = "x$(touch pwned);echo";

fn script(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("set-status.sh");
    std::fs::write(
        &path,
        format!(
            r#"#!/bin/sh
# Test writer: records what it got, answers by user.
printf '%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$SWYX_STATUS" "$TEAMS_ACTIVITY" >> "{log}"
case "$1" in
  1001) exit 0 ;;
  1002) exit 3 ;;
  1003) exit 4 ;;
  busy) exit 75 ;;
  slow) sleep 5 ;;
  broken) echo "cannot reach SwyxServer" >&2; exit 1 ;;
  *) exit 0 ;;
esac
"#,
            log = dir.join("calls.log").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

async fn put(
    base: &str,
    user: &str,
    status: Option<&str>,
    revision: u64,
) -> (u16, Option<String>, serde_json::Value) {
    let body = status_body(user, status, revision);
    let url = reqwest::Url::parse(base)
        .unwrap()
        .join("/v1/users/")
        .unwrap();
    let mut url = url;
    url.path_segments_mut()
        .unwrap()
        .pop_if_empty()
        .extend([user, "teams-status"]);
    let r = reqwest::Client::new()
        .put(url)
        .headers(signed(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (code, retry_after, r.json().await.unwrap_or_default())
}

/// A connector with `writer` and `users`, SIP off, sending events to a stand-in bridge.
async fn connector(
    dir: &std::path::Path,
    writer: &str,
    users: &str,
) -> (swyx_connector::Handle, FakeBridge) {
    let bridge = FakeBridge::start().await;
    let cfg = config(dir, &bridge.url(), "[sip]\nenabled = false", writer, users);
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    (c, bridge)
}

#[tokio::test]
async fn the_command_writer_follows_its_exit_code_contract() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(dir.path());
    let users = format!("{USERS}busy,B,,\nslow,S,,\nbroken,X,,\n\"{SHELLY}\",Y,,\n");
    let writer = format!(
        "[writer]\nkind = \"command\"\n[writer.command]\nprogram = \"{}\"\ntimeout_secs = 1\nretries = 1\nretry_backoff_ms = 10\n",
        prog.display()
    );
    let (c, _bridge) = connector(dir.path(), &writer, &users).await;
    let base = c.api_url();

    assert_eq!(put(&base, "1001", Some("Speaking"), 5).await.0, 200);
    assert_eq!(put(&base, "1001", None, 6).await.0, 200);
    assert_eq!(put(&base, "1002", Some("Away"), 1).await.0, 404);
    assert_eq!(put(&base, "1003", Some("Away"), 1).await.0, 409);
    let (code, retry_after, err) = put(&base, "busy", Some("Away"), 1).await;
    assert_eq!((code, retry_after.is_some()), (503, true), "{err}");
    let (code, _, err) = put(&base, "broken", Some("Away"), 1).await;
    assert_eq!(code, 503);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach SwyxServer"),
        "the program's last stderr line is quoted: {err}"
    );
    let (code, _, err) = put(&base, "slow", Some("Away"), 1).await;
    assert_eq!(code, 503);
    assert!(
        err["error"].as_str().unwrap().contains("did not finish"),
        "{err}"
    );
    assert_eq!(put(&base, SHELLY, Some("DoNotDisturb"), 2).await.0, 200);

    let log = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], "1001|Speaking|5|Speaking|InACall");
    assert_eq!(lines[1], "1001|none|6|none|InACall");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("broken|")).count(),
        2,
        "one retry after a failure"
    );
    assert!(lines.contains(&format!("{SHELLY}|DoNotDisturb|2|DoNotDisturb|InACall").as_str()));
    assert!(
        !dir.path().join("pwned").exists() && !std::path::Path::new("pwned").exists(),
        "no shell ran the user id"
    );
    // Nothing was recorded for refused changes; the failures are in the status.
    let (_, held) = get(&base, "/v1/users/1002/teams-status").await;
    assert_eq!(held["revision"], 0);
    let status = c.status.snapshot();
    assert!(
        status
            .writer_errors
            .iter()
            .any(|e| e.message.contains("broken")),
        "{:?}",
        status.writer_errors
    );
    c.stop().await;
}

#[tokio::test]
async fn the_http_writer_signs_and_maps_answers() {
    let secret = "whsec_aW50ZWdyYXRvcidzIG93biBzZWNyZXQ=";
    let verifier = swyx_contract::signature::Verifier::new(
        vec![secret.parse().unwrap()],
        Duration::from_secs(300),
    );
    let seen: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
    let seen2 = seen.clone();
    let app = axum::Router::new().route(
        "/apply",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (verifier, seen) = (verifier.clone(), seen2.clone());
            async move {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                if verifier.verify(&headers, &body, now).is_err() {
                    return StatusCode::UNAUTHORIZED;
                }
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                seen.lock().unwrap().push(v.clone());
                match v["swyxUserId"].as_str() {
                    Some("1001") => StatusCode::OK,
                    Some("1002") => StatusCode::NOT_FOUND,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let writer = format!(
        "[writer]\nkind = \"http\"\n[writer.http]\nurl = \"http://{addr}/apply\"\nsecret = \"{secret}\"\nretries = 1\n"
    );
    let (c, _bridge) = connector(dir.path(), &writer, USERS).await;
    let base = c.api_url();
    assert_eq!(put(&base, "1001", Some("Away"), 3).await.0, 200);
    assert_eq!(put(&base, "1002", Some("Away"), 3).await.0, 404);
    assert_eq!(put(&base, "1003", Some("Away"), 3).await.0, 503);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0]["status"], "Away");
    assert_eq!(seen[0]["email"], "alice@example.com");
    assert_eq!(
        seen.iter().filter(|v| v["swyxUserId"] == "1003").count(),
        2,
        "retried once"
    );
    c.stop().await;
}

#[tokio::test]
async fn a_revision_beyond_int64_is_refused_before_the_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(dir.path());
    let writer = format!(
        "[writer]\nkind = \"command\"\n[writer.command]\nprogram = \"{}\"\n",
        prog.display()
    );
    let (c, _bridge) = connector(dir.path(), &writer, USERS).await;
    let base = c.api_url();
    assert_eq!(put(&base, "1001", Some("Away"), 5).await.0, 200);

    // 2^63 used to be stored as a negative number: the writer ran, nothing was recorded, and
    // the answer was 200.
    let (code, _, err) = put(&base, "1001", Some("Speaking"), 1 << 63).await;
    assert_eq!(code, 400, "{err}");
    let message = err["error"].as_str().unwrap();
    assert!(
        message.contains("revision 9223372036854775808"),
        "{message}"
    );
    let log = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "the writer did not run: {log}");
    let (_, held) = get(&base, "/v1/users/1001/teams-status").await;
    assert_eq!(
        (held["status"].as_str(), held["revision"].as_u64()),
        (Some("Away"), Some(5))
    );
    c.stop().await;
}
