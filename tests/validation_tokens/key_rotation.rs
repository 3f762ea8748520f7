//! Signing-key rotation against strangers: a forged `kid` must not keep a genuine new key out.
//! The validator runs on a clock the tests move, so an hour passes at once.

use super::*;
use presence_bridge::domain::{Clock, Timestamp};
use std::sync::atomic::AtomicI64;

const MIN: i64 = 60_000;

/// Wall-clock time plus an offset the test moves.
#[derive(Clone, Default)]
pub(super) struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn clock(&self) -> Clock {
        let offset = Arc::clone(&self.0);
        Clock::from_fn(move || Timestamp(Timestamp::now().0 + offset.load(Ordering::SeqCst)))
    }

    pub(super) fn advance_minutes(&self, minutes: i64) {
        self.0.fetch_add(minutes * MIN, Ordering::SeqCst);
    }
}

/// Our validator (tenant known) on `clock`, refetching for unknown kids at most every 5 minutes
/// and reading the keys anew every hour.
pub(super) fn validator_on(jwks: &Jwks, clock: &TestClock) -> TokenValidator {
    let settings = TokenSettings {
        jwks_url: jwks.url.clone(),
        app_id: APP.to_owned(),
        tenant_id: Some(TENANT.to_owned()),
        clock: clock.clock(),
        ..TokenSettings::default()
    };
    TokenValidator::new(
        settings,
        reqwest::Client::builder().no_proxy().build().unwrap(),
    )
}

/// Tokens that live long enough for the hours these tests move the clock.
const LIFE: Duration = Duration::from_secs(6 * 3600);

/// Waits (event-driven, with a deadline) until the JWKS endpoint has been asked `n` times.
async fn wait_for_hits(jwks: &Jwks, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while jwks.hits() < n {
        let seen = jwks.seen.notified();
        if jwks.hits() >= n {
            break;
        }
        tokio::time::timeout_at(deadline, seen)
            .await
            .unwrap_or_else(|_| {
                panic!("the JWKS endpoint was asked {} times, not {n}", jwks.hits())
            });
    }
}

#[tokio::test]
async fn a_forged_kid_whose_claims_are_not_for_us_costs_no_fetch() {
    let key1 = issuer(KEY1, "key1");
    let jwks = Jwks::start(Some(key1.jwks_json())).await;
    let clock = TestClock::default();
    let validator = validator_on(&jwks, &clock);
    validator
        .validate(&key1.validation_token(APP, TENANT, LIFE))
        .await
        .unwrap();
    assert_eq!(jwks.hits(), 1);

    let forger = issuer(KEY2, "forged");
    let other_tenant = "99999999-0000-0000-0000-000000000000";
    let forged = [
        (claims_with(json!({"aud": "someone-else"})), "audience"),
        (claims_with(json!({"azp": "evil-app"})), "change tracking"),
        (
            claims_with(json!({"iss": format!("https://sts.windows.net/{TENANT}/")})),
            "issuer",
        ),
        (claims_with(json!({"exp": now() - 3600})), "expired"),
        (
            claims_with(json!({
                "tid": other_tenant,
                "iss": format!("https://login.microsoftonline.com/{other_tenant}/v2.0"),
            })),
            "another tenant",
        ),
    ];
    for (claims, why) in forged {
        let err = validator
            .validate(&forger.sign_claims(&claims))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{why}: {err}");
    }
    assert_eq!(jwks.hits(), 1, "none of them cost a fetch");

    // Microsoft rotates at once: the genuine new key still gets its refetch.
    let key2 = issuer(KEY2, "key2");
    jwks.set_reply(Some(key2.jwks_json()));
    let rotated = key2.validation_token(APP, TENANT, LIFE);
    assert_eq!(validator.validate(&rotated).await.unwrap(), expected());
    assert_eq!(jwks.hits(), 2);
}

/// A stranger spends the unknown-kid refetch just before Microsoft publishes its next key and
/// starts signing with it two minutes later. The hourly schedule, which no refetch moves, still
/// brings the key in time.
#[tokio::test]
async fn a_forged_kid_does_not_keep_a_genuine_rotation_out() {
    let key1 = issuer(KEY1, "key1");
    let jwks = Jwks::start(Some(key1.jwks_json())).await;
    let clock = TestClock::default();
    let validator = validator_on(&jwks, &clock);
    validator
        .validate(&key1.validation_token(APP, TENANT, LIFE))
        .await
        .unwrap();

    clock.advance_minutes(59);
    // Claims that look right: the refetch is spent (and finds nothing new).
    let forged = issuer(KEY2, "forged").validation_token(APP, TENANT, LIFE);
    assert!(matches!(
        validator.validate(&forged).await,
        Err(ValidationTokenError::UnknownKey)
    ));
    assert_eq!(jwks.hits(), 2);

    let key2 = issuer(KEY2, "key2");
    let both = format!(
        "{{\"keys\":[{},{}]}}",
        first_key(&key1.jwks_json()),
        first_key(&key2.jwks_json())
    );
    jwks.set_reply(Some(both));
    clock.advance_minutes(2);
    let rotated = key2.validation_token(APP, TENANT, LIFE);
    assert_eq!(validator.validate(&rotated).await.unwrap(), expected());
    assert_eq!(jwks.hits(), 3, "the scheduled fetch, not a refetch");
    // The old key keeps working while Microsoft still lists it.
    validator
        .validate(&key1.validation_token(APP, TENANT, LIFE))
        .await
        .unwrap();
}

/// After an hour the keys are read again in the background while tokens of a known key pass:
/// a key published an hour ahead is known before its first token arrives.
#[tokio::test]
async fn the_keys_are_read_again_every_hour_without_holding_a_token_up() {
    let key1 = issuer(KEY1, "key1");
    let key2 = issuer(KEY2, "key2");
    let jwks = Jwks::start(Some(key1.jwks_json())).await;
    let clock = TestClock::default();
    let validator = validator_on(&jwks, &clock);
    let token1 = key1.validation_token(APP, TENANT, LIFE);
    validator.validate(&token1).await.unwrap();
    clock.advance_minutes(30);
    validator.validate(&token1).await.unwrap();
    assert_eq!(jwks.hits(), 1, "not due yet");

    jwks.set_reply(Some(format!(
        "{{\"keys\":[{},{}]}}",
        first_key(&key1.jwks_json()),
        first_key(&key2.jwks_json())
    )));
    clock.advance_minutes(31);
    // Held at the endpoint: the token of a known key passes anyway.
    let held = jwks.gate.acquire_many(GATE_PERMITS).await.unwrap();
    validator.validate(&token1).await.unwrap();
    validator.validate(&token1).await.unwrap();
    wait_for_hits(&jwks, 2).await;
    drop(held);

    // A token of the new key waits for the scheduled fetch under way and needs no refetch.
    let rotated = key2.validation_token(APP, TENANT, LIFE);
    assert_eq!(validator.validate(&rotated).await.unwrap(), expected());
    assert_eq!(jwks.hits(), 2, "one scheduled fetch, no refetch");

    // The endpoint goes away; the new key is known already.
    jwks.set_reply(None);
    assert_eq!(validator.validate(&rotated).await.unwrap(), expected());
    assert_eq!(jwks.hits(), 2);
}

fn first_key(jwks_json: &str) -> String {
    let doc: Value = serde_json::from_str(jwks_json).unwrap();
    doc["keys"][0].to_string()
}
