//! When the JWKS is fetched: once per new kid, not hammered while down, ahead of time, shared.

use super::*;

#[tokio::test]
async fn unknown_kid_refetches_once_then_is_rate_limited() {
    let (jwks, validator, key1) = setup().await;
    let key2 = issuer(KEY2, "key2");
    validator
        .validate(&key1.validation_token(APP, TENANT, HOUR))
        .await
        .unwrap();
    assert_eq!(jwks.hits(), 1);

    // Microsoft rotates: the set now holds only key2.
    jwks.set_reply(Some(key2.jwks_json()));
    let rotated = key2.validation_token(APP, TENANT, HOUR);
    assert_eq!(validator.validate(&rotated).await.unwrap(), expected());
    assert_eq!(jwks.hits(), 2, "exactly one refetch for the new kid");
    validator.validate(&rotated).await.unwrap();

    // Within the interval, further unknown kids (and the retired key1) cost no fetch.
    for kid in ["forged-1", "forged-2", "key1"] {
        let pem = if kid == "key1" { KEY1 } else { KEY2 };
        let token = issuer(pem, kid).validation_token(APP, TENANT, HOUR);
        let err = validator.validate(&token).await.unwrap_err();
        assert!(
            matches!(err, ValidationTokenError::UnknownKey),
            "{kid}: {err}"
        );
    }
    assert_eq!(jwks.hits(), 2);
}

#[tokio::test]
async fn jwks_outage_is_reported_and_not_hammered() {
    let key1 = issuer(KEY1, "key1");
    let jwks = Jwks::start(None).await;
    let validator = jwks.validator(HOUR);
    let token = key1.validation_token(APP, TENANT, HOUR);
    for _ in 0..3 {
        let err = validator.validate(&token).await.unwrap_err();
        assert!(
            matches!(err, ValidationTokenError::JwksUnavailable(_)),
            "{err}"
        );
    }
    assert_eq!(jwks.hits(), 1, "retries wait for the back-off");

    // Nothing listening at all.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/keys", closed.local_addr().unwrap());
    drop(closed);
    let err = validator_for(&url, HOUR)
        .validate(&token)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ValidationTokenError::JwksUnavailable(_)),
        "{err}"
    );
}

/// A Lambda function's cold start fetches the keys while it reads its secrets: the first token
/// then needs no fetch of its own. A fetch ahead that failed is not held against that token,
/// which fetches for itself at once (no back-off wait).
#[tokio::test]
async fn keys_fetched_ahead_serve_the_first_token_and_a_failed_fetch_ahead_does_not_block_it() {
    let (jwks, validator, key1) = setup().await;
    validator.fetch_keys_ahead().await;
    assert_eq!(jwks.hits(), 1);
    validator.fetch_keys_ahead().await;
    assert_eq!(jwks.hits(), 1, "loaded keys are not fetched again");
    let token = key1.validation_token(APP, TENANT, HOUR);
    assert_eq!(validator.validate(&token).await.unwrap(), expected());
    assert_eq!(
        jwks.hits(),
        1,
        "the first token used the keys fetched ahead"
    );

    let down = Jwks::start(None).await;
    let validator = down.validator(HOUR);
    validator.fetch_keys_ahead().await;
    assert_eq!(down.hits(), 1);
    down.set_reply(Some(key1.jwks_json()));
    assert_eq!(validator.validate(&token).await.unwrap(), expected());
    assert_eq!(down.hits(), 2);
}

#[tokio::test]
async fn recovers_once_the_jwks_is_back() {
    let key1 = issuer(KEY1, "key1");
    let jwks = Jwks::start(Some("{\"keys\":[]}".into())).await;
    // No interval: every failure may be retried at once.
    let validator = jwks.validator(Duration::ZERO);
    let token = key1.validation_token(APP, TENANT, HOUR);
    let err = validator.validate(&token).await.unwrap_err();
    assert!(
        err.to_string().contains("no usable RSA signing keys"),
        "{err}"
    );
    jwks.set_reply(Some(key1.jwks_json()));
    assert_eq!(validator.validate(&token).await.unwrap(), expected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_validations_share_one_fetch() {
    let (jwks, validator, key1) = setup().await;
    // Hold the first JWKS request until all validations are under way.
    let held = jwks.gate.acquire_many(GATE_PERMITS).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let validator = validator.clone();
            let token = key1.validation_token(APP, &format!("tenant-{i}"), HOUR);
            tokio::spawn(async move { validator.validate(&token).await })
        })
        .collect();
    jwks.seen.notified().await;
    drop(held);
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(
            task.await.unwrap().unwrap().tenant_id,
            format!("tenant-{i}")
        );
    }
    assert_eq!(jwks.hits(), 1);
}
