//! Swyx "Do not disturb"/"Away" set in SwyxIt! → Teams preferred presence (`status.changed`),
//! off by default, with no echo either way.

use super::harness::*;
use bytes::Bytes;
use presence_bridge::cli::switches::set_in;
use presence_bridge::domain::own_status::PREFERRED_MAX_LIFE_MS;
use presence_bridge::domain::{Directions, SwitchChange, Timestamp};
use presence_bridge::swyx::signature::{signed_headers, signed_headers_with_id};
use presence_bridge::swyx_to_teams::intake;
use presence_sandbox::graph::PreferredBy;
use presence_sandbox::swyx::{OwnStatus, TeamsStatus};
use serde_json::json;
use std::time::Duration;

const ALICE: &str = "aaaaaaaa-0000-0000-0000-00000000a11c";
const BOB: &str = "bbbbbbbb-0000-0000-0000-000000000b0b";

fn on() -> Directions {
    Directions {
        swyx_status_to_teams: true,
        ..Directions::default()
    }
}

fn teams_slot(h: &Harness, swyx_id: &str) -> Option<TeamsStatus> {
    h.swyx
        .user(swyx_id)
        .and_then(|u| u.teams)
        .and_then(|t| t.status)
}

/// Alice linked, subscribed and Available in Teams (and so at Swyx).
async fn alice_available(h: &Harness) {
    h.link(ALICE, "1001").await;
    h.graph
        .set_client_session(ALICE, "teams-desktop", "Away", "Away")
        .unwrap();
    h.subscribe(&[ALICE]).await;
    let before = h.graph.stats().notifications_delivered;
    h.graph
        .set_client_session(ALICE, "teams-desktop", "Available", "Available")
        .unwrap();
    h.delivered(before + 1).await;
    assert_eq!(teams_slot(h, "1001"), Some(TeamsStatus::Available));
}

#[tokio::test]
async fn off_by_default_a_hand_set_dnd_stays_in_swyx() {
    let h = Harness::start().await;
    alice_available(&h).await;
    h.swyx
        .change_own_status("1001", OwnStatus::DoNotDisturb)
        .await
        .unwrap();
    assert_eq!(h.graph.preferred_presence(ALICE), None);
    assert_eq!(h.graph.stats().set_preferred_calls, 0);
}

#[tokio::test]
async fn swyx_dnd_and_away_reach_teams_and_do_not_bounce_back_as_another_status() {
    let h = Harness::start_directed(on()).await;
    alice_available(&h).await;
    for (own, teams) in [
        (OwnStatus::DoNotDisturb, "DoNotDisturb"),
        (OwnStatus::Away, "Away"),
    ] {
        let before = h.graph.stats().notifications_delivered;
        let sent = h.swyx.change_own_status("1001", own).await.unwrap();
        assert_eq!(sent.and_then(|e| e.status), Some(200));
        let preferred = h.graph.preferred_presence(ALICE).unwrap();
        assert_eq!(
            (preferred.availability.as_str(), preferred.activity.as_str()),
            (teams, teams)
        );
        assert!(matches!(preferred.set_by, PreferredBy::Application { .. }));
        assert_eq!(h.shown(ALICE).0, teams);
        // Teams reports it back; the bridge maps it to the very status the user set, and the
        // connector's Teams-derived slot sends no event: nothing goes to Teams again.
        h.delivered(before + 1).await;
        let expected = match own {
            OwnStatus::DoNotDisturb => TeamsStatus::DoNotDisturb,
            _ => TeamsStatus::Away,
        };
        assert_eq!(teams_slot(&h, "1001"), Some(expected));
        assert_eq!(h.swyx.user("1001").unwrap().own_status, own);
    }
    assert_eq!(h.graph.stats().set_preferred_calls, 2, "no echo");

    // Back to available in SwyxIt!: the preferred presence is cleared, Teams decides again.
    let before = h.graph.stats().notifications_delivered;
    h.swyx
        .change_own_status("1001", OwnStatus::Available)
        .await
        .unwrap();
    assert_eq!(h.graph.preferred_presence(ALICE), None);
    assert_eq!(h.shown(ALICE), ("Available".into(), "Available".into()));
    h.delivered(before + 1).await;
    assert_eq!(teams_slot(&h, "1001"), Some(TeamsStatus::Available));
    assert_eq!(h.graph.stats().set_preferred_calls, 2);
}

