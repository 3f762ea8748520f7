//! Swyx → Teams end to end over loopback: the emulated SwyxServer's calls send signed events to
//! the bridge's router, which writes the bridge's presence session into the emulated Graph.

#[path = "swyx_to_teams/contract_events.rs"]
mod contract_events;
#[path = "swyx_to_teams/directions.rs"]
mod directions;
#[path = "swyx_to_teams/early_read.rs"]
mod early_read;
#[path = "swyx_to_teams/graph_outages.rs"]
mod graph_outages;
#[path = "swyx_to_teams/harness.rs"]
mod harness;
#[path = "swyx_to_teams/metrics.rs"]
mod metrics;
#[path = "swyx_to_teams/own_status.rs"]
mod own_status;

use harness::*;
use presence_bridge::domain::Timestamp;
use presence_bridge::store::prelude::*;
use presence_bridge::swyx::signature::{WebhookSecret, signed_headers, signed_headers_with_id};
use presence_sandbox::swyx::TeamsStatus;
use serde_json::json;
use std::time::Duration;

const ALICE: &str = "aaaaaaaa-0000-0000-0000-00000000a11c";
const BOB: &str = "bbbbbbbb-0000-0000-0000-000000000b0b";

fn event(kind: &str, user: &str, call: &str, at_ms: i64) -> String {
    json!({ "type": kind, "swyxUserId": user, "callId": call, "at": Timestamp(at_ms).to_rfc3339() })
        .to_string()
}

impl Harness {
    /// Signs like the connector (at the sandbox clock) and posts.
    async fn send(&self, body: &str) -> (u16, serde_json::Value) {
        let now = Timestamp(self.clock.now_ms());
        let h = signed_headers(&self.event_secret, body.as_bytes(), now.secs());
        self.post_event(h.to_header_map(), body).await
    }
}

#[tokio::test]
async fn a_call_shows_in_a_call_in_teams_and_its_end_clears_it() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    let call = h.swyx.start_call("1001").await.unwrap();
    assert!(h.in_a_call(ALICE), "{:?}", h.graph.app_sessions(ALICE));
    assert_eq!(h.shown(ALICE), ("Busy".into(), "InACall".into()));
    let sent = h.swyx.events_log();
    assert_eq!((sent[0].status, sent[0].attempts), (Some(200), 1));
    // Default expirationDuration PT5M on the sandbox clock.
    let expires = h.graph.app_sessions(ALICE)[0].expires_ms - h.clock.now_ms();
    assert!((4 * 60_000..=5 * 60_000).contains(&expires), "{expires}");

    h.swyx.end_call("1001", &call).await.unwrap();
    assert!(h.graph.app_sessions(ALICE).is_empty());
    assert_eq!(h.graph.stats().clear_presence_calls, 1);
    let st = h.store.get_speaking(ALICE).await.unwrap().unwrap();
    assert_eq!(
        (st.calls.len(), &st.retry),
        (0, &None),
        "no Graph call left pending"
    );
    // Only the read-back of Teams once the echo window has closed.
    assert_eq!(st.due_at, st.verify_at);
    assert!(st.verify_at.is_some());
}

#[tokio::test]
async fn overlapping_calls_stay_in_a_call_until_the_last_ends() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    let first = h.swyx.start_call("1001").await.unwrap();
    let second = h.swyx.start_call("1001").await.unwrap();
    h.swyx.end_call("1001", &first).await.unwrap();
    assert!(h.in_a_call(ALICE), "the second call still runs");
    h.swyx.end_call("1001", &second).await.unwrap();
    assert!(h.graph.app_sessions(ALICE).is_empty());
    assert_eq!(h.graph.stats().set_presence_calls, 1);
}

#[tokio::test]
async fn duplicates_and_out_of_order_events_leave_the_right_state() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    h.link(BOB, "1002").await;
    let now = h.clock.now_ms();
    // Bob's end overtakes its start: the late start must not leave him in a call.
    assert_eq!(
        h.send(&event("speaking.ended", "1002", "c-9", now)).await.0,
        200
    );
    let (status, body) = h
        .send(&event("speaking.started", "1002", "c-9", now - 500))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("unchanged")));
    assert!(h.graph.app_sessions(BOB).is_empty());

    // Alice's start twice (a connector resend with a new id), then the end twice.
    for _ in 0..2 {
        assert_eq!(
            h.send(&event("speaking.started", "1001", "c-1", now))
                .await
                .0,
            200
        );
    }
    assert!(h.in_a_call(ALICE));
    for _ in 0..2 {
        assert_eq!(
            h.send(&event("speaking.ended", "1001", "c-1", now + 10))
                .await
                .0,
            200
        );
    }
    assert!(h.graph.app_sessions(ALICE).is_empty());
    // A start after its end (a retry that arrives late) does not bring the call back.
    h.send(&event("speaking.started", "1001", "c-1", now)).await;
    assert!(h.graph.app_sessions(ALICE).is_empty());
    let stats = h.graph.stats();
    assert_eq!(
        (stats.set_presence_calls, stats.clear_presence_calls),
        (1, 1)
    );
}

