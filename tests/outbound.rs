//! Outbound hygiene, the same for every client (Graph, the Entra token endpoint, the signing keys,
//! the Swyx connector): a redirect is never followed, so no secret, token or signature reaches
//! the host it names; an oversized answer is refused without being read to its end.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use bytes::Bytes;
use presence_bridge::domain::{PresenceValue, SwyxAction, SwyxUpdate, Timestamp};
use presence_bridge::graph::client::{GraphClient, GraphError, GraphSettings};
use presence_bridge::graph::delegated::{LoginEndpoint, SYNC_ACCOUNT_SCOPE};
use presence_bridge::graph::entra::EntraError;
use presence_bridge::graph::token::ClientSecret;
use presence_bridge::graph::validation_token::{
    TokenSettings, TokenValidator, ValidationTokenError,
};
use presence_bridge::outbound::http::{Trust, client};
use presence_bridge::swyx::client::{ConnectorClient, ConnectorError, ConnectorSettings};
use presence_bridge::swyx::signature::WebhookSecret;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::test_issuer;

const SECRET: &str = "client-s3cret-that-must-stay-home";
const REFRESH_TOKEN: &str = "refresh-token-that-must-stay-home";
const BUDGET: Duration = Duration::from_secs(5);
const MIB: usize = 1024 * 1024;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Another host: counts every request and keeps what it was sent.
#[derive(Clone, Default)]
struct Trap {
    hits: Arc<AtomicUsize>,
}

impl Trap {
    async fn start(&self) -> String {
        let trap = self.clone();
        serve(Router::new().fallback(any(move || {
            let trap = trap.clone();
            async move {
                trap.hits.fetch_add(1, Ordering::SeqCst);
                "you should not be here"
            }
        })))
        .await
    }
}

/// Answers every request with a redirect to `target` (307: a client that followed it would send
/// the same method and body again), except the app token, which it issues.
async fn redirecting_to(target: &str) -> String {
    let target = target.to_string();
    let router = Router::new()
        .route(
            "/app-tenant/oauth2/v2.0/token",
            post(|| async {
                axum::Json(serde_json::json!({"access_token": "app-token", "expires_in": 3600}))
            }),
        )
        .fallback(any(move || {
            let location = format!("{target}/stolen");
            async move {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, location)],
                )
            }
        }));
    serve(router).await
}

fn graph(base: &str, authority: &str, tenant: &str) -> GraphClient {
    GraphClient::new(
        GraphSettings::new(base, authority, tenant, "app", ClientSecret::new(SECRET)),
        client(Duration::from_secs(2), Trust::Platform).unwrap(),
    )
}

fn connector(base: &str) -> ConnectorClient {
    ConnectorClient::new(
        ConnectorSettings::new(base, WebhookSecret::generate()),
        client(Duration::from_secs(2), Trust::Platform).unwrap(),
    )
}

fn update() -> SwyxUpdate {
    SwyxUpdate {
        swyx_user_id: "1001".into(),
        entra_id: "e".into(),
        action: SwyxAction::Withdraw,
        revision: 1,
        availability: PresenceValue::new("Offline"),
        activity: PresenceValue::new("Offline"),
        out_of_office: false,
        observed_at: Timestamp::from_secs(0),
    }
}

fn validator(jwks_url: &str) -> TokenValidator {
    TokenValidator::new(
        TokenSettings {
            jwks_url: jwks_url.to_string(),
            app_id: "app".into(),
            ..TokenSettings::default()
        },
        client(Duration::from_secs(2), Trust::Platform).unwrap(),
    )
}

/// A token whose `kid` makes the validator fetch the keys.
fn token_needing_keys() -> String {
    let issuer =
        test_issuer::TestIssuer::from_pem(include_bytes!("fixtures/jwt/key1.pem"), "key1").unwrap();
    issuer.validation_token("app", "tenant", Duration::from_secs(3600))
}

