//! Graph validation tokens end to end: TestIssuer signs, a loopback axum server plays the JWKS
//! endpoint (counting requests), TokenValidator decides.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use presence_bridge::graph::CHANGE_TRACKING_APP_ID;
use presence_bridge::graph::validation_token::{
    MAX_TOKENS_PER_COLLECTION, TokenSettings, TokenValidator, ValidatedToken, ValidationTokenError,
};
use serde_json::{Value, json};
use test_issuer::{TestIssuer, v2_claims};
use tokio::sync::{Notify, Semaphore};

#[path = "validation_tokens/jwks_fetching.rs"]
mod jwks_fetching;
#[path = "validation_tokens/key_rotation.rs"]
mod key_rotation;
#[path = "validation_tokens/remembered.rs"]
mod remembered;
use crate::support::test_issuer;

const KEY1: &[u8] = include_bytes!("fixtures/jwt/key1.pem");
const KEY2: &[u8] = include_bytes!("fixtures/jwt/key2.pem");
const APP: &str = "11111111-2222-3333-4444-555555555555";
const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const HOUR: Duration = Duration::from_secs(3600);
/// Enough permits that an open gate never blocks a request.
const GATE_PERMITS: u32 = 1_000;

/// The JWKS endpoint: serves `reply` (None = 503), counts hits, and can hold requests at a gate.
#[derive(Clone)]
struct Jwks {
    hits: Arc<AtomicUsize>,
    reply: Arc<Mutex<Option<String>>>,
    gate: Arc<Semaphore>,
    seen: Arc<Notify>,
    url: String,
}