#[tokio::test]
async fn a_hand_set_dnd_stays_while_available_or_busy_show_in_a_call() {
    let h = Harness::start().await;
    for (user, swyx, by_hand) in [
        (ALICE, "1001", "DoNotDisturb"),
        (BOB, "1002", "Available"),
        ("cccccccc-0000-0000-0000-00000000ca11", "1003", "Busy"),
    ] {
        h.link(user, swyx).await;
        h.graph
            .set_client_session(user, "teams-desktop", "Available", "Available")
            .unwrap();
        h.graph
            .set_preferred_presence(user, by_hand, by_hand, None)
            .unwrap();
        let call = h.swyx.start_call(swyx).await.unwrap();
        assert!(
            h.in_a_call(user),
            "the bridge's session is set for {by_hand}"
        );
        let expected = if by_hand == "DoNotDisturb" {
            ("DoNotDisturb".to_string(), "DoNotDisturb".to_string())
        } else {
            ("Busy".to_string(), "InACall".to_string())
        };
        assert_eq!(h.shown(user), expected, "set by hand: {by_hand}");
        h.swyx.end_call(swyx, &call).await.unwrap();
        assert_eq!(h.shown(user), (by_hand.to_string(), by_hand.to_string()));
    }
}

#[tokio::test]
async fn the_bridges_own_in_a_call_does_not_echo_back_to_swyx() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    h.graph
        .set_client_session(ALICE, "teams-desktop", "Away", "Away")
        .unwrap();
    h.subscribe(&[ALICE]).await;
    let teams_slot = |h: &Harness| {
        h.swyx
            .user("1001")
            .and_then(|u| u.teams)
            .and_then(|t| t.status)
    };
    let before = h.graph.stats().notifications_delivered;
    // A Teams change reaches Swyx as usual.
    h.graph
        .set_client_session(ALICE, "teams-desktop", "Available", "Available")
        .unwrap();
    h.delivered(before + 1).await;
    assert_eq!(teams_slot(&h), Some(TeamsStatus::Available));

    let call = h.swyx.start_call("1001").await.unwrap();
    assert_eq!(h.shown(ALICE), ("Busy".into(), "InACall".into()));
    h.delivered(before + 2).await;
    assert_eq!(
        teams_slot(&h),
        Some(TeamsStatus::Available),
        "our own InACall is not sent back as Speaking"
    );
    h.swyx.end_call("1001", &call).await.unwrap();
    h.delivered(before + 3).await;
    assert_eq!(teams_slot(&h), Some(TeamsStatus::Available));

    // Session cleared and its echo window over (Graph's notification of the set can come late):
    // the user's own Teams call is forwarded as Speaking again.
    h.clock.advance(Duration::from_millis(
        presence_bridge::domain::ECHO_WINDOW_MS as u64,
    ));
    h.graph
        .set_client_session(ALICE, "teams-desktop", "Busy", "InACall")
        .unwrap();
    h.delivered(before + 4).await;
    assert_eq!(teams_slot(&h), Some(TeamsStatus::Speaking));
}

#[tokio::test]
async fn maintenance_keeps_the_session_alive_and_drops_calls_never_ended() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    h.swyx.start_call("1001").await.unwrap();
    let first_expiry = h.graph.app_sessions(ALICE)[0].expires_ms;
    // Maximum call length is 10 minutes here: renew at 3 and 6 minutes, drop at 11.
    h.clock.advance(3 * MIN);
    assert_eq!(h.maintenance().await.speaking.synced, 1);
    let renewed = h.graph.app_sessions(ALICE)[0].expires_ms;
    assert!(
        renewed >= first_expiry + 3 * 60_000 - 1_000,
        "{renewed} vs {first_expiry}"
    );
    h.clock.advance(3 * MIN);
    h.maintenance().await;
    assert!(h.in_a_call(ALICE), "kept alive past the first expiry");
    assert_eq!(h.graph.stats().set_presence_calls, 3);

    // At 10.5 minutes the call is over the maximum while the session would still live.
    h.clock.advance(MIN * 9 / 2);
    let summary = h.maintenance().await;
    assert_eq!(summary.speaking.overlong_calls, 1, "{summary:?}");
    assert!(
        h.graph.app_sessions(ALICE).is_empty(),
        "In a call never sticks"
    );
}

