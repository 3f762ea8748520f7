//! The connector's side of the contract over real HTTP: signatures and replays, the revision
//! rule, what the store keeps across a restart, the user list with paging, and every refusal
//! with its status code. Writer: `log` (the command writer has its own tests).

use crate::support::*;
use std::time::Duration;

const LOG_WRITER: &str = "[writer]\nkind = \"log\"\n";

async fn put(
    base: &str,
    user: &str,
    body: &[u8],
    headers: reqwest::header::HeaderMap,
) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .put(format!("{base}/v1/users/{user}/teams-status"))
        .headers(headers)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn the_revision_rule_holds_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = FakeBridge::start().await;
    let cfg = config(
        dir.path(),
        &bridge.url(),
        "[sip]\nenabled = false",
        LOG_WRITER,
        USERS,
    );
    let c = swyx_connector::start(cfg.clone(), std::future::pending())
        .await
        .unwrap();
    let base = c.api_url();

    let body = status_body("1001", Some("Away"), 7);
    let (code, held) = put(&base, "1001", &body, signed(&body)).await;
    assert_eq!(code, 200, "{held}");
    assert_eq!(
        held,
        serde_json::json!({"swyxUserId": "1001", "status": "Away", "revision": 7})
    );
    // The same revision again (a retry under a new id): 200, nothing applied twice.
    let (code, _) = put(&base, "1001", &body, signed(&body)).await;
    assert_eq!(code, 200);
    // Lower: 409, nothing changes.
    let older = status_body("1001", Some("Available"), 6);
    let (code, err) = put(&base, "1001", &older, signed(&older)).await;
    assert_eq!(code, 409);
    assert!(err["error"].as_str().unwrap().contains("lower"), "{err}");
    // Withdraw with a higher revision.
    let withdraw = status_body("1001", None, 8);
    assert_eq!(
        put(&base, "1001", &withdraw, signed(&withdraw)).await.0,
        200
    );
    c.stop().await;

    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    let (code, held) = get(&c.api_url(), "/v1/users/1001/teams-status").await;
    assert_eq!(code, 200);
    assert_eq!(
        held,
        serde_json::json!({"swyxUserId": "1001", "status": null, "revision": 8})
    );
    let (code, _) = put(&c.api_url(), "1001", &older, signed(&older)).await;
    assert_eq!(code, 409, "the applied revision survived the restart");
    c.stop().await;
}

#[tokio::test]
async fn signatures_are_checked_and_a_replay_gets_the_first_answer() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = FakeBridge::start().await;
    let cfg = config(
        dir.path(),
        &bridge.url(),
        "[sip]\nenabled = false",
        LOG_WRITER,
        USERS,
    );
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    let base = c.api_url();
    let body = status_body("1002", Some("DoNotDisturb"), 3);

    let (code, err) = put(&base, "1002", &body, reqwest::header::HeaderMap::new()).await;
    assert_eq!(code, 401);
    assert!(
        err["error"].as_str().unwrap().contains("webhook-id"),
        "{err}"
    );
    let mut tampered = signed(&body);
    tampered.insert("webhook-signature", "v1,AAAA".parse().unwrap());
    assert_eq!(put(&base, "1002", &body, tampered).await.0, 401);
    let stale = {
        let secret: swyx_contract::signature::WebhookSecret = INBOUND.parse().unwrap();
        let old = time::OffsetDateTime::now_utc().unix_timestamp() - 301;
        swyx_contract::signature::signed_headers(&secret, &body, old).to_header_map()
    };
    let (code, err) = put(&base, "1002", &body, stale).await;
    assert_eq!(code, 401);
    assert!(err["error"].as_str().unwrap().contains("too old"), "{err}");
    assert_eq!(
        get(&base, "/v1/users/1002/teams-status").await.1["revision"],
        0,
        "refusals changed nothing"
    );

    let headers = signed(&body);
    assert_eq!(put(&base, "1002", &body, headers.clone()).await.0, 200);
    let newer = status_body("1002", Some("Away"), 4);
    assert_eq!(put(&base, "1002", &newer, signed(&newer)).await.0, 200);
    // The first message replayed: its first answer (200), and revision 4 stays.
    let (code, again) = put(&base, "1002", &body, headers).await;
    assert_eq!((code, again["revision"].as_u64()), (200, Some(3)));
    assert_eq!(
        get(&base, "/v1/users/1002/teams-status").await.1["status"],
        "Away"
    );
    c.stop().await;
}

#[tokio::test]
async fn bad_requests_are_named_and_unknown_users_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = FakeBridge::start().await;
    let cfg = config(
        dir.path(),
        &bridge.url(),
        "[sip]\nenabled = false",
        LOG_WRITER,
        USERS,
    );
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    let base = c.api_url();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("1001", b"not json".to_vec(), 400, "malformed"),
        (
            "1001",
            status_body("1002", Some("Away"), 1),
            400,
            "differs from the path",
        ),
        (
            "1001",
            status_body("1001", Some("Sleeping"), 1),
            400,
            "malformed",
        ),
        // A control character in the path (URL clients already refuse a ".." segment).
        (
            "a%01b",
            status_body("a\u{1}b", Some("Away"), 1),
            400,
            "control characters",
        ),
        (
            "9999",
            status_body("9999", Some("Away"), 1),
            404,
            "no Swyx user",
        ),
    ];
    for (user, body, want, words) in cases {
        let (code, err) = put(&base, user, &body, signed(&body)).await;
        assert_eq!(code, want, "{user}: {err}");
        assert!(
            err["error"].as_str().unwrap_or("").contains(words),
            "{user}: {err}"
        );
    }
    let mut bad_time =
        serde_json::from_slice::<serde_json::Value>(&status_body("1001", Some("Away"), 1)).unwrap();
    bad_time["observedAt"] = "yesterday".into();
    let body = serde_json::to_vec(&bad_time).unwrap();
    let (code, err) = put(&base, "1001", &body, signed(&body)).await;
    assert_eq!(code, 400);
    assert!(
        err["error"].as_str().unwrap().contains("observedAt"),
        "{err}"
    );
    assert_eq!(get(&base, "/v1/users/9999/teams-status").await.0, 404);
    assert_eq!(get(&base, "/v1/users?limit=0").await.0, 400);
    assert_eq!(
        get(&base, "/v1/users/1001/teams-status").await.1["revision"],
        0
    );
    c.stop().await;
}

