use super::*;
use claims::Audience;

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

#[test]
fn header_must_be_rs256_with_kid() {
    let tok = |h: &str| format!("{}.{}.sig", b64(h), b64("{}"));
    assert_eq!(
        check_header(&tok(r#"{"alg":"RS256","kid":"k1"}"#)).unwrap(),
        "k1"
    );
    for (header, want) in [
        (r#"{"alg":"none","kid":"k1"}"#, "unsupported algorithm none"),
        (
            r#"{"alg":"HS256","kid":"k1"}"#,
            "unsupported algorithm HS256",
        ),
        (r#"{"alg":"RS256\n\u001b[31m","kid":"k1"}"#, "(unprintable)"),
        (r#"{"kid":"k1"}"#, "has no alg"),
        (r#"{"alg":"RS256"}"#, "has no kid"),
        (r#"{"alg":"RS256","kid":""}"#, "has no kid"),
        (r#"[1,2]"#, "not a JSON object"),
    ] {
        let err = check_header(&tok(header)).unwrap_err();
        assert!(err.to_string().contains(want), "{header}: {err}");
    }
}

#[test]
fn malformed_shapes_are_named_without_echoing_input() {
    let secretish = "eyJzZWNyZXQiOiJ0b3Atc2VjcmV0In0";
    for (token, want) in [
        (secretish.to_string(), "three dot-separated parts"),
        (format!("{secretish}.a.b.c"), "three dot-separated parts"),
        (format!("!!{secretish}.a.b"), "not base64url"),
        (
            "x".repeat(MAX_TOKEN_BYTES + 1),
            "longer than any real token",
        ),
    ] {
        let err = check_header(&token).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(want), "{msg}");
        assert!(!msg.contains(secretish), "{msg}");
    }
}

fn claims(ver: &str, iss: &str, azp: Option<&str>, appid: Option<&str>) -> Claims {
    Claims {
        ver: Some(ver.into()),
        tid: Some("t1".into()),
        iss: Some(iss.into()),
        azp: azp.map(Into::into),
        appid: appid.map(Into::into),
        aud: Some(Audience::One("me".into())),
        exp: None,
        nbf: None,
    }
}

const GLOBAL: &str = crate::config::DEFAULT_AUTHORITY_URL;

#[test]
fn caller_and_issuer_follow_the_token_version() {
    let v2_iss = "https://login.microsoftonline.com/t1/v2.0";
    let v1_iss = "https://sts.windows.net/t1/";
    let ok = check_caller_and_issuer(
        &claims("2.0", v2_iss, Some(CHANGE_TRACKING_APP_ID), None),
        "me",
        GLOBAL,
    )
    .unwrap();
    assert_eq!(ok.tenant_id, "t1");
    assert_eq!(ok.app_id, "me");
    assert!(
        check_caller_and_issuer(
            &claims("1.0", v1_iss, None, Some(CHANGE_TRACKING_APP_ID)),
            "me",
            GLOBAL
        )
        .is_ok()
    );
    // v1 must use appid, not azp; v2 must use azp, not appid.
    assert!(matches!(
        check_caller_and_issuer(
            &claims("1.0", v1_iss, Some(CHANGE_TRACKING_APP_ID), None),
            "me",
            GLOBAL
        ),
        Err(ValidationTokenError::WrongPublisher)
    ));
    assert!(matches!(
        check_caller_and_issuer(
            &claims("2.0", v2_iss, None, Some(CHANGE_TRACKING_APP_ID)),
            "me",
            GLOBAL
        ),
        Err(ValidationTokenError::WrongPublisher)
    ));
    assert!(matches!(
        check_caller_and_issuer(
            &claims("2.0", v1_iss, Some(CHANGE_TRACKING_APP_ID), None),
            "me",
            GLOBAL
        ),
        Err(ValidationTokenError::WrongIssuer)
    ));
    assert!(matches!(
        check_caller_and_issuer(
            &claims("3.0", v2_iss, Some(CHANGE_TRACKING_APP_ID), None),
            "me",
            GLOBAL
        ),
        Err(ValidationTokenError::Malformed(_))
    ));
}

#[test]
fn a_national_clouds_issuer_follows_the_configured_authority() {
    let us = "https://login.microsoftonline.us/";
    let us_iss = "https://login.microsoftonline.us/t1/v2.0";
    let v2 = |iss| claims("2.0", iss, Some(CHANGE_TRACKING_APP_ID), None);
    assert!(check_caller_and_issuer(&v2(us_iss), "me", us).is_ok());
    // The global service's documented issuer stays valid; another cloud's is not.
    assert!(
        check_caller_and_issuer(&v2("https://login.microsoftonline.com/t1/v2.0"), "me", us).is_ok()
    );
    assert!(matches!(
        check_caller_and_issuer(&v2(us_iss), "me", GLOBAL),
        Err(ValidationTokenError::WrongIssuer)
    ));
    // Still bound to the tenant.
    assert!(matches!(
        check_caller_and_issuer(&v2("https://login.microsoftonline.us/t2/v2.0"), "me", us),
        Err(ValidationTokenError::WrongIssuer)
    ));
}

#[tokio::test]
async fn empty_app_id_is_a_config_error_not_a_pass() {
    let validator = TokenValidator::new(TokenSettings::default(), reqwest::Client::new());
    let err = validator.validate("a.b.c").await.unwrap_err();
    assert!(matches!(err, ValidationTokenError::Config(_)), "{err}");
}

#[test]
fn default_settings_follow_the_brief() {
    let s = TokenSettings::default();
    assert_eq!(s.leeway, Duration::from_secs(300));
    assert_eq!(s.min_refresh_interval, Duration::from_secs(300));
    assert!(s.jwks_url.starts_with("https://login.microsoftonline.com/"));
}
