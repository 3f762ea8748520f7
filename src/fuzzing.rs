//! Entry points for the fuzz targets (`fuzz/`, cargo-fuzz): each hands outside input to the very
//! functions production hands it to, nothing copied, and checks what must hold whatever the input
//! (an `assert!` here is a finding: the targets abort on it). Not part of the bridge's API.

use crate::domain::{Clock, MappingRules, Timestamp};
use crate::graph::client::{GraphClient, GraphSettings};
use crate::graph::crypto::NotificationKeys;
use crate::graph::delegated::device_code;
use crate::graph::directory::{members_page, users_page};
use crate::graph::entra::{MAX_TOKEN_LIFE, OAuthError, TokenAnswer};
use crate::graph::notification::{ChangeNotificationCollection, LifecycleEvent};
use crate::graph::subscriptions::{presences, subscription, subscription_list};
use crate::graph::token::ClientSecret;
use crate::graph::validation_token::{TokenSettings, TokenValidator, ValidatedToken};
use crate::outbound::Answer;
use crate::store::SubscriptionRecord;
use crate::teams_to_swyx::authenticate::{Authentic, authenticate, vouched_tenants};
use crate::teams_to_swyx::intake::{MAX_ITEMS_PER_COLLECTION, parse_collection};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// No fetch of the signing keys is ever due within a fuzzing run.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The Graph webhook's view of the world: our app and tenant, the signing keys of validation
/// tokens, the notification decryption keys and the subscriptions the store would hold. Time
/// stands still at `now`, so a token signed once for the corpus stays valid.
pub struct Webhook {
    runtime: tokio::runtime::Runtime,
    validator: TokenValidator,
    keys: NotificationKeys,
    known: HashMap<String, SubscriptionRecord>,
    tenant_id: String,
    app_id: String,
}

/// What the webhook context is made of (see [`Webhook`]).
pub struct WebhookSetup<'a> {
    pub app_id: &'a str,
    pub tenant_id: &'a str,
    pub now: Timestamp,
    /// A JSON Web Key Set with the validation tokens' signing keys.
    pub jwks: &'a [u8],
    /// `(encryptionCertificateId, private key PEM)`.
    pub decryption_keys: &'a [(&'a str, &'a [u8])],
    /// `(subscriptionId, clientState)`.
    pub subscriptions: &'a [(&'a str, &'a str)],
}