#[tokio::test]
async fn the_user_list_pages_in_id_order_with_groups_and_held_status() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = FakeBridge::start().await;
    let cfg = config(
        dir.path(),
        &bridge.url(),
        "[sip]\nenabled = false",
        LOG_WRITER,
        USERS,
    );
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    let base = c.api_url();
    let body = status_body("1003", Some("Speaking"), 11);
    assert_eq!(put(&base, "1003", &body, signed(&body)).await.0, 200);

    let (code, first) = get(&base, "/v1/users?limit=2").await;
    assert_eq!(code, 200);
    let ids: Vec<&str> = first["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["swyxUserId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1001", "1002"]);
    assert_eq!(
        first["users"][0]["groups"],
        serde_json::json!(["Sales", "Berlin"])
    );
    assert_eq!(first["users"][1]["email"], serde_json::Value::Null);
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = get(&base, &format!("/v1/users?limit=2&cursor={cursor}")).await;
    assert_eq!(second["users"][0]["swyxUserId"], "1003");
    assert_eq!(
        second["users"][0]["teamsStatus"],
        serde_json::json!({"swyxUserId": "1003", "status": "Speaking", "revision": 11})
    );
    assert!(second.get("nextCursor").is_none(), "{second}");
    // The operator's view.
    let status: serde_json::Value =
        reqwest::get(format!("http://{}/status", c.admin_addr.unwrap()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        (
            status["directoryUsers"].as_u64(),
            status["registration"]["state"].as_str()
        ),
        (Some(3), Some("disabled"))
    );
    let metrics = reqwest::get(format!("http://{}/metrics", c.admin_addr.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("connector_status_requests_total"),
        "{metrics}"
    );
    tokio::time::timeout(Duration::from_secs(5), c.stop())
        .await
        .unwrap();
}

/// Contract 1.2: who is speaking now, in the user list and as a filter. The list must carry the
/// call id the bridge got in `speaking.started`, and the speaking period must be in it as soon as
/// the event is out (the bridge compares its calls with this list at every maintenance pass).
#[tokio::test]
async fn the_user_list_reports_who_is_speaking_and_filters_on_it() {
    use presence_sandbox::sip::{SipServer, SipServerOptions, UserPresence};
    const WAIT: Duration = Duration::from_secs(15);
    let server = SipServer::start(SipServerOptions::default()).await.unwrap();
    for user in ["1001", "1002", "1003"] {
        server.add_user(user, UserPresence::LoggedOn);
    }
    let sip = format!(
        "[sip]\nserver = \"{}\"\ntransport = \"udp\"\ndomain = \"{}\"\nusername = \"monitor\"\npassword = \"monitor-secret\"\nlocal_address = \"127.0.0.1:0\"\nretry_min_ms = 50\nretry_max_secs = 1\n",
        server.udp_addr(),
        server.domain()
    );
    let dir = tempfile::tempdir().unwrap();
    let bridge = FakeBridge::start().await;
    let cfg = config(dir.path(), &bridge.url(), &sip, LOG_WRITER, USERS);
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    let base = c.api_url();
    assert!(server.wait_for(WAIT, |s| s.watchers("1002") == 1).await);

    server.set_presence("1002", UserPresence::Active);
    let ev = bridge
        .wait_events(WAIT, |e| speaking_of(e, "1002").len() == 1)
        .await;
    let call_id = speaking_of(&ev, "1002")[0].1.clone();
    let (code, speaking) = get(&base, "/v1/users?speaking=true").await;
    assert_eq!(code, 200);
    assert_eq!(speaking["speakingOnly"], true, "{speaking}");
    let users = speaking["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "{speaking}");
    assert_eq!(users[0]["swyxUserId"], "1002");
    assert_eq!(users[0]["speaking"], serde_json::json!([call_id]));
    // The whole list: everyone has `speaking`, empty when not speaking; no `speakingOnly`.
    let (_, all) = get(&base, "/v1/users").await;
    assert!(all.get("speakingOnly").is_none(), "{all}");
    assert_eq!(all["users"][0]["speaking"], serde_json::json!([]));
    assert_eq!(all["users"][1]["speaking"], serde_json::json!([call_id]));
    assert_eq!(get(&base, "/v1/users?speaking=maybe").await.0, 400);

    server.set_presence("1002", UserPresence::LoggedOn);
    bridge
        .wait_events(WAIT, |e| speaking_of(e, "1002").len() == 2)
        .await;
    let (_, speaking) = get(&base, "/v1/users?speaking=true").await;
    assert_eq!(speaking["users"], serde_json::json!([]), "{speaking}");
    assert_eq!(speaking["speakingOnly"], true);
    tokio::time::timeout(Duration::from_secs(5), c.stop())
        .await
        .unwrap();
}