#[tokio::test]
async fn a_teams_dnd_reaches_swyx_and_never_comes_back_as_a_preferred_presence() {
    let h = Harness::start_directed(on()).await;
    alice_available(&h).await;
    let before = h.graph.stats().notifications_delivered;
    h.graph
        .set_preferred_presence(ALICE, "DoNotDisturb", "DoNotDisturb", None)
        .unwrap();
    h.delivered(before + 1).await;
    assert_eq!(teams_slot(&h, "1001"), Some(TeamsStatus::DoNotDisturb));
    // Even a connector that reported the Teams-derived status as a change (origin `teams`)
    // does not make the bridge set anything in Teams.
    let body = json!({ "type": "status.changed", "swyxUserId": "1001", "status": "DoNotDisturb",
        "origin": "teams", "at": Timestamp(h.clock.now_ms()).to_rfc3339() })
    .to_string();
    let headers = signed_headers(
        &h.event_secret,
        body.as_bytes(),
        Timestamp(h.clock.now_ms()).secs(),
    );
    let (status, answer) = h.post_event(headers.to_header_map(), &body).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")));
    // Nor does the user's hand-set change in SwyxIt! take away the DND they chose in Teams:
    // the bridge clears only a preferred presence it set.
    h.swyx
        .change_own_status("1001", OwnStatus::LoggedOff)
        .await
        .unwrap();
    let stats = h.graph.stats();
    assert_eq!(
        (stats.set_preferred_calls, stats.clear_preferred_calls),
        (0, 0)
    );
    assert!(matches!(
        h.graph.preferred_presence(ALICE).unwrap().set_by,
        PreferredBy::User
    ));
}

#[tokio::test]
async fn a_users_own_switch_keeps_their_swyx_status_out_of_teams() {
    let h = Harness::start_directed(on()).await;
    h.link(ALICE, "1001").await;
    h.link(BOB, "1002").await;
    for user in [ALICE, BOB] {
        h.graph
            .set_client_session(user, "teams-desktop", "Available", "Available")
            .unwrap();
    }
    let off = SwitchChange {
        swyx_status_to_teams: Some(Some(false)),
        ..SwitchChange::default()
    };
    set_in(&h.app, "1002", off).await.unwrap();
    for swyx in ["1001", "1002"] {
        h.swyx
            .change_own_status(swyx, OwnStatus::DoNotDisturb)
            .await
            .unwrap();
    }
    assert!(h.graph.preferred_presence(ALICE).is_some());
    assert_eq!(
        h.graph.preferred_presence(BOB),
        None,
        "switched off for Bob"
    );
    assert_eq!(h.graph.stats().set_preferred_calls, 1);
}

/// A `status.changed` the user made by hand, as the connector sends it (at the sandbox clock).
fn by_hand(h: &Harness, status: OwnStatus) -> String {
    json!({
        "type": "status.changed", "swyxUserId": "1001", "status": status, "origin": "user",
        "at": Timestamp(h.clock.now_ms()).to_rfc3339(),
    })
    .to_string()
}

/// The connector's signature on `body`, under `webhook_id` (the same on its retries).
fn signed(h: &Harness, webhook_id: &str, body: &str) -> http::HeaderMap {
    let now = Timestamp(h.clock.now_ms()).secs();
    signed_headers_with_id(&h.event_secret, webhook_id, body.as_bytes(), now).to_header_map()
}

/// Posts the user's hand-set `status` as the connector does, under `webhook_id`.
async fn send(h: &Harness, webhook_id: &str, status: OwnStatus) -> (u16, serde_json::Value) {
    let body = by_hand(h, status);
    h.post_event(signed(h, webhook_id, &body), &body).await
}

/// The event handled in this process, so that a test can drop it midway (a SIGKILL).
fn in_process(h: &Harness, webhook_id: &str, body: &str) -> http::Request<Bytes> {
    let mut request = http::Request::new(Bytes::from(body.to_string()));
    *request.method_mut() = http::Method::POST;
    *request.headers_mut() = signed(h, webhook_id, body);
    request
}

