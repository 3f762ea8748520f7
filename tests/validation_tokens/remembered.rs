//! A token verified once is remembered (Graph repeats it with every collection), but never
//! beyond what it says of itself, and only as the exact text that verified.

use super::key_rotation::{TestClock, validator_on};
use super::*;

#[tokio::test]
async fn a_remembered_token_still_expires() {
    let (jwks, _, key1) = setup().await;
    let clock = TestClock::default();
    let validator = validator_on(&jwks, &clock);
    let token = key1.validation_token(APP, TENANT, Duration::from_secs(60));
    assert_eq!(validator.validate(&token).await.unwrap(), expected());
    assert_eq!(validator.validate(&token).await.unwrap(), expected());
    // Past its expiry and the 5-minute leeway.
    clock.advance_minutes(7);
    let err = validator.validate(&token).await.unwrap_err();
    assert!(matches!(err, ValidationTokenError::Expired), "{err}");
}

#[tokio::test]
async fn a_remembered_token_with_another_signature_is_checked_anew() {
    let (_jwks, validator, key1) = setup().await;
    let token = key1.validation_token(APP, TENANT, HOUR);
    assert_eq!(validator.validate(&token).await.unwrap(), expected());
    // The same header and claims, signed by a key Graph never published.
    let forged_sig = issuer(KEY2, "key1").validation_token(APP, TENANT, HOUR);
    let parts: Vec<&str> = token.split('.').collect();
    let sig = forged_sig.rsplit('.').next().unwrap();
    let forged = format!("{}.{}.{sig}", parts[0], parts[1]);
    let err = validator.validate(&forged).await.unwrap_err();
    assert!(matches!(err, ValidationTokenError::BadSignature), "{err}");
    // The genuine one is still accepted.
    assert_eq!(validator.validate(&token).await.unwrap(), expected());
}