impl Jwks {
    async fn start(reply: Option<String>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let jwks = Jwks {
            hits: Arc::default(),
            reply: Arc::new(Mutex::new(reply)),
            gate: Arc::new(Semaphore::new(GATE_PERMITS as usize)),
            seen: Arc::default(),
            url: format!("http://{addr}/keys"),
        };
        let app = Router::new()
            .route("/keys", get(serve_keys))
            .with_state(jwks.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        jwks
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn set_reply(&self, reply: Option<String>) {
        *self.reply.lock().unwrap() = reply;
    }

    fn validator(&self, min_refresh_interval: Duration) -> TokenValidator {
        validator_for(&self.url, min_refresh_interval)
    }
}

async fn serve_keys(State(jwks): State<Jwks>) -> Response {
    jwks.hits.fetch_add(1, Ordering::SeqCst);
    jwks.seen.notify_one();
    let _pass = jwks.gate.acquire().await.unwrap();
    let reply = jwks.reply.lock().unwrap().clone();
    match reply {
        Some(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn validator_for(url: &str, min_refresh_interval: Duration) -> TokenValidator {
    let settings = TokenSettings {
        jwks_url: url.to_owned(),
        app_id: APP.to_owned(),
        min_refresh_interval,
        ..TokenSettings::default()
    };
    // Loopback only: ignore any proxy configured in the environment.
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    TokenValidator::new(settings, http)
}

fn issuer(pem: &[u8], kid: &str) -> TestIssuer {
    TestIssuer::from_pem(pem, kid).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A valid v2 claim set with `changes` merged in (null removes a claim).
fn claims_with(changes: Value) -> Value {
    let mut claims = v2_claims(APP, TENANT, HOUR);
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn v1_claims() -> Value {
    claims_with(json!({
        "ver": "1.0", "azp": null, "appid": CHANGE_TRACKING_APP_ID,
        "iss": format!("https://sts.windows.net/{TENANT}/"),
    }))
}

async fn setup() -> (Jwks, TokenValidator, TestIssuer) {
    let key1 = issuer(KEY1, "key1");
    let jwks = Jwks::start(Some(key1.jwks_json())).await;
    let validator = jwks.validator(HOUR);
    (jwks, validator, key1)
}

fn expected() -> ValidatedToken {
    ValidatedToken {
        tenant_id: TENANT.into(),
        app_id: APP.into(),
    }
}

#[tokio::test]
async fn valid_v2_and_v1_tokens_pass_and_the_jwks_is_fetched_once() {
    let (jwks, validator, key1) = setup().await;
    assert_eq!(jwks.hits(), 0, "the first validation fetches lazily");
    let v2 = key1.validation_token(APP, TENANT, HOUR);
    assert_eq!(validator.validate(&v2).await.unwrap(), expected());
    let v1 = key1.sign_claims(&v1_claims());
    assert_eq!(validator.validate(&v1).await.unwrap(), expected());
    assert_eq!(jwks.hits(), 1);
}

#[tokio::test]
async fn claims_that_do_not_fit_are_rejected_by_name() {
    let (_jwks, validator, key1) = setup().await;
    let other_tenant = "99999999-0000-0000-0000-000000000000";
    let cases = [
        (claims_with(json!({"aud": "someone-else"})), "audience"),
        (claims_with(json!({"aud": null})), "audience"),
        (claims_with(json!({"azp": "evil-app"})), "change tracking"),
        (
            claims_with(json!({"azp": null, "appid": CHANGE_TRACKING_APP_ID})),
            "change tracking",
        ),
        // v1 names the caller in appid; azp alone does not count.
        (
            {
                let mut c = v1_claims();
                c["azp"] = json!(CHANGE_TRACKING_APP_ID);
                c.as_object_mut().unwrap().remove("appid");
                c
            },
            "change tracking",
        ),
        (
            claims_with(
                json!({"iss": format!("https://login.microsoftonline.com/{other_tenant}/v2.0")}),
            ),
            "issuer",
        ),
        (
            claims_with(json!({"iss": format!("https://sts.windows.net/{TENANT}/")})),
            "issuer",
        ),
        (claims_with(json!({"ver": "3.0"})), "ver"),
        (claims_with(json!({"tid": null})), "tid"),
        (claims_with(json!({"exp": now() - 3600})), "expired"),
        (claims_with(json!({"exp": null})), "claim exp"),
        (claims_with(json!({"nbf": now() + 3600})), "not valid yet"),
        (claims_with(json!({"exp": "tomorrow"})), "claim exp"),
        (claims_with(json!({"azp": 42})), "expected JSON"),
    ];
    for (claims, want) in cases {
        let err = validator
            .validate(&key1.sign_claims(&claims))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(want), "{claims}: {err}");
    }
}

#[tokio::test]
async fn small_clock_skew_is_tolerated() {
    let (_jwks, validator, key1) = setup().await;
    let skewed = claims_with(json!({"exp": now() - 60, "nbf": now() + 60}));
    assert_eq!(
        validator
            .validate(&key1.sign_claims(&skewed))
            .await
            .unwrap(),
        expected()
    );
}

#[tokio::test]
async fn only_rs256_is_accepted() {
    let (jwks, validator, key1) = setup().await;
    let payload = URL_SAFE_NO_PAD.encode(v2_claims(APP, TENANT, HOUR).to_string());
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"key1"}"#);
    let none = format!("{none_header}.{payload}.");
    let err = validator.validate(&none).await.unwrap_err();
    assert!(
        matches!(err, ValidationTokenError::UnsupportedAlgorithm(ref a) if a == "none"),
        "{err}"
    );

    // Classic confusion attack: HMAC keyed with the published public key.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("key1".into());
    let public: Value = serde_json::from_str(&key1.jwks_json()).unwrap();
    let secret = public["keys"][0]["n"].as_str().unwrap().as_bytes().to_vec();
    let forged = jsonwebtoken::encode(
        &header,
        &v2_claims(APP, TENANT, HOUR),
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap();
    let err = validator.validate(&forged).await.unwrap_err();
    assert!(
        matches!(err, ValidationTokenError::UnsupportedAlgorithm(ref a) if a == "HS256"),
        "{err}"
    );
    assert_eq!(jwks.hits(), 0, "a forged alg never costs a JWKS fetch");
}

#[tokio::test]
async fn signatures_must_come_from_the_published_key() {
    let (_jwks, validator, key1) = setup().await;
    // key2 pretending to be key1.
    let impostor = issuer(KEY2, "key1").validation_token(APP, TENANT, HOUR);
    let err = validator.validate(&impostor).await.unwrap_err();
    assert!(matches!(err, ValidationTokenError::BadSignature), "{err}");

    // A genuine signature over a different payload.
    let genuine = key1.validation_token(APP, TENANT, HOUR);
    let other = key1.sign_claims(&claims_with(json!({"tid": "x", "aud": "y"})));
    let g: Vec<&str> = genuine.split('.').collect();
    let o: Vec<&str> = other.split('.').collect();
    let spliced = format!("{}.{}.{}", g[0], o[1], g[2]);
    let err = validator.validate(&spliced).await.unwrap_err();
    assert!(matches!(err, ValidationTokenError::BadSignature), "{err}");
}

/// `exp` and `nbf` at the ends of the number line are read before the signature is checked: they
/// must not overflow (a panic, a 500 to whoever sent them) but get the answer the token earns. A
/// forged one is refused for its signature (401): `exp = i64::MAX` (never expires) and `nbf =
/// i64::MIN` (valid since ever) are neither expired nor not yet valid.
#[tokio::test]
async fn times_at_the_ends_of_the_number_line_get_a_401_not_a_panic() {
    let (_jwks, validator, key1) = setup().await;
    let impostor = issuer(KEY2, "key1");
    for times in [json!({"exp": i64::MAX}), json!({"nbf": i64::MIN})] {
        let forged = impostor.sign_claims(&claims_with(times.clone()));
        let err = validator.validate(&forged).await.unwrap_err();
        assert!(
            matches!(err, ValidationTokenError::BadSignature),
            "{times}: {err}"
        );
    }
    let never_valid = key1.sign_claims(&claims_with(json!({"nbf": i64::MAX})));
    let err = validator.validate(&never_valid).await.unwrap_err();
    assert!(matches!(err, ValidationTokenError::NotYetValid), "{err}");
}

#[tokio::test]
async fn garbage_is_malformed_without_panic_or_fetch() {
    let (jwks, validator, _key1) = setup().await;
    let long = "a".repeat(100_000);
    let garbage = [
        "abc",
        "a.b.c",
        "....",
        "..",
        "é.ü.ö",
        "\0.\0.\0",
        "eyJ.eyJ.eyJ",
        long.as_str(),
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", // RS256 but no kid
        "bnVsbA.e30.c2ln",               // header is JSON null
    ];
    for input in garbage {
        let err = validator.validate(input).await.unwrap_err();
        assert!(
            matches!(err, ValidationTokenError::Malformed(_)),
            "{input:.40}: {err}"
        );
    }
    for empty in ["", "   "] {
        assert!(matches!(
            validator.validate(empty).await,
            Err(ValidationTokenError::Missing)
        ));
    }
    assert_eq!(jwks.hits(), 0);
}

#[tokio::test]
async fn validate_all_needs_every_token_valid() {
    let (_jwks, validator, key1) = setup().await;
    let good = |tenant: &str| Some(key1.validation_token(APP, tenant, HOUR));
    let all = validator
        .validate_all(&[good(TENANT), good("t2")])
        .await
        .unwrap();
    let tenants: Vec<_> = all.iter().map(|v| v.tenant_id.as_str()).collect();
    assert_eq!(tenants, [TENANT, "t2"]);

    assert!(matches!(
        validator.validate_all(&[]).await,
        Err(ValidationTokenError::NoTokens)
    ));
    assert!(matches!(
        validator.validate_all(&[good(TENANT), None]).await,
        Err(ValidationTokenError::Missing)
    ));
    let wrong_aud = Some(key1.sign_claims(&claims_with(json!({"aud": "other"}))));
    assert!(matches!(
        validator
            .validate_all(&[good(TENANT), wrong_aud, good("t2")])
            .await,
        Err(ValidationTokenError::WrongAudience)
    ));
}

#[tokio::test]
async fn a_token_repeated_is_checked_once_and_too_many_tokens_are_refused_unchecked() {
    let (_jwks, validator, key1) = setup().await;
    let token = Some(key1.validation_token(APP, TENANT, HOUR));
    // One captured token sent 16 times vouches for one tenant, checked once.
    let repeated = vec![token.clone(); MAX_TOKENS_PER_COLLECTION];
    let vouched = validator.validate_all(&repeated).await.unwrap();
    assert_eq!(vouched.len(), 1);
    assert_eq!(vouched[0].tenant_id, TENANT);
    // Past the cap the collection is refused before any signature is looked at: even garbage
    // gives the same answer.
    let too_many = vec![token; MAX_TOKENS_PER_COLLECTION + 1];
    assert!(matches!(
        validator.validate_all(&too_many).await,
        Err(ValidationTokenError::TooMany(17))
    ));
    let garbage = vec![Some("x.y.z".to_string()); 1000];
    assert!(matches!(
        validator.validate_all(&garbage).await,
        Err(ValidationTokenError::TooMany(1000))
    ));
}