/// A bridge that dies while it asks Graph (SIGKILL, a Lambda timeout) has not recorded the
/// event as seen: the connector's retry, with the same webhook-id, sets the preferred presence;
/// a replay after that is ignored.
#[tokio::test]
async fn a_retry_after_the_bridge_died_mid_request_is_acted_on() {
    // A long request budget, so the first attempt is still asking Graph when it dies.
    let h = Harness::start_configured(Duration::from_secs(30), on(), Vec::new()).await;
    alice_available(&h).await;
    let body = by_hand(&h, OwnStatus::DoNotDisturb);
    let id = "msg_died_mid_request";

    h.graph.set_outage(true);
    let request = in_process(&h, id, &body);
    let died = tokio::time::timeout(Duration::from_millis(500), intake::handle(&h.app, request));
    assert!(
        died.await.is_err(),
        "still asking Graph when the process died"
    );
    assert_eq!(h.graph.preferred_presence(ALICE), None);
    h.graph.set_outage(false);

    let (status, answer) = h.post_event(signed(&h, id, &body), &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    let preferred = h.graph.preferred_presence(ALICE).unwrap();
    assert_eq!(preferred.availability, "DoNotDisturb");
    let (status, answer) = h.post_event(signed(&h, id, &body), &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    assert_eq!(h.graph.stats().set_preferred_calls, 1);
}

/// Alice's "Do not disturb" sent while Graph is down: answered 2xx, kept for maintenance.
async fn dnd_kept_for_retry(h: &Harness) {
    h.graph.set_outage(true);
    let (status, answer) = send(h, "msg_dnd", OwnStatus::DoNotDisturb).await;
    assert_eq!(
        (status, answer["graph"].as_str()),
        (200, Some("pending")),
        "{answer}"
    );
    h.graph.set_outage(false);
    // Graph's 503 asked for 5 s: until then the app sends nothing.
    h.clock.advance(Duration::from_secs(5));
}

/// Graph down when the user sets "Do not disturb" in Swyx: the connector gets 2xx (a Graph
/// failure does not fail an event), and maintenance sets the preferred presence once Graph is
/// back; a later "Available" taken at once is not undone by the older change kept for retry.
#[tokio::test]
async fn a_graph_outage_is_answered_2xx_and_maintenance_sets_the_status_later() {
    let h = Harness::start_configured(Duration::from_millis(300), on(), Vec::new()).await;
    alice_available(&h).await;
    dnd_kept_for_retry(&h).await;
    assert_eq!(h.graph.preferred_presence(ALICE), None);
    h.clock.advance(MIN);
    h.maintenance().await;
    let preferred = h
        .graph
        .preferred_presence(ALICE)
        .expect("set by maintenance");
    assert_eq!(preferred.availability, "DoNotDisturb");

    // Failed again, then superseded by a change Graph takes at once.
    h.graph.set_outage(true);
    send(&h, "msg_away", OwnStatus::Away).await;
    h.graph.set_outage(false);
    h.clock.advance(Duration::from_secs(5));
    let (status, _) = send(&h, "msg_available", OwnStatus::Available).await;
    assert_eq!(status, 200);
    assert_eq!(h.graph.preferred_presence(ALICE), None, "cleared");
    h.clock.advance(MIN);
    h.maintenance().await;
    assert_eq!(
        h.graph.preferred_presence(ALICE),
        None,
        "the kept Away is gone"
    );
}

/// The bridge dies right after Graph took "Available" (before it could record that), and
/// maintenance runs before the connector's retry: Teams keeps the newest change, never the
/// older "Do not disturb" kept for retry.
#[tokio::test]
async fn a_bridge_that_died_after_graph_cleared_never_brings_back_an_older_dnd() {
    let h = Harness::start_configured(Duration::from_millis(300), on(), Vec::new()).await;
    alice_available(&h).await;
    dnd_kept_for_retry(&h).await;

    let available = by_hand(&h, OwnStatus::Available);
    let request = in_process(&h, "msg_available", &available);
    let graph_took_it = h.graph.wait_stats(WAIT, |s| s.clear_preferred_calls >= 1);
    tokio::select! {
        biased;
        took = graph_took_it => { took.unwrap(); }
        answer = intake::handle(&h.app, request) => panic!("answered before it died: {answer:?}"),
    }
    h.clock.advance(MIN);
    h.maintenance().await;
    assert_eq!(h.graph.preferred_presence(ALICE), None);

    let headers = signed(&h, "msg_available", &available);
    let (status, answer) = h.post_event(headers, &available).await;
    assert_eq!(status, 200, "{answer}");
    h.clock.advance(MIN);
    h.maintenance().await;
    assert_eq!(h.graph.preferred_presence(ALICE), None);
    assert_eq!(h.graph.stats().set_preferred_calls, 0, "the DND never sent");
}

/// The bridge's mark lapsed while an older "Do not disturb" was kept for retry (no maintenance
/// for longer than Graph keeps any preferred presence): "Available" has nothing of the bridge's
/// to clear, and still drops the older change, so maintenance never sends it.
#[tokio::test]
async fn available_drops_an_older_kept_dnd_even_when_the_mark_is_gone() {
    let h = Harness::start_configured(Duration::from_millis(300), on(), Vec::new()).await;
    alice_available(&h).await;
    dnd_kept_for_retry(&h).await;
    h.clock
        .advance(Duration::from_millis(PREFERRED_MAX_LIFE_MS as u64));

    let (status, answer) = send(&h, "msg_available", OwnStatus::Available).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    h.clock.advance(MIN);
    h.maintenance().await;
    assert_eq!(h.graph.preferred_presence(ALICE), None);
    let stats = h.graph.stats();
    assert_eq!(stats.set_preferred_calls, 0, "the DND never sent");
    assert_eq!(
        stats.clear_preferred_calls, 0,
        "nothing of the bridge's to clear"
    );
}
