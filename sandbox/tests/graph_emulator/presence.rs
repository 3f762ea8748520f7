//! Presence aggregation (the seed's cases), presence writes and reads, throttling and outage.

use std::time::Duration;

use http::StatusCode;
use presence_sandbox::graph::GraphEmulator;
use serde_json::{Value, json};

use crate::support::*;

fn shown(graph: &GraphEmulator, user: &str) -> (String, String) {
    let p = graph.presence(user).unwrap();
    (p.availability, p.activity)
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

async fn set_presence(
    graph: &GraphEmulator,
    token: &str,
    user: &str,
    body: Value,
) -> reqwest::Response {
    graph_post(
        graph,
        token,
        &format!("/users/{user}/presence/setPresence"),
        body,
    )
    .await
}

fn in_a_call(duration: &str) -> Value {
    json!({ "sessionId": APP_ID, "availability": "Busy", "activity": "InACall", "expirationDuration": duration })
}

#[tokio::test]
async fn a_hand_set_do_not_disturb_stays_during_the_bridges_call() {
    let graph = start().await;
    let app = app_token(&graph).await;
    graph
        .set_client_session(ALICE, "teams-desktop", "Available", "Available")
        .unwrap();
    graph
        .set_preferred_presence(ALICE, "DoNotDisturb", "DoNotDisturb", None)
        .unwrap();
    assert_eq!(
        set_presence(&graph, &app, ALICE, in_a_call("PT1H"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(shown(&graph, ALICE), pair("DoNotDisturb", "DoNotDisturb"));
    let body: Value = graph_get(&graph, &app, &format!("/users/{ALICE}/presence"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["availability"].as_str(), body["activity"].as_str()),
        (Some("DoNotDisturb"), Some("DoNotDisturb"))
    );
}

#[tokio::test]
async fn a_hand_set_available_or_busy_gives_way_to_in_a_call() {
    let graph = start().await;
    let app = app_token(&graph).await;
    graph
        .set_client_session(ALICE, "teams-desktop", "Available", "Available")
        .unwrap();
    for (availability, activity) in [("Available", "Available"), ("Busy", "Busy")] {
        graph
            .set_preferred_presence(ALICE, availability, activity, None)
            .unwrap();
        assert_eq!(shown(&graph, ALICE), pair(availability, activity));
        set_presence(&graph, &app, ALICE, in_a_call("PT5M")).await;
        assert_eq!(
            shown(&graph, ALICE),
            pair("Busy", "InACall"),
            "preferred {availability}"
        );
        let r = graph_post(
            &graph,
            &app,
            &format!("/users/{ALICE}/presence/clearPresence"),
            json!({ "sessionId": APP_ID }),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            shown(&graph, ALICE),
            pair(availability, activity),
            "back after the call"
        );
    }
    let stats = graph.stats();
    assert_eq!(
        (stats.set_presence_calls, stats.clear_presence_calls),
        (2, 2)
    );
}

#[tokio::test]
async fn sessions_rank_dnd_busy_available_away_and_nothing_means_offline() {
    let graph = start().await;
    assert_eq!(shown(&graph, BOB), pair("Offline", "Offline"));
    graph
        .set_preferred_presence(BOB, "Busy", "Busy", None)
        .unwrap();
    assert_eq!(
        shown(&graph, BOB),
        pair("Offline", "Offline"),
        "a preference shows only with a session"
    );
    graph.clear_preferred_presence(BOB).unwrap();

    graph
        .set_client_session(BOB, "mobile", "Away", "Away")
        .unwrap();
    graph
        .set_client_session(BOB, "desktop", "Available", "Available")
        .unwrap();
    assert_eq!(shown(&graph, BOB).0, "Available");
    graph
        .set_client_session(BOB, "meeting", "Busy", "InAMeeting")
        .unwrap();
    graph
        .set_client_session(BOB, "web", "DoNotDisturb", "Presenting")
        .unwrap();
    assert_eq!(shown(&graph, BOB), pair("DoNotDisturb", "Presenting"));
    graph.end_client_session(BOB, "web").unwrap();
    assert_eq!(shown(&graph, BOB), pair("Busy", "InAMeeting"));
    for s in ["meeting", "desktop", "mobile"] {
        graph.end_client_session(BOB, s).unwrap();
    }
    assert_eq!(shown(&graph, BOB), pair("Offline", "Offline"));
    assert!(graph.end_client_session(BOB, "mobile").is_err());
    assert!(
        graph
            .set_client_session("nobody", "x", "Available", "Available")
            .is_err()
    );
}

#[tokio::test]
async fn the_bridges_session_expires_on_the_sandbox_clock() {
    let graph = start().await;
    let app = app_token(&graph).await;
    set_presence(&graph, &app, ALICE, in_a_call("PT5M")).await;
    let sessions = graph.app_sessions(ALICE);
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].session_id, APP_ID);
    assert!(sessions[0].expires_ms - graph.clock().now_ms() <= 5 * 60_000);
    let before = graph.presence(ALICE).unwrap();
    assert_eq!(before.activity, "InACall");

    graph.clock().advance(Duration::from_secs(5 * 60 + 1));
    let after = graph.presence(ALICE).unwrap();
    assert_eq!(
        (after.availability.as_str(), after.activity.as_str()),
        ("Offline", "Offline")
    );
    assert!(
        after.sequence_number > before.sequence_number,
        "the sequence number grows on every change"
    );
    assert!(graph.app_sessions(ALICE).is_empty());
    let r = graph_post(
        &graph,
        &app,
        &format!("/users/{ALICE}/presence/clearPresence"),
        json!({ "sessionId": APP_ID }),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "no session left to clear"
    );
}

#[tokio::test]
async fn set_presence_enforces_graphs_rules() {
    let graph = start().await;
    let app = app_token(&graph).await;
    let cases = [
        (
            json!({ "sessionId": "someone-else", "availability": "Busy", "activity": "InACall" }),
            "sessionId",
        ),
        (
            json!({ "sessionId": APP_ID, "availability": "Busy", "activity": "InAMeeting" }),
            "not supported",
        ),
        (in_a_call("PT4M"), "PT5M"),
        (in_a_call("PT4H1M"), "PT4H"),
        (in_a_call("an hour"), "ISO 8601"),
    ];
    for (body, expected) in cases {
        let (status, _, message) = error_of(set_presence(&graph, &app, ALICE, body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{expected}");
        assert!(
            message.contains(expected),
            "{message} should name {expected}"
        );
    }
    let r = set_presence(&graph, &app, "no-such-user", in_a_call("PT5M")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, delegated, _) = sync_account(&graph, "sync1@contoso.example").await;
    assert_eq!(
        set_presence(&graph, &delegated, ALICE, in_a_call("PT5M"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let default_life = json!({ "sessionId": APP_ID, "availability": "away", "activity": "away" });
    assert_eq!(
        set_presence(&graph, &app, ALICE, default_life)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(shown(&graph, ALICE), pair("Away", "Away"));
    let ttl = graph.app_sessions(ALICE)[0].expires_ms - graph.clock().now_ms();
    assert!(ttl > 4 * 60_000 && ttl <= 5 * 60_000, "default PT5M: {ttl}");
}

#[tokio::test]
async fn preferred_presence_over_http_and_out_of_office() {
    let graph = start().await;
    let app = app_token(&graph).await;
    graph
        .set_client_session(ALICE, "teams-desktop", "Available", "Available")
        .unwrap();
    let path = format!("/users/{ALICE}/presence/setUserPreferredPresence");
    let r = graph_post(&graph, &app, &path, json!({ "availability": "DoNotDisturb", "activity": "DoNotDisturb", "expirationDuration": "PT1H" })).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(shown(&graph, ALICE).0, "DoNotDisturb");
    let r = graph_post(
        &graph,
        &app,
        &path,
        json!({ "availability": "Busy", "activity": "InACall" }),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "not a user-settable state"
    );
    graph.clock().advance(Duration::from_secs(3601));
    assert_eq!(
        shown(&graph, ALICE).0,
        "Available",
        "the preference expired"
    );
    let app = app_token(&graph).await; // the first one expired with the clock

    graph
        .set_preferred_presence(ALICE, "Away", "Away", None)
        .unwrap();
    let r = graph_post(
        &graph,
        &app,
        &format!("/users/{ALICE}/presence/clearUserPreferredPresence"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(shown(&graph, ALICE).0, "Available");

    graph.set_out_of_office(ALICE, true).unwrap();
    let body: Value = graph_get(&graph, &app, &format!("/communications/presences/{ALICE}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["outOfOfficeSettings"]["isOutOfOffice"], true);
    assert_eq!(body["availability"], "Available");
    assert_eq!(body["sequenceNumber"].as_str().unwrap().len(), 20);
}

#[tokio::test]
async fn get_presences_by_user_id_takes_at_most_650_ids() {
    let graph = start().await;
    let app = app_token(&graph).await;
    graph
        .set_client_session(BOB, "desktop", "Busy", "InAMeeting")
        .unwrap();
    let mut ids: Vec<String> = (0..648).map(|i| format!("unknown-{i}")).collect();
    ids.extend([ALICE.to_owned(), BOB.to_owned()]);
    let r = graph_post(
        &graph,
        &app,
        "/communications/getPresencesByUserId",
        json!({ "ids": ids }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let value = body["value"].as_array().unwrap();
    assert_eq!(value.len(), 650);
    assert_eq!(value[0]["availability"], "PresenceUnknown");
    assert_eq!(
        (
            value[649]["availability"].as_str(),
            value[649]["activity"].as_str()
        ),
        (Some("Busy"), Some("InAMeeting"))
    );

    ids.push("one-too-many".into());
    let (status, _, message) = error_of(
        graph_post(
            &graph,
            &app,
            "/communications/getPresencesByUserId",
            json!({ "ids": ids }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("650"), "{message}");
    let r = graph_post(
        &graph,
        &app,
        "/communications/getPresencesByUserId",
        json!({ "ids": [] }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after() {
    let graph = start().await;
    let app = app_token(&graph).await;
    graph.set_throttle(Some(3));
    let path = format!("/users/{ALICE}/presence");
    for _ in 0..3 {
        assert_eq!(
            graph_get(&graph, &app, &path).await.status(),
            StatusCode::OK
        );
    }
    let r = graph_get(&graph, &app, &path).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(graph.stats().throttled_429, 1);

    graph.clock().advance(Duration::from_secs(retry_after));
    assert_eq!(
        graph_get(&graph, &app, &path).await.status(),
        StatusCode::OK,
        "allowed again after Retry-After"
    );
    graph.set_throttle(None);
    assert_eq!(
        *graph
            .stats()
            .requests_by_route
            .get("GET /v1.0/users/{id}/presence")
            .unwrap(),
        5
    );
}

#[tokio::test]
async fn an_outage_answers_503_everywhere_but_the_jwks() {
    let graph = start().await;
    let app = app_token(&graph).await;
    graph.set_outage(true);
    let r = graph_get(&graph, &app, &format!("/users/{ALICE}/presence")).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = token_request(&graph, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "login is down too");
    let jwks = http().get(graph.jwks_url()).send().await.unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    graph.set_outage(false);
    assert_eq!(
        graph_get(&graph, &app, &format!("/users/{ALICE}/presence"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(graph.stats().outage_503, 2);
}
