//! One validation per section of the file (`[graph]`, `[connector]`, `[webhook]`,
//! `[server]`, `[speaking]`, `[accounts]`; `[store]` and `[subscriptions]` have files of their
//! own), so each setting's rule sits next to its neighbours and [`RawConfig::validate`] reads as
//! the list of sections. Each gives a `…Section`, named apart from the adapters'
//! `GraphSettings` and `ConnectorSettings` that are built from it.
//!
//! [`RawConfig::validate`]: super::RawConfig::validate

use super::check::{Check, secret, text};
use super::raw::{RawConnector, RawGraph, RawServer, RawSpeaking, RawWebhook};
use super::{
    ConfigError, DEFAULT_AUTHORITY_URL, DEFAULT_GRAPH_BASE_URL, DEFAULT_JWKS_URL,
    EncryptionKeyConfig, RawAccounts, SecretRef,
};
use std::net::SocketAddr;
use std::time::Duration;

pub(super) struct GraphSection {
    pub tenant_id: String,
    pub client_id: String,
    pub jwks_url: String,
    pub encryption_keys: Vec<EncryptionKeyConfig>,
    pub client_secret: Option<SecretRef>,
    pub authority_url: String,
    pub base_url: String,
}

pub(super) fn graph(raw: RawGraph, check: Check) -> Result<GraphSection, ConfigError> {
    let tenant_id = check.guid("graph.tenant_id", raw.tenant_id)?;
    let client_id = check.guid("graph.client_id", raw.client_id)?;
    let jwks_url = check.url(
        "graph.jwks_url",
        raw.jwks_url.unwrap_or_else(|| DEFAULT_JWKS_URL.to_string()),
    )?;
    let encryption_keys = encryption_keys(raw.encryption_keys, check)?;
    let authority_url = check.url(
        "graph.authority_url",
        raw.authority_url
            .unwrap_or_else(|| DEFAULT_AUTHORITY_URL.to_string()),
    )?;
    let base_url = check.url(
        "graph.base_url",
        raw.base_url
            .unwrap_or_else(|| DEFAULT_GRAPH_BASE_URL.to_string()),
    )?;
    Ok(GraphSection {
        tenant_id,
        client_id,
        jwks_url,
        encryption_keys,
        client_secret: secret(raw.client_secret.as_deref()),
        authority_url,
        base_url,
    })
}

fn encryption_keys(
    raw: Vec<super::raw::RawKey>,
    check: Check,
) -> Result<Vec<EncryptionKeyConfig>, ConfigError> {
    let path = "graph.encryption_keys";
    if raw.is_empty() {
        return Err(check.fail(
            path,
            "no encryption key configured: presence notifications are always encrypted",
        ));
    }
    let mut keys: Vec<EncryptionKeyConfig> = Vec::with_capacity(raw.len());
    for (i, k) in raw.into_iter().enumerate() {
        let id = text(k.id).filter(|s| s.len() <= 128).ok_or_else(|| {
            check.fail(
                path,
                format!(
                    "key #{} needs an `id` of 1 to 128 characters (the subscription's encryptionCertificateId)",
                    i + 1
                ),
            )
        })?;
        if keys.iter().any(|e| e.certificate_id == id) {
            return Err(check.fail(path, format!("key id {id:?} is configured twice")));
        }
        let private_key = secret(k.private_key.as_deref()).ok_or_else(|| {
            check.fail(
                path,
                format!(
                    "key {id:?} has no `private_key` (file:PATH, a Secrets Manager ARN or the PEM itself)"
                ),
            )
        })?;
        keys.push(EncryptionKeyConfig {
            certificate_id: id,
            private_key,
        });
    }
    Ok(keys)
}

pub(super) struct ConnectorSection {
    pub url: String,
    pub signing_secret: SecretRef,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub event_secrets: Vec<SecretRef>,
}

pub(super) fn connector(raw: RawConnector, check: Check) -> Result<ConnectorSection, ConfigError> {
    let url = check.url("connector.url", check.required("connector.url", raw.url)?)?;
    let signing_secret =
        SecretRef::parse(&check.required("connector.signing_secret", raw.signing_secret)?);
    let timeout_ms = check.within(
        "connector.timeout_ms",
        raw.timeout_ms,
        2_000,
        50..=30_000,
        "",
    )?;
    let max_attempts = check.within("connector.max_attempts", raw.max_attempts, 3, 1..=10, "")?;
    Ok(ConnectorSection {
        url,
        signing_secret,
        timeout: Duration::from_millis(timeout_ms),
        max_attempts,
        event_secrets: raw
            .event_secrets
            .iter()
            .filter_map(|s| secret(Some(s)))
            .collect(),
    })
}

