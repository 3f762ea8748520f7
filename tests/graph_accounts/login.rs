//! The sync account's delegated sign-in: device code (approve, decline, expiry) and the rotating
//! refresh token (grace window, unknown, revoked, outage).

use super::*;
use presence_bridge::graph::client::GraphError;
use presence_bridge::graph::delegated::{DelegatedTokens, DeviceCodePrompt};
use presence_bridge::graph::entra::EntraError;
use tokio::sync::oneshot;

/// Runs the device login; `admin` gets the shown user code and plays the administrator.
async fn device_login<F, Fut>(
    t: &Tenant,
    admin: F,
) -> (Result<DelegatedTokens, EntraError>, DeviceCodePrompt)
where
    F: FnOnce(GraphEmulator, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (tx, rx) = oneshot::channel::<DeviceCodePrompt>();
    let graph = t.graph.clone();
    let (shown_tx, shown_rx) = oneshot::channel();
    let admin_task = tokio::spawn(async move {
        let prompt: DeviceCodePrompt = rx.await.unwrap();
        admin(graph, prompt.user_code.clone()).await;
        let _ = shown_tx.send(prompt);
    });
    let result = t
        .login
        .device_login(SYNC_ACCOUNT_SCOPE, move |p| {
            let _ = tx.send(p.clone());
        })
        .await;
    admin_task.await.unwrap();
    (result, shown_rx.await.unwrap())
}

#[tokio::test]
async fn an_approved_device_login_gives_tokens_graph_accepts() {
    let t = tenant().await;
    let (result, prompt) = device_login(&t, |graph, code| async move {
        graph.approve_device_code(&code, SYNC).unwrap();
    })
    .await;
    let tokens = result.unwrap();
    assert!(prompt.verification_uri.starts_with(&t.graph.base_url()));
    assert!(
        prompt.message.contains(&prompt.user_code),
        "{}",
        prompt.message
    );
    assert_eq!(prompt.expires_in, Duration::from_secs(900));
    assert!(tokens.refresh_token.is_some());
    assert!(tokens.expires_in >= Duration::from_secs(3600));
    // The access token is the sync account's: Graph takes it for a subscription.
    let r = receiver().await;
    let sub = subscriptions::new_subscription(&t, &r, &[ALICE.to_string()]);
    t.client
        .create_subscription(&tokens.access_token, &sub.borrow(), BUDGET)
        .await
        .unwrap();
    // And the refresh token redeems.
    let refresh = tokens.refresh_token.unwrap();
    t.login
        .refresh(&refresh, SYNC_ACCOUNT_SCOPE, TIMEOUT)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_declined_device_login_says_declined() {
    let t = tenant().await;
    let (result, _) = device_login(&t, |graph, code| async move {
        graph.deny_device_code(&code).unwrap();
    })
    .await;
    assert!(matches!(result, Err(EntraError::Declined)));
}

#[tokio::test]
async fn a_device_login_nobody_answers_expires() {
    let t = tenant().await;
    let (result, _) = device_login(&t, |graph, _| async move {
        graph.clock().advance(Duration::from_secs(901));
    })
    .await;
    assert!(matches!(result, Err(EntraError::CodeExpired)));
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_dies_after_the_grace_window() {
    let t = tenant().await;
    let first = t.graph.issue_refresh_token(SYNC).unwrap();
    let second = t
        .login
        .refresh(&first, SYNC_ACCOUNT_SCOPE, TIMEOUT)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert_ne!(second, first, "Entra rotates the refresh token");

    // Two processes racing with the same stored token: the loser still gets in for a minute.
    t.login
        .refresh(&first, SYNC_ACCOUNT_SCOPE, TIMEOUT)
        .await
        .unwrap();
    t.graph.clock().advance(Duration::from_secs(61));
    match t.login.refresh(&first, SYNC_ACCOUNT_SCOPE, TIMEOUT).await {
        Err(EntraError::SignInNeeded(why)) => {
            assert!(why.contains("AADSTS70008"), "{why}");
            assert!(!why.contains(&first) && !why.contains("Trace ID"), "{why}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a superseded token past the grace window was accepted"),
    }
    let third = t
        .login
        .refresh(&second, SYNC_ACCOUNT_SCOPE, TIMEOUT)
        .await
        .unwrap();
    assert!(third.refresh_token.is_some_and(|r| r != second));
}

#[tokio::test]
async fn an_unknown_refresh_token_is_invalid() {
    let t = tenant().await;
    let err = t
        .login
        .refresh("not-a-refresh-token", SYNC_ACCOUNT_SCOPE, TIMEOUT)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, EntraError::SignInNeeded(_)), "{err}");
    assert!(err.to_string().contains("accounts add"), "{err}");
    assert!(!err.to_string().contains("not-a-refresh-token"));
}

#[tokio::test]
async fn revoked_sign_ins_stop_refresh_and_access_tokens_but_not_the_app() {
    let t = tenant().await;
    let refresh = t.graph.issue_refresh_token(SYNC).unwrap();
    let tokens = t
        .login
        .refresh(&refresh, SYNC_ACCOUNT_SCOPE, TIMEOUT)
        .await
        .unwrap();
    t.client
        .get_presences(&[ALICE.to_string()], BUDGET)
        .await
        .unwrap();

    t.graph.revoke_sign_ins(SYNC);
    let rotated = tokens.refresh_token.unwrap();
    let err = t
        .login
        .refresh(&rotated, SYNC_ACCOUNT_SCOPE, TIMEOUT)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, EntraError::SignInNeeded(_)), "{err}");

    // (The token route counts refresh grants too: count from here.)
    let app_token_requests = t.calls("POST /{tenant}/oauth2/v2.0/token");
    let r = receiver().await;
    let sub = subscriptions::new_subscription(&t, &r, &[ALICE.to_string()]);
    let err = t
        .client
        .create_subscription(&tokens.access_token, &sub.borrow(), BUDGET)
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::DelegatedToken(_)), "{err}");
    assert!(!err.to_string().contains(&tokens.access_token));
    assert_eq!(
        t.calls("POST /v1.0/subscriptions"),
        1,
        "a 401 is not retried"
    );

    // The app's own token was not thrown away over the account's 401.
    t.client
        .get_presences(&[ALICE.to_string()], BUDGET)
        .await
        .unwrap();
    assert_eq!(
        t.calls("POST /{tenant}/oauth2/v2.0/token"),
        app_token_requests
    );
    assert!(
        t.graph
            .issue_refresh_token("nobody@contoso.example")
            .is_err()
    );
}

#[tokio::test]
async fn refresh_during_an_outage_is_unavailable_at_once() {
    let t = tenant().await;
    let refresh = t.graph.issue_refresh_token(SYNC).unwrap();
    t.graph.set_outage(true);
    let err = t
        .login
        .refresh(&refresh, SYNC_ACCOUNT_SCOPE, TIMEOUT)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, EntraError::Unavailable(_)), "{err}");
    assert_eq!(t.calls("POST /{tenant}/oauth2/v2.0/token"), 1, "no retries");
    t.graph.set_outage(false);
    t.login
        .refresh(&refresh, SYNC_ACCOUNT_SCOPE, TIMEOUT)
        .await
        .unwrap();
}
