//! The emulated login: client credentials, device code, refresh-token rotation.

use std::time::Duration;

use http::StatusCode;
use presence_sandbox::graph::GraphTiming;

use crate::support::*;

#[tokio::test]
async fn client_credentials_give_an_app_token_that_graph_accepts() {
    let graph = start().await;
    let token = app_token(&graph).await;
    let r = graph_get(&graph, &token, &format!("/users/{ALICE}/presence")).await;
    assert_eq!(r.status(), StatusCode::OK);

    let (status, body) = token_request(
        &graph,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP_ID),
            ("client_secret", "wrong"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(
        !body.to_string().contains(SECRET),
        "the secret never appears in errors"
    );

    let (status, body) = token_request(
        &graph,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP_ID),
            ("client_secret", SECRET),
            ("scope", "User.Read"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
}

#[tokio::test]
async fn missing_unknown_and_expired_tokens_get_401() {
    let graph = start().await;
    let path = format!("{}/users/{ALICE}/presence", graph.graph_url());
    let r = http().get(&path).send().await.unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken")
    );
    let r = graph_get(&graph, "made-up", &format!("/users/{ALICE}/presence")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let token = app_token(&graph).await;
    graph.clock().advance(Duration::from_secs(3600));
    let r = graph_get(&graph, &token, &format!("/users/{ALICE}/presence")).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "app tokens live 3599 s"
    );
}

#[tokio::test]
async fn device_code_is_pending_until_the_admin_signs_in() {
    let graph = start().await;
    graph.add_sync_account("sync1@contoso.example");
    let login = start_device_login(&graph).await;
    assert_eq!(login["expires_in"], 900);
    assert_eq!(login["interval"], 5);
    assert!(
        login["verification_uri"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let device_code = login["device_code"].as_str().unwrap();

    let (status, body) = poll_device(&graph, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("authorization_pending"))
    );
    let (_, body) = poll_device(&graph, device_code).await;
    assert_eq!(body["error"], "slow_down", "polled again at once");

    graph
        .approve_device_code(
            login["user_code"].as_str().unwrap(),
            "sync1@contoso.example",
        )
        .unwrap();
    graph.clock().advance(Duration::from_secs(5));
    let (status, body) = poll_device(&graph, device_code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!(
        (3600..=5400).contains(&expires_in),
        "delegated tokens live 60–90 min: {expires_in}"
    );
    assert!(
        body["refresh_token"].is_string(),
        "offline_access was asked for"
    );

    let me = graph_get(
        &graph,
        body["access_token"].as_str().unwrap(),
        "/me/presence",
    )
    .await;
    assert_eq!(me.status(), StatusCode::OK);

    let (_, again) = poll_device(&graph, device_code).await;
    assert_eq!(
        again["error"], "bad_verification_code",
        "a device code is redeemed once"
    );
}

#[tokio::test]
async fn device_code_can_be_declined_or_expire() {
    let graph = start().await;
    let login = start_device_login(&graph).await;
    graph
        .deny_device_code(login["user_code"].as_str().unwrap())
        .unwrap();
    let (_, body) = poll_device(&graph, login["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "authorization_declined");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS")
    );

    let login = start_device_login(&graph).await;
    graph.clock().advance(Duration::from_secs(901));
    let (_, body) = poll_device(&graph, login["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "expired_token");
    let user_code = login["user_code"].as_str().unwrap();
    assert!(
        graph
            .approve_device_code(user_code, "alice@contoso.example")
            .unwrap_err()
            .to_string()
            .contains("expired")
    );
    assert!(
        graph
            .approve_device_code("NOSUCHCODE", "alice@contoso.example")
            .is_err()
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_the_old_one_dies_after_the_grace_window() {
    let graph = start().await;
    let (_, _, r1) = sync_account(&graph, "sync1@contoso.example").await;
    let refresh = |token: String| {
        let graph = graph.clone();
        async move {
            token_request(
                &graph,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", APP_ID),
                    ("refresh_token", &token),
                ],
            )
            .await
        }
    };
    let (status, body) = refresh(r1.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r2 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r2, r1, "every refresh hands out a new refresh token");
    let me = graph_get(
        &graph,
        body["access_token"].as_str().unwrap(),
        "/me/presence",
    )
    .await;
    assert_eq!(me.status(), StatusCode::OK);

    let (status, _) = refresh(r1.clone()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the old token still works within the grace window"
    );

    graph.clock().advance(Duration::from_secs(61));
    let (status, body) = refresh(r1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = refresh(r2).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the newest token keeps working: {body}"
    );
}

#[tokio::test]
async fn issued_refresh_tokens_work_until_the_sign_ins_are_revoked() {
    let graph = start().await;
    graph.add_sync_account("sync1@contoso.example");
    assert!(graph.issue_refresh_token("nobody@contoso.example").is_err());
    let issued = graph.issue_refresh_token("sync1@contoso.example").unwrap();
    let refresh = |token: String| {
        let graph = graph.clone();
        async move {
            token_request(
                &graph,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", APP_ID),
                    ("refresh_token", &token),
                ],
            )
            .await
        }
    };
    let (status, body) = refresh(issued).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["scope"]
            .as_str()
            .unwrap()
            .contains("Presence.Read.All")
    );
    let access = body["access_token"].as_str().unwrap().to_owned();
    let rotated = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        graph_get(&graph, &access, "/me/presence").await.status(),
        StatusCode::OK
    );
    let app = app_token(&graph).await;

    graph.revoke_sign_ins("sync1@contoso.example");
    let (status, body) = refresh(rotated).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        graph_get(&graph, &access, "/me/presence").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        graph_get(&graph, &app, &format!("/users/{ALICE}/presence"))
            .await
            .status(),
        StatusCode::OK,
        "the app's token is not the user's sign-in"
    );
}

#[tokio::test]
async fn a_sub_second_device_poll_interval_shows_as_zero_and_is_honoured() {
    let graph = start().await;
    graph.set_timing(GraphTiming {
        device_poll_interval: Duration::from_millis(50),
        ..fast_timing()
    });
    graph.add_sync_account("sync1@contoso.example");
    let login = start_device_login(&graph).await;
    assert_eq!(login["interval"], 0);
    let device_code = login["device_code"].as_str().unwrap();
    for _ in 0..2 {
        let (_, body) = poll_device(&graph, device_code).await;
        assert_eq!(body["error"], "authorization_pending");
    }
}
