//! `setUserPreferredPresence` / `clearUserPreferredPresence` by the app: the documented
//! combinations only, the default lives, the same slot as a status the user picks in Teams (and
//! told apart from it), and change notifications like any other presence change.

use std::time::Duration;

use http::StatusCode;
use presence_sandbox::graph::{GraphEmulator, PreferredBy};
use serde_json::{Value, json};

use crate::support::*;

async fn set(graph: &GraphEmulator, token: &str, user: &str, body: Value) -> StatusCode {
    let path = format!("/users/{user}/presence/setUserPreferredPresence");
    graph_post(graph, token, &path, body).await.status()
}

#[tokio::test]
async fn only_the_documented_combinations_with_their_default_lives() {
    let graph = start().await;
    let app = app_token(&graph).await;
    graph
        .set_client_session(ALICE, "teams-desktop", "Available", "Available")
        .unwrap();
    let day = 86_400_000;
    for (a, b, life) in [
        ("Available", "Available", 7 * day),
        ("Busy", "Busy", day),
        ("DoNotDisturb", "DoNotDisturb", day),
        ("BeRightBack", "BeRightBack", 7 * day),
        ("Away", "Away", 7 * day),
        ("Offline", "OffWork", 7 * day),
    ] {
        let status = set(
            &graph,
            &app,
            ALICE,
            json!({ "availability": a, "activity": b }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{a}/{b}");
        let p = graph.preferred_presence(ALICE).unwrap();
        assert_eq!((p.availability.as_str(), p.activity.as_str()), (a, b));
        let left = p.expires_ms - graph.clock().now_ms();
        assert!(left > life - 60_000 && left <= life, "{a}: {left} ms");
    }
    for (a, b) in [
        ("Busy", "InACall"),
        ("Available", "Away"),
        ("DoNotDisturb", "Presenting"),
        ("Offline", "Offline"),
    ] {
        let status = set(
            &graph,
            &app,
            ALICE,
            json!({ "availability": a, "activity": b }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{a}/{b}");
    }
    let status = set(
        &graph,
        &app,
        ALICE,
        json!({ "availability": "Away", "activity": "Away", "expirationDuration": "PT8H" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let left = graph.preferred_presence(ALICE).unwrap().expires_ms - graph.clock().now_ms();
    assert!(left > 8 * 3_600_000 - 60_000 && left <= 8 * 3_600_000);
    for bad in ["eight hours", "PT0S"] {
        let body = json!({ "availability": "Away", "activity": "Away", "expirationDuration": bad });
        assert_eq!(
            set(&graph, &app, ALICE, body).await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let status = set(
        &graph,
        &app,
        "nobody",
        json!({ "availability": "Away", "activity": "Away" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_preference_set_by_the_app_fills_the_users_slot_and_notifies() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (key, cert) = encryption_cert();
    let r = graph_post(
        &graph,
        &token,
        "/subscriptions",
        subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    graph
        .set_client_session(ALICE, "teams-desktop", "Available", "Available")
        .unwrap();
    assert_eq!(
        decrypt(&hook.next_accepted().await["value"][0], &key)["availability"],
        "Available"
    );

    // The user picks Away in Teams: the view says so.
    graph
        .set_preferred_presence(ALICE, "Away", "Away", None)
        .unwrap();
    assert_eq!(
        graph.preferred_presence(ALICE).unwrap().set_by,
        PreferredBy::User
    );
    assert_eq!(
        decrypt(&hook.next_accepted().await["value"][0], &key)["availability"],
        "Away"
    );

    // The app (e.g. from Swyx's do-not-disturb) replaces it: one slot, now marked as the app's.
    let app = app_token(&graph).await;
    let status = set(
        &graph,
        &app,
        ALICE,
        json!({ "availability": "DoNotDisturb", "activity": "DoNotDisturb" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let p = graph.preferred_presence(ALICE).unwrap();
    assert_eq!(
        p.set_by,
        PreferredBy::Application {
            app_id: APP_ID.into()
        }
    );
    let seen = decrypt(&hook.next_accepted().await["value"][0], &key);
    assert_eq!(
        (seen["availability"].as_str(), seen["activity"].as_str()),
        (Some("DoNotDisturb"), Some("DoNotDisturb"))
    );
    assert_eq!(
        graph.presence(ALICE).unwrap().availability,
        "DoNotDisturb",
        "it beats the session"
    );

    let r = graph_post(
        &graph,
        &app,
        &format!("/users/{ALICE}/presence/clearUserPreferredPresence"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(graph.preferred_presence(ALICE), None);
    assert_eq!(
        decrypt(&hook.next_accepted().await["value"][0], &key)["availability"],
        "Available"
    );

    // An app preference expires by the clock and notifies too.
    set(
        &graph,
        &app,
        ALICE,
        json!({ "availability": "Busy", "activity": "Busy", "expirationDuration": "PT10M" }),
    )
    .await;
    assert_eq!(
        decrypt(&hook.next_accepted().await["value"][0], &key)["availability"],
        "Busy"
    );
    // (Well within the subscription's hour.)
    graph.clock().advance(Duration::from_secs(601));
    assert_eq!(
        decrypt(&hook.next_accepted().await["value"][0], &key)["availability"],
        "Available"
    );
    let stats = graph.stats();
    assert_eq!(
        (stats.set_preferred_calls, stats.clear_preferred_calls),
        (2, 1)
    );
}

#[tokio::test]
async fn writing_a_preference_needs_presence_read_write() {
    let graph = start().await;
    let (_, delegated, _) = sync_account(&graph, "sync1@contoso.example").await;
    let body = json!({ "availability": "Away", "activity": "Away" });
    assert_eq!(
        set(&graph, &delegated, ALICE, body.clone()).await,
        StatusCode::FORBIDDEN,
        "Presence.Read.All only"
    );
    graph.set_app_permissions(&["Presence.Read.All"]);
    let app = app_token(&graph).await;
    assert_eq!(set(&graph, &app, ALICE, body).await, StatusCode::FORBIDDEN);
    let r = graph_post(
        &graph,
        &app,
        &format!("/users/{ALICE}/presence/clearUserPreferredPresence"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
