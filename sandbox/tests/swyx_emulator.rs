//! The emulated SwyxServer connector over real HTTP on loopback: the bridge → connector contract
//! (signatures, revision rule, replay, errors), call events to the bridge, outages, the scenario
//! API, the step parser and the CLI.

#[path = "swyx_emulator/cli.rs"]
mod cli;
#[path = "swyx_emulator/contract.rs"]
mod contract;
#[path = "swyx_emulator/control.rs"]
mod control;
#[path = "swyx_emulator/control_directory.rs"]
mod control_directory;
#[path = "swyx_emulator/events.rs"]
mod events;
#[path = "swyx_emulator/outage.rs"]
mod outage;
#[path = "swyx_emulator/steps.rs"]
mod steps;
#[path = "swyx_emulator/support.rs"]
mod support;

use presence_sandbox::swyx::{EffectiveStatus, OwnStatus, TeamsStatus};
use serde_json::json;
use support::{Key, setup, update};

#[tokio::test]
async fn signed_update_is_applied_and_visible() {
    let s = setup(None).await;
    let a = s.put("101", &update("101", Some("Speaking"), 7)).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({ "swyxUserId": "101", "status": "Speaking", "revision": 7, "effectiveStatus": "Speaking" })
    );
    let u = s.emu.user("101").unwrap();
    let slot = u.teams.unwrap();
    assert_eq!(
        (slot.status, slot.revision),
        (Some(TeamsStatus::Speaking), 7)
    );
    assert_eq!(slot.observed_at, "2026-11-26T10:00:00Z");
    assert_eq!(
        (
            slot.teams.availability.as_str(),
            slot.teams.activity.as_str()
        ),
        ("Busy", "InACall")
    );
    assert_eq!(u.effective_status, EffectiveStatus::Speaking);
    assert!(
        u.active_calls.is_empty(),
        "a Teams-derived Speaking is not a Swyx call"
    );
    assert_eq!(s.emu.stats().updates_applied, 1);
}