/// Swyx → Teams (on when the connector signs events) writes presence with the app's own token.
pub(super) fn swyx_to_teams_needs_client_secret(
    graph: &GraphSection,
    connector: &ConnectorSection,
    check: Check,
) -> Result<(), ConfigError> {
    if !connector.event_secrets.is_empty() && graph.client_secret.is_none() {
        return Err(check.fail(
            "graph.client_secret",
            format!(
                "missing: Swyx → Teams ({} is set) writes presence with the app's own token",
                check.name("connector.event_secrets")
            ),
        ));
    }
    Ok(())
}

pub(super) struct WebhookSection {
    pub max_body_bytes: usize,
    pub time_budget: Duration,
}

pub(super) fn webhook(raw: RawWebhook, check: Check) -> Result<WebhookSection, ConfigError> {
    let max_body_bytes = check.within(
        "webhook.max_body_bytes",
        raw.max_body_bytes,
        1024 * 1024,
        1024..=6 * 1024 * 1024,
        " (Lambda's payload limit)",
    )?;
    let time_budget_ms = check.within(
        "webhook.time_budget_ms",
        raw.time_budget_ms,
        2_000,
        100..=2_800,
        ": Graph wants an answer within 3 s",
    )?;
    Ok(WebhookSection {
        max_body_bytes,
        time_budget: Duration::from_millis(time_budget_ms),
    })
}

pub(super) struct ServerSection {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    pub admin_token: Option<SecretRef>,
    pub maintenance_interval: Duration,
}

pub(super) fn server(raw: RawServer, check: Check) -> Result<ServerSection, ConfigError> {
    let listen_text = raw.listen.unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listen = listen_text.trim().parse::<SocketAddr>().map_err(|_| {
        check.fail(
            "server.listen",
            format!("{listen_text:?} is not an address like 127.0.0.1:8080"),
        )
    })?;
    let admin_listen = match raw.admin_listen {
        None => None,
        Some(text) => {
            let addr = text.trim().parse::<SocketAddr>().map_err(|_| {
                check.fail(
                    "server.admin_listen",
                    format!("{text:?} is not an address like 127.0.0.1:9090"),
                )
            })?;
            // Port 0 picks a free port for each: only a fixed port can collide.
            if addr == listen && addr.port() != 0 {
                return Err(check.fail(
                    "server.admin_listen",
                    format!("{addr} is server.listen too: give the admin routes another port"),
                ));
            }
            Some(addr)
        }
    };
    let admin_token = secret(raw.admin_token.as_deref());
    // The page shows every user's e-mail and state: never on the listener Graph reaches.
    if admin_token.is_some() && admin_listen.is_none() {
        return Err(check.fail(
            "server.admin_token",
            "the admin page is served on server.admin_listen only: set it too",
        ));
    }
    let maintenance_secs = check.within(
        "server.maintenance_interval_secs",
        raw.maintenance_interval_secs,
        10,
        1..=3600,
        "",
    )?;
    Ok(ServerSection {
        listen,
        admin_listen,
        admin_token,
        maintenance_interval: Duration::from_secs(maintenance_secs),
    })
}

pub(super) struct SpeakingSection {
    pub expiration: Duration,
    pub max_call: Duration,
}

pub(super) fn speaking(raw: RawSpeaking, check: Check) -> Result<SpeakingSection, ConfigError> {
    let expiration_minutes = check.within(
        "speaking.expiration_minutes",
        raw.expiration_minutes,
        5,
        5..=240,
        " (Graph's setPresence range)",
    )?;
    let max_call_minutes = check.within(
        "speaking.max_call_minutes",
        raw.max_call_minutes,
        240,
        1..=24 * 60,
        "",
    )?;
    Ok(SpeakingSection {
        expiration: Duration::from_secs(expiration_minutes * 60),
        max_call: Duration::from_secs(max_call_minutes * 60),
    })
}

/// The "In a call" session is renewed by a maintenance pass once less than half its life is left
/// (`SpeakingSettings::keep_alive_margin_ms`); passes that far apart let it lapse mid-call.
pub(super) fn maintenance_renews_in_time(
    server: &ServerSection,
    speaking: &SpeakingSection,
    check: Check,
) -> Result<(), ConfigError> {
    let half = speaking.expiration / 2;
    if server.maintenance_interval < half {
        return Ok(());
    }
    Err(check.fail(
        "server.maintenance_interval_secs",
        format!(
            "{} s must be below half of {} ({} s): the \"In a call\" session is renewed once half \
             its life is left, so passes this far apart let it lapse mid-call; lower this or \
             raise {}",
            server.maintenance_interval.as_secs(),
            check.name("speaking.expiration_minutes"),
            half.as_secs(),
            check.name("speaking.expiration_minutes"),
        ),
    ))
}

/// The key that seals the sync accounts' refresh tokens, if configured.
pub(super) fn accounts(raw: RawAccounts) -> Option<SecretRef> {
    secret(raw.token_key.as_deref())
}