#[tokio::test]
async fn no_client_follows_a_redirect_so_nothing_reaches_the_other_host() {
    let trap = Trap::default();
    let elsewhere = trap.start().await;
    let redirecting = redirecting_to(&elsewhere).await;

    // The token endpoint: the client secret stays home.
    let err = graph("http://127.0.0.1:9", &redirecting, "other-tenant")
        .clear_presence("user")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Token(EntraError::Refused { status: 307, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("redirect"), "{err}");
    assert!(!err.to_string().contains(SECRET), "{err}");

    // Graph itself: the bearer token stays home.
    let err = graph(&redirecting, &redirecting, "app-tenant")
        .clear_presence("user")
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Refused { status: 307, .. }),
        "{err}"
    );

    // A sync account's refresh token stays home.
    let login = LoginEndpoint::new(
        client(Duration::from_secs(2), Trust::Platform).unwrap(),
        &redirecting,
        "tenant",
        "app",
    );
    let err = login
        .refresh(REFRESH_TOKEN, SYNC_ACCOUNT_SCOPE, BUDGET)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, EntraError::Refused { status: 307, .. }),
        "{err}"
    );
    assert!(!err.to_string().contains(REFRESH_TOKEN), "{err}");

    // The connector: the signature stays home.
    let err = connector(&redirecting)
        .send_update(&update(), BUDGET)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(307), "{err}");
    assert!(err.to_string().contains("redirect"), "{err}");

    // The signing keys.
    let err = validator(&format!("{redirecting}/keys"))
        .validate(&token_needing_keys())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ValidationTokenError::JwksUnavailable(_)) && err.to_string().contains("307"),
        "{err}"
    );

    assert_eq!(
        trap.hits.load(Ordering::SeqCst),
        0,
        "nothing was sent there"
    );
}

/// Serves `size` bytes in 64 KiB chunks, counting what it hands to the connection; with
/// `declare`, a Content-Length says the size up front.
#[derive(Clone)]
struct Huge {
    produced: Arc<AtomicUsize>,
    size: usize,
    declare: bool,
}

async fn huge_answer(State(huge): State<Huge>) -> Response {
    const CHUNK: usize = 64 * 1024;
    let produced = Arc::clone(&huge.produced);
    let chunks = (0..huge.size / CHUNK).map(move |_| {
        produced.fetch_add(CHUNK, Ordering::SeqCst);
        Ok::<_, std::io::Error>(Bytes::from(vec![b' '; CHUNK]))
    });
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    if huge.declare {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, huge.size.into());
    }
    response.into_response()
}

async fn serving_huge(declare: bool) -> (Huge, String) {
    let huge = Huge {
        produced: Arc::default(),
        size: 100 * MIB,
        declare,
    };
    let router = Router::new()
        .route(
            "/app-tenant/oauth2/v2.0/token",
            post(|| async {
                axum::Json(serde_json::json!({"access_token": "app-token", "expires_in": 3600}))
            }),
        )
        .fallback(any(huge_answer))
        .with_state(huge.clone());
    (huge, serve(router).await)
}

#[tokio::test]
async fn a_hundred_mebibyte_answer_is_refused_without_reading_it_all() {
    for declare in [false, true] {
        let (huge, url) = serving_huge(declare).await;
        // What the server got to hand over before the client hung up: its cap and what the
        // connection buffered, far from the 100 MiB that reading to the end would take.
        let read_little = |who: &str| {
            let produced = huge.produced.swap(0, Ordering::SeqCst);
            assert!(
                produced < 40 * MIB,
                "{who}, declare={declare}: {} MiB taken",
                produced / MIB
            );
        };

        let err = graph(&url, &url, "app-tenant")
            .get_presences(&["user".to_string()], BUDGET)
            .await
            .unwrap_err();
        assert!(matches!(err, GraphError::Unavailable(_)), "{err}");
        assert!(err.to_string().contains("larger than"), "{err}");
        read_little("Graph");

        let err = connector(&url).list_users(BUDGET).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err}");
        assert!(err.to_string().contains("larger than"), "{err}");
        read_little("connector");

        let err = validator(&format!("{url}/keys"))
            .validate(&token_needing_keys())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        read_little("signing keys");
    }
}