impl Webhook {
    /// Panics on a bad setup: the fuzz target's own fixtures, not fuzzed input.
    pub fn new(setup: &WebhookSetup<'_>) -> Self {
        let now = setup.now;
        let settings = TokenSettings {
            jwks_url: "http://127.0.0.1:9/never-fetched".into(),
            app_id: setup.app_id.into(),
            tenant_id: Some(setup.tenant_id.into()),
            min_refresh_interval: NEVER,
            refresh_every: NEVER,
            clock: Clock::from_fn(move || now),
            ..TokenSettings::default()
        };
        let validator =
            TokenValidator::with_key_set(settings, setup.jwks).expect("fixture JWKS is usable");
        let mut keys = NotificationKeys::new();
        for (id, pem) in setup.decryption_keys {
            keys.add_pem(Some(*id), pem).expect("fixture key is usable");
        }
        let known = setup
            .subscriptions
            .iter()
            .map(|(id, client_state)| {
                let record = SubscriptionRecord {
                    id: (*id).into(),
                    client_state: (*client_state).into(),
                    expires_at: now.plus_millis(3_600_000),
                    account: None,
                    resource: String::new(),
                    encryption_certificate_id: None,
                    renewed_at: None,
                };
                ((*id).to_string(), record)
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
        Self {
            runtime,
            validator,
            keys,
            known,
            tenant_id: setup.tenant_id.into(),
            app_id: setup.app_id.into(),
        }
    }

    /// A POSTed body as the webhook reads it: parse (two passes, item cap), the validation tokens
    /// before any item, then each item's authenticity checks and decryption. Returns the items
    /// accepted, or `None` when the collection is refused whole.
    pub fn notification_collection(&self, body: &[u8]) -> Option<usize> {
        let collection: ChangeNotificationCollection = parse_collection(body).ok()?;
        assert!(collection.value.len() <= MAX_ITEMS_PER_COLLECTION);
        let vouched = self
            .runtime
            .block_on(vouched_tenants(&self.validator, &collection))
            .ok()?;
        let mut accepted = 0;
        for item in &collection.value {
            match authenticate(item, &self.known, &self.tenant_id, &vouched, &self.keys) {
                Ok(Authentic::Presence(resource)) => {
                    // Checked against resourceData.id whenever Graph sent one.
                    if let Some(outer) = item.resource_data.as_ref().and_then(|r| r.id.as_deref()) {
                        assert!(outer.eq_ignore_ascii_case(&resource.id));
                    }
                    let _ = default_rules().map(&resource.to_presence());
                    accepted += 1;
                }
                Ok(Authentic::Lifecycle {
                    subscription_id,
                    event,
                }) => {
                    assert!(self.known.contains_key(subscription_id));
                    assert_eq!(LifecycleEvent::parse(event.name()), Some(event));
                    accepted += 1;
                }
                Err(e) => {
                    // Counted by reason in the metrics and the summary line.
                    let _ = (e.drop_reason(), e.reason());
                }
            }
        }
        Some(accepted)
    }

    /// One validation token as the collection's are checked.
    pub fn validation_token(&self, token: &str) -> Option<ValidatedToken> {
        let valid = self.runtime.block_on(self.validator.validate(token)).ok()?;
        assert_eq!(valid.app_id, self.app_id);
        assert!(valid.tenant_id.eq_ignore_ascii_case(&self.tenant_id));
        Some(valid)
    }
}

/// A Graph or Entra answer, the parser chosen by `kind` (any byte: modulo the number of parsers).
pub fn graph_answer(kind: u8, body: &[u8]) {
    match kind % 8 {
        0 => {
            // create, renew, get subscription
            if let Ok(s) = subscription(body) {
                // renewals are planned from it and it is stored as text
                let _ = s.info.expires_at.to_rfc3339();
            }
        }
        1 => {
            let _ = subscription_list(body);
        }
        2 => {
            if let Ok(list) = presences(body) {
                for p in &list {
                    let _ = default_rules().map(&p.to_presence());
                }
            }
        }
        3 => {
            if let Ok((_, Some(link))) = users_page(body) {
                follow(&link);
            }
        }
        4 => {
            if let Ok((_, Some(link))) = members_page(body) {
                follow(&link);
            }
        }
        5 => {
            // app-only and delegated token answers
            if let Ok((token, _, life)) = TokenAnswer::parse(body) {
                assert!(!token.is_empty());
                assert!(life <= MAX_TOKEN_LIFE);
                assert!(Instant::now().checked_add(life).is_some());
            }
        }
        6 => {
            if let Ok((prompt, code)) = device_code(body) {
                assert!(Instant::now().checked_add(prompt.expires_in).is_some());
                assert!(code.interval <= Duration::from_secs(3600));
            }
        }
        _ => {
            // Entra's and Graph's error answers, as they end up in messages
            let err = OAuthError::parse(body);
            let _ = (err.code(), err.summary());
            let answer = Answer {
                status: http::StatusCode::BAD_REQUEST,
                headers: http::HeaderMap::new(),
                body: bytes::Bytes::copy_from_slice(body),
            };
            let message = crate::graph::client::error_message(&answer);
            assert!(!message.is_empty());
        }
    }
}

/// The built-in rules, read once.
fn default_rules() -> &'static MappingRules {
    static RULES: OnceLock<MappingRules> = OnceLock::new();
    RULES.get_or_init(MappingRules::default)
}

/// A next link is followed only under the Graph root, and then as a path.
fn follow(link: &str) {
    thread_local! {
        static CLIENT: GraphClient = GraphClient::new(
            GraphSettings::new(
                "https://graph.microsoft.com/v1.0/",
                "https://login.microsoftonline.com",
                "t",
                "c",
                ClientSecret::new("s"),
            ),
            reqwest::Client::new(),
        );
    }
    CLIENT.with(|client| {
        if let Ok(path) = client.relative(link) {
            assert!(path.starts_with('/'));
            assert!(link.starts_with("https://graph.microsoft.com/v1.0/"));
        }
    });
}

/// A Swyx event body as `POST /swyx/events` reads it after the signature check.
pub fn swyx_event(body: &[u8]) {
    use crate::swyx::wire::{ParsedEvent, rfc3339_from_millis, unix_ms_from_rfc3339};
    let Ok(ParsedEvent::Known(event)) = crate::swyx_to_teams::intake::parse_event(body) else {
        return;
    };
    assert!(!event.swyx_user_id.trim().is_empty());
    // What the connector would send for it reads back the same (where its time has an RFC 3339
    // form in UTC: an offset may move a year-0 time out of the format's range).
    if unix_ms_from_rfc3339(&rfc3339_from_millis(event.at_unix_ms)) != Some(event.at_unix_ms) {
        return;
    }
    let again = serde_json::to_vec(&event.to_wire()).expect("an event serialises");
    let reread = crate::swyx_to_teams::intake::parse_event(&again).expect("its own JSON parses");
    assert_eq!(reread, ParsedEvent::Known(event));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz targets' context (fuzz/fuzz_targets/common/mod.rs) over the committed seeds.
    fn fuzz_file(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/fuzz/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn webhook() -> Webhook {
        let jwks = fuzz_file("fixtures/jwks.json");
        let key = fuzz_file("../tests/fixtures/crypto/key2048.pkcs8.pem");
        let ids: Vec<String> = (0..5)
            .map(|i| format!("5f0e2c1a-0000-4000-8000-00204800000{i}"))
            .collect();
        let subscriptions: Vec<(&str, &str)> = ids
            .iter()
            .map(|id| (id.as_str(), "vector-client-state"))
            .collect();
        Webhook::new(&WebhookSetup {
            app_id: "8e1f5b2a-0000-4000-8000-00000000f022",
            tenant_id: "a1b2c3d4-0000-4000-8000-00000000aaaa",
            now: Timestamp(1_789_376_400_000),
            jwks: &jwks,
            decryption_keys: &[("vector-cert-2048", &key)],
            subscriptions: &subscriptions,
        })
    }

    #[test]
    fn the_fuzz_seeds_reach_decryption_and_a_forged_token_does_not() {
        let webhook = webhook();
        // Four good vectors decrypt; the fifth is tampered with and dropped.
        let seed = fuzz_file("seeds/notification_collection/fixture-2048");
        assert_eq!(webhook.notification_collection(&seed), Some(4));
        let token = String::from_utf8(fuzz_file("seeds/validation_token/v2")).unwrap();
        assert!(webhook.validation_token(&token).is_some());
        let last = if token.ends_with('A') { "B" } else { "A" };
        let forged = format!("{}{last}", &token[..token.len() - 1]);
        assert!(webhook.validation_token(&forged).is_none());
        let seed = String::from_utf8(seed).unwrap().replace(&token, &forged);
        assert_eq!(webhook.notification_collection(seed.as_bytes()), None);
    }

    #[test]
    fn answers_with_lives_beyond_entras_pass_the_fuzz_checks() {
        graph_answer(
            5,
            br#"{"access_token":"a","expires_in":18446744073709551615}"#,
        );
        graph_answer(
            6,
            br#"{"user_code":"U","device_code":"D","verification_uri":"https://x","expires_in":18446744073709551615,"interval":18446744073709551615}"#,
        );
    }
}