#[tokio::test]
async fn revision_rule_lower_conflicts_same_is_idempotent_higher_applies() {
    let s = setup(None).await;
    assert_eq!(
        s.put("101", &update("101", Some("Away"), 5)).await.status,
        200
    );

    let lower = s.put("101", &update("101", Some("DoNotDisturb"), 4)).await;
    assert_eq!(lower.status, 409);
    assert!(
        lower.body["error"]
            .as_str()
            .unwrap()
            .contains("applied revision 5")
    );
    assert_eq!(
        s.emu.user("101").unwrap().effective_status,
        EffectiveStatus::Away,
        "409 changes nothing"
    );

    // The same revision again (a retry with a new id) is answered 200 and not applied twice.
    let same = s.put("101", &update("101", Some("DoNotDisturb"), 5)).await;
    assert_eq!(
        (same.status, same.body["status"].as_str()),
        (200, Some("Away"))
    );
    assert_eq!(
        s.emu.user("101").unwrap().effective_status,
        EffectiveStatus::Away
    );

    assert_eq!(
        s.put("101", &update("101", Some("DoNotDisturb"), 6))
            .await
            .status,
        200
    );
    assert_eq!(
        s.emu.user("101").unwrap().effective_status,
        EffectiveStatus::DoNotDisturb
    );
    let st = s.emu.stats();
    assert_eq!(
        (
            st.updates_applied,
            st.updates_repeated,
            st.updates_superseded
        ),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn withdraw_returns_to_the_users_own_status_and_keeps_the_revision() {
    let s = setup(None).await;
    s.emu.set_own_status("101", OwnStatus::Away);
    s.put("101", &update("101", Some("DoNotDisturb"), 1)).await;
    assert_eq!(
        s.emu.user("101").unwrap().effective_status,
        EffectiveStatus::DoNotDisturb
    );

    let a = s.put("101", &update("101", None, 2)).await;
    assert_eq!((a.status, a.body["status"].is_null()), (200, true));
    let u = s.emu.user("101").unwrap();
    assert_eq!(u.effective_status, EffectiveStatus::Away);
    assert_eq!(
        u.teams.as_ref().map(|t| (t.status, t.revision)),
        Some((None, 2))
    );
    assert_eq!(
        s.put("101", &update("101", Some("Available"), 1))
            .await
            .status,
        409,
        "an old set cannot undo a withdraw"
    );
}

#[tokio::test]
async fn bad_signatures_are_refused_with_401_and_counted() {
    let s = setup(None).await;
    let body = update("101", Some("Away"), 1).to_string();
    let wrong = Key::new(1);
    assert_eq!(
        s.put_raw("101", "msg_a", s.now(), body.as_bytes(), &wrong)
            .await
            .status,
        401
    );

    // Signed for one body, sent with another.
    let signed = s.inbound.sign("msg_b", s.now(), body.as_bytes());
    let resp = s
        .http
        .put(format!("{}/v1/users/101/teams-status", s.emu.url()))
        .header("webhook-id", "msg_b")
        .header("webhook-timestamp", s.now().to_string())
        .header("webhook-signature", signed)
        .body(update("101", Some("DoNotDisturb"), 1).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let unsigned = s
        .http
        .put(format!("{}/v1/users/101/teams-status", s.emu.url()))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let a = support::answer(unsigned).await;
    assert_eq!(a.status, 401);
    assert!(
        a.body["error"].as_str().unwrap().contains("webhook-id"),
        "the error names the missing header"
    );

    assert!(
        s.emu.user("101").unwrap().teams.is_none(),
        "nothing was applied"
    );
    assert_eq!(s.emu.stats().refused_bad_signature, 3);
}

#[tokio::test]
async fn a_replayed_webhook_id_gets_the_first_answer_and_has_no_effect() {
    let s = setup(None).await;
    let first = update("101", Some("DoNotDisturb"), 3).to_string();
    assert_eq!(
        s.put_raw("101", "msg_once", s.now(), first.as_bytes(), &s.inbound)
            .await
            .status,
        200
    );
    s.put("101", &update("101", Some("Available"), 4)).await;

    // Re-signed with a fresh timestamp, as a retry or a captured message would be: not acted on
    // (it would be a 409 if it were evaluated again), answered as the first time.
    let replay = s
        .put_raw("101", "msg_once", s.now(), first.as_bytes(), &s.inbound)
        .await;
    assert_eq!(
        (replay.status, replay.body["revision"].as_u64()),
        (200, Some(3))
    );
    let u = s.emu.user("101").unwrap();
    assert_eq!(
        u.teams.map(|t| (t.status, t.revision)),
        Some((Some(TeamsStatus::Available), 4))
    );
    let st = s.emu.stats();
    assert_eq!(
        (st.refused_replay, st.updates_superseded, st.updates_applied),
        (1, 0, 2)
    );
}

#[tokio::test]
async fn timestamps_outside_five_minutes_of_the_sandbox_clock_are_refused() {
    let s = setup(None).await;
    let body = update("101", Some("Away"), 1).to_string();
    assert_eq!(
        s.put_raw("101", "msg_old", s.now() - 301, body.as_bytes(), &s.inbound)
            .await
            .status,
        401
    );
    assert_eq!(
        s.put_raw("101", "msg_new", s.now() + 301, body.as_bytes(), &s.inbound)
            .await
            .status,
        401
    );
    assert_eq!(
        s.put_raw("101", "msg_ok", s.now() - 299, body.as_bytes(), &s.inbound)
            .await
            .status,
        200
    );

    // The sandbox clock decides: a bridge on real time is stale once the sandbox jumps ahead.
    let real_now = presence_sandbox::Clock::new().now_secs();
    s.emu.clock().advance(std::time::Duration::from_secs(600));
    let a = s
        .put_raw(
            "101",
            "msg_real",
            real_now,
            update("101", None, 2).to_string().as_bytes(),
            &s.inbound,
        )
        .await;
    assert_eq!(a.status, 401);
    assert!(a.body["error"].as_str().unwrap().contains("5 minutes"));
    assert_eq!(s.emu.stats().refused_stale_timestamp, 3);
}

#[tokio::test]
async fn unknown_users_get_404_and_malformed_bodies_400_naming_the_problem() {
    let s = setup(None).await;
    let a = s.put("999", &update("999", Some("Away"), 1)).await;
    assert_eq!(a.status, 404);
    assert!(a.body["error"].as_str().unwrap().contains("999"));

    let mismatch = s.put("101", &update("102", Some("Away"), 1)).await;
    assert_eq!(mismatch.status, 400);
    assert!(
        mismatch.body["error"]
            .as_str()
            .unwrap()
            .contains("differs from the path")
    );

    let mut missing = update("101", Some("Away"), 1);
    missing.as_object_mut().unwrap().remove("status");
    let a = s.put("101", &missing).await;
    assert_eq!(
        a.status, 400,
        "a missing status must not be read as a withdraw"
    );
    assert!(a.body["error"].as_str().unwrap().contains("status"));

    let a = s.put("101", &update("101", Some("Busy"), 1)).await;
    assert_eq!(a.status, 400);
    assert!(a.body["error"].as_str().unwrap().contains("Busy"));

    let mut bad_time = update("101", Some("Away"), 1);
    bad_time["observedAt"] = json!("yesterday");
    assert_eq!(s.put("101", &bad_time).await.status, 400);
    assert!(s.emu.user("101").unwrap().teams.is_none());
    let st = s.emu.stats();
    assert_eq!((st.unknown_user, st.bad_request), (1, 4));
}

#[tokio::test]
async fn user_list_is_signed_and_lists_emails() {
    let s = setup(None).await;
    let a = s.list_users(&s.inbound).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({ "users": [
            { "swyxUserId": "101", "name": "Alice Example", "email": "alice@contoso.com", "groups": [], "speaking": [],
              "teamsStatus": { "swyxUserId": "101", "status": null, "revision": 0 } },
            { "swyxUserId": "102", "name": "Bob Example", "email": null, "groups": [], "speaking": [],
              "teamsStatus": { "swyxUserId": "102", "status": null, "revision": 0 } },
        ], "nextCursor": null })
    );
    assert_eq!(s.list_users(&Key::new(3)).await.status, 401);
    assert_eq!(s.emu.stats().user_list_requests, 1);
}
