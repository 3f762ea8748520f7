//! `[subscriptions]` and `[accounts]`: what subscription maintenance needs — where Graph sends
//! notifications, the certificate it encrypts with, the key that seals the sync accounts'
//! refresh tokens, and the renewal, reconciliation and sharding knobs.

use super::check::{Check, text};
use super::{ConfigError, SecretRef};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubscriptions {
    /// The public URL of `/graph/notifications` (Function URL or reverse proxy).
    pub notification_url: Option<String>,
    /// The public URL of `/graph/lifecycle`; default: `notification_url`.
    pub lifecycle_url: Option<String>,
    /// The public certificate Graph encrypts with: `file:PATH` (PEM or DER), an ARN, or PEM text.
    pub certificate: Option<String>,
    /// Its id; one of `graph.encryption_keys` must have it.
    pub certificate_id: Option<String>,
    pub renew_margin_minutes: Option<u64>,
    pub reconcile_interval_minutes: Option<u64>,
    pub users_per_account: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccounts {
    /// Seals refresh tokens at rest: `file:PATH`, an ARN, or the base64 key itself.
    pub token_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionsConfig {
    pub notification_url: String,
    pub lifecycle_url: String,
    pub certificate: SecretRef,
    pub certificate_id: String,
    /// Renew when less than this is left (Graph grants 45–60 minutes).
    pub renew_margin: Duration,
    /// Every account's users are read in bulk and repaired at least this often.
    pub reconcile_interval: Duration,
    /// At most 650 (Graph); less leaves room for growth without a new account.
    pub users_per_account: usize,
}

pub(super) const NAMES: &[(&str, &str)] = &[
    (
        "subscriptions.notification_url",
        "SUBSCRIPTIONS_NOTIFICATION_URL",
    ),
    ("subscriptions.lifecycle_url", "SUBSCRIPTIONS_LIFECYCLE_URL"),
    ("subscriptions.certificate", "SUBSCRIPTIONS_CERTIFICATE"),
    (
        "subscriptions.certificate_id",
        "SUBSCRIPTIONS_CERTIFICATE_ID",
    ),
    (
        "subscriptions.renew_margin_minutes",
        "SUBSCRIPTIONS_RENEW_MARGIN_MINUTES",
    ),
    (
        "subscriptions.reconcile_interval_minutes",
        "SUBSCRIPTIONS_RECONCILE_INTERVAL_MINUTES",
    ),
    (
        "subscriptions.users_per_account",
        "SUBSCRIPTIONS_USERS_PER_ACCOUNT",
    ),
    ("accounts.token_key", "ACCOUNTS_TOKEN_KEY"),
];

pub(super) fn raw_from_env(
    var: &dyn Fn(&str) -> Option<String>,
    num: &dyn Fn(&str) -> Result<Option<u64>, ConfigError>,
) -> Result<(RawSubscriptions, RawAccounts), ConfigError> {
    Ok((
        RawSubscriptions {
            notification_url: var("subscriptions.notification_url"),
            lifecycle_url: var("subscriptions.lifecycle_url"),
            certificate: var("subscriptions.certificate"),
            certificate_id: var("subscriptions.certificate_id"),
            renew_margin_minutes: num("subscriptions.renew_margin_minutes")?,
            reconcile_interval_minutes: num("subscriptions.reconcile_interval_minutes")?,
            users_per_account: num("subscriptions.users_per_account")?,
        },
        RawAccounts {
            token_key: var("accounts.token_key"),
        },
    ))
}

/// `None` when no notification URL is set: the deployment does not maintain subscriptions.
pub(super) fn validate(
    raw: RawSubscriptions,
    check: Check,
    key_ids: &[&str],
    has_client_secret: bool,
    has_token_key: bool,
) -> Result<Option<SubscriptionsConfig>, ConfigError> {
    let Some(notification_url) = text(raw.notification_url) else {
        return Ok(None);
    };
    // Graph delivers only to https (plain http to a loopback host is kept for the sandbox and
    // local tests, as for the outbound URLs); a query would be sent back on every delivery.
    let public_url = |path: &str, v: String| -> Result<String, ConfigError> {
        let v = check.url(path, v)?;
        match reqwest::Url::parse(&v) {
            Ok(u) if u.query().is_none() => Ok(v),
            _ => Err(check.fail(path, format!("{v:?} is not an https URL without a query"))),
        }
    };
    let notification_url = public_url("subscriptions.notification_url", notification_url)?;
    let lifecycle_url = match text(raw.lifecycle_url) {
        Some(v) => public_url("subscriptions.lifecycle_url", v)?,
        None => notification_url.clone(),
    };
    let certificate = text(raw.certificate)
        .map(|s| SecretRef::parse(&s))
        .ok_or_else(|| {
            check.fail(
                "subscriptions.certificate",
                "missing: Graph needs the public certificate to encrypt notifications with",
            )
        })?;
    let certificate_id = text(raw.certificate_id).ok_or_else(|| {
        check.fail(
            "subscriptions.certificate_id",
            "missing (the id of the certificate, as in graph.encryption_keys)",
        )
    })?;
    if !key_ids.contains(&certificate_id.as_str()) {
        return Err(check.fail(
            "subscriptions.certificate_id",
            format!(
                "{certificate_id:?} has no private key in graph.encryption_keys (configured: {}); notifications could not be decrypted",
                key_ids.join(", ")
            ),
        ));
    }
    if !has_client_secret {
        return Err(check.fail(
            "graph.client_secret",
            "missing: reconciliation reads presence with the app's own token",
        ));
    }
    if !has_token_key {
        return Err(check.fail(
            "accounts.token_key",
            "missing: the sync accounts' refresh tokens are sealed with it",
        ));
    }
    let renew_margin_minutes = check.within(
        "subscriptions.renew_margin_minutes",
        raw.renew_margin_minutes,
        20,
        2..=40,
        "",
    )?;
    let reconcile_interval_minutes = check.within(
        "subscriptions.reconcile_interval_minutes",
        raw.reconcile_interval_minutes,
        60,
        1..=1440,
        "",
    )?;
    let users_per_account = check.within(
        "subscriptions.users_per_account",
        raw.users_per_account,
        650,
        1..=650,
        " (Graph's limit per subscription)",
    )?;
    Ok(Some(SubscriptionsConfig {
        notification_url,
        lifecycle_url,
        certificate,
        certificate_id,
        renew_margin: Duration::from_secs(renew_margin_minutes * 60),
        reconcile_interval: Duration::from_secs(reconcile_interval_minutes * 60),
        users_per_account: users_per_account as usize,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    fn file() -> Check {
        Check::new(Origin::File)
    }

    fn raw() -> RawSubscriptions {
        RawSubscriptions {
            notification_url: Some("https://bridge.example/graph/notifications".into()),
            certificate: Some("file:/etc/pb/notify.cer".into()),
            certificate_id: Some("cert-2".into()),
            ..Default::default()
        }
    }

    #[test]
    fn off_without_a_notification_url_and_defaults_with_one() {
        let none = validate(RawSubscriptions::default(), file(), &[], false, false);
        assert!(matches!(none, Ok(None)), "{none:?}");
        let cfg = validate(raw(), file(), &["cert-2"], true, true)
            .unwrap()
            .unwrap();
        assert_eq!(cfg.lifecycle_url, cfg.notification_url);
        assert_eq!(cfg.users_per_account, 650);
        assert_eq!(cfg.renew_margin, Duration::from_secs(20 * 60));
    }

    #[test]
    fn each_missing_or_bad_piece_is_named() {
        let env = Check::new(Origin::Env);
        let e = validate(raw(), file(), &["cert-1"], true, true).unwrap_err();
        assert_eq!(e.setting(), "subscriptions.certificate_id");
        assert!(e.to_string().contains("no private key"), "{e}");
        let e = validate(raw(), env, &["cert-2"], false, true).unwrap_err();
        assert_eq!(e.setting(), "GRAPH_CLIENT_SECRET");
        let e = validate(raw(), env, &["cert-2"], true, false).unwrap_err();
        assert_eq!(e.setting(), "ACCOUNTS_TOKEN_KEY");
        let mut r = raw();
        r.users_per_account = Some(651);
        let e = validate(r, file(), &["cert-2"], true, true).unwrap_err();
        assert!(e.to_string().contains("650"), "{e}");
        let mut r = raw();
        r.notification_url = Some("https://bridge.example/n?x=1".into());
        let e = validate(r, file(), &["cert-2"], true, true).unwrap_err();
        assert_eq!(e.setting(), "subscriptions.notification_url");
    }

    #[test]
    fn notification_urls_must_be_https_except_to_a_loopback_host() {
        let with = |notification: &str, lifecycle: Option<&str>| {
            let mut r = raw();
            r.notification_url = Some(notification.into());
            r.lifecycle_url = lifecycle.map(Into::into);
            validate(r, file(), &["cert-2"], true, true)
        };
        for http in ["http://bridge.example/n", "http://10.0.0.5/n"] {
            let e = with(http, None).unwrap_err();
            assert_eq!(e.setting(), "subscriptions.notification_url", "{http}");
            assert!(e.to_string().contains("must be https"), "{e}");
            let e = with("https://bridge.example/n", Some(http)).unwrap_err();
            assert_eq!(e.setting(), "subscriptions.lifecycle_url", "{http}");
        }
        for loopback in [
            "http://127.0.0.1:8080/n",
            "http://localhost/n",
            "http://[::1]/n",
        ] {
            let cfg = with(loopback, Some(loopback)).unwrap().unwrap();
            assert_eq!(cfg.notification_url, loopback);
        }
    }
}