#[tokio::test]
async fn bad_stale_and_replayed_signatures() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    let now = Timestamp(h.clock.now_ms());
    let body = event("speaking.started", "1001", "c-1", now.millis());

    let wrong = signed_headers(&WebhookSecret::generate(), body.as_bytes(), now.secs());
    let (status, err) = h.post_event(wrong.to_header_map(), &body).await;
    assert_eq!(status, 401);
    assert!(
        err["error"].as_str().unwrap().contains("signature"),
        "{err}"
    );
    assert_eq!(h.post_event(http::HeaderMap::new(), &body).await.0, 401);
    let stale = signed_headers(
        &h.event_secret,
        body.as_bytes(),
        now.plus_millis(-301_000).secs(),
    );
    assert_eq!(h.post_event(stale.to_header_map(), &body).await.0, 401);
    assert!(h.graph.app_sessions(ALICE).is_empty(), "nothing acted on");

    let good = signed_headers_with_id(&h.event_secret, "msg_once", body.as_bytes(), now.secs());
    assert_eq!(h.post_event(good.to_header_map(), &body).await.0, 200);
    let end = event("speaking.ended", "1001", "c-1", now.millis() + 5);
    assert_eq!(h.send(&end).await.0, 200);
    // The captured start replayed (even freshly re-signed under its id): not acted on.
    let replay = signed_headers_with_id(
        &h.event_secret,
        "msg_once",
        body.as_bytes(),
        now.plus_millis(1_000).secs(),
    );
    let (status, answer) = h.post_event(replay.to_header_map(), &body).await;
    assert_eq!(
        (status, answer["detail"].as_str()),
        (200, Some("webhook-id already seen"))
    );
    assert!(h.graph.app_sessions(ALICE).is_empty());
}

#[tokio::test]
async fn malformed_unknown_user_and_unknown_type() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    let (status, err) = h.send("{not json").await;
    assert_eq!(status, 400);
    assert!(
        err["error"].as_str().unwrap().contains("malformed JSON"),
        "{err}"
    );
    let (status, err) = h
        .send(r#"{"type":"speaking.started","swyxUserId":"1001","at":"2026-11-26T10:00:00Z"}"#)
        .await;
    assert_eq!(status, 400);
    assert!(err["error"].as_str().unwrap().contains("callId"), "{err}");
    let (status, err) = h
        .send(&event("speaking.started", "1001", "c", 0).replace("1970", "x1970"))
        .await;
    assert_eq!(status, 400, "{err}");

    let now = h.clock.now_ms();
    let (status, body) = h.send(&event("speaking.started", "9999", "c-1", now)).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ignored")));
    let (status, body) = h.send(&event("call.transferred", "1001", "c-1", now)).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (200, Some("unknown event type"))
    );
    assert!(h.graph.app_sessions(ALICE).is_empty());
    assert_eq!(h.graph.stats().set_presence_calls, 0);
}

#[tokio::test]
async fn the_graph_client_fetches_one_token_for_many_concurrent_calls() {
    use presence_bridge::graph::client::{GraphClient, GraphError, GraphSettings};
    use presence_bridge::graph::token::ClientSecret;
    let h = Harness::start().await;
    let users: Vec<String> = (0..20)
        .map(|i| format!("dddddddd-0000-0000-0000-{i:012}"))
        .collect();
    for (i, u) in users.iter().enumerate() {
        h.link(u, &format!("2{i:03}")).await;
    }
    let client = GraphClient::new(
        GraphSettings::new(
            &h.graph.graph_url(),
            &h.graph.authority_url(),
            TENANT,
            APP_ID,
            ClientSecret::new("sandbox-client-secret"),
        ),
        http(),
    );
    let mut calls = tokio::task::JoinSet::new();
    for u in users.clone() {
        let c = client.clone();
        calls.spawn(async move { c.set_presence(&u, "Busy", "InACall", MIN * 5).await });
    }
    while let Some(r) = calls.join_next().await {
        r.unwrap().unwrap();
    }
    let token_requests = h.graph.stats().requests_by_route["POST /{tenant}/oauth2/v2.0/token"];
    assert_eq!(token_requests, 1, "one refresh for all");
    assert!(users.iter().all(|u| h.in_a_call(u)));
    // A clear of a session that is not there (404) counts as done.
    client.clear_presence(&users[0]).await.unwrap();
    client.clear_presence(&users[0]).await.unwrap();

    let wrong = GraphClient::new(
        GraphSettings::new(
            &h.graph.graph_url(),
            &h.graph.authority_url(),
            TENANT,
            APP_ID,
            ClientSecret::new("not-the-secret"),
        ),
        http(),
    );
    let err = wrong.clear_presence(&users[1]).await.unwrap_err();
    assert!(matches!(err, GraphError::Token(_)), "{err}");
    assert!(!err.to_string().contains("not-the-secret"));
}
