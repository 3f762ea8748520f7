//! Is a notification from Graph, about our subscription, for our tenant? Every authenticity check
//! of the intake sits here, in the order that keeps the expensive ones last:
//!
//! 1. the collection's validation tokens (JWTs signed by the Microsoft identity platform) name
//!    the tenants Graph vouches for ([`vouched_tenants`]); a rich collection without them, or
//!    with one that fails, is refused whole;
//! 2. per item, without I/O ([`screen`]): a subscription id and a `clientState` Graph could have
//!    sent, our tenant and one vouched for, a documented lifecycle event or encrypted content;
//!    then ([`authenticate`]) a subscription we created (one store read per request, through
//!    [`super::known_subscriptions`]) and its `clientState` (compared in constant time);
//! 3. then the RSA unwrap of the data key, the HMAC signature of the data (constant time, before
//!    anything is decrypted), the AES decryption, and the decrypted presence's id equal to the
//!    `resourceData.id` Graph sent alongside.
//!
//! Why each check exists: docs/architecture.md#notification-authenticity.

use crate::graph::crypto::{DecryptError, NotificationKeys};
use crate::graph::notification::{
    ChangeNotification, ChangeNotificationCollection, LifecycleEvent, PresenceResource,
};
use crate::graph::validation_token::{TokenValidator, ValidationTokenError};
use crate::metrics::DropReason;
use crate::store::SubscriptionRecord;
use std::collections::HashMap;
use subtle::ConstantTimeEq;

/// Why a whole collection is refused (401; 503 when the signing keys cannot be had): nothing in
/// it is looked at.
#[derive(Debug, thiserror::Error)]
pub enum CollectionRejected {
    #[error("validationTokens missing: rich notifications must carry them")]
    MissingTokens,
    #[error("validation token rejected")]
    InvalidToken(#[source] ValidationTokenError),
}

impl CollectionRejected {
    /// The signing keys could not be fetched: our outage, not a forged request. Answered 503,
    /// so Graph delivers the collection again later.
    pub fn keys_unavailable(&self) -> bool {
        matches!(
            self,
            CollectionRejected::InvalidToken(ValidationTokenError::JwksUnavailable(_))
        )
    }
}

/// The tenants that the collection's validation tokens vouch for. A collection without tokens (no
/// rich item in it) vouches for none and asks for none.
#[derive(Debug, Clone)]
pub struct VouchedTenants(Option<Vec<String>>);

impl VouchedTenants {
    fn vouch_for(&self, tenant: &str) -> bool {
        self.0
            .as_deref()
            .is_none_or(|tenants| tenants.iter().any(|t| t == tenant))
    }
}

/// Step 1: validates every token of the collection before any item is looked at (and long before
/// any RSA work).
pub async fn vouched_tenants(
    validator: &TokenValidator,
    collection: &ChangeNotificationCollection,
) -> Result<VouchedTenants, CollectionRejected> {
    let needs_tokens = collection
        .value
        .iter()
        .any(|n| n.encrypted_content.is_some());
    match &collection.validation_tokens {
        None if needs_tokens => Err(CollectionRejected::MissingTokens),
        None => Ok(VouchedTenants(None)),
        Some(tokens) => {
            let valid = validator
                .validate_all(tokens)
                .await
                .map_err(CollectionRejected::InvalidToken)?;
            Ok(VouchedTenants(Some(
                valid
                    .into_iter()
                    .map(|t| t.tenant_id.to_ascii_lowercase())
                    .collect(),
            )))
        }
    }
}

/// Graph's limit on `clientState` (docs/architecture.md#microsoft-graph-presence-subscriptions).
const MAX_CLIENT_STATE_LEN: usize = 128;
/// Graph's subscription ids are GUIDs; anything much longer is not Graph.
const MAX_SUBSCRIPTION_ID_LEN: usize = 128;

/// An item that passed every check.
#[derive(Debug)]
pub enum Authentic<'a> {
    /// A lifecycle notification of one of our subscriptions.
    Lifecycle {
        subscription_id: &'a str,
        event: LifecycleEvent,
    },
    /// The decrypted presence of one user.
    Presence(PresenceResource),
}

/// Why one item is not accepted. Never carries secrets, decrypted content or text of the item.
#[derive(Debug, thiserror::Error)]
pub enum NotAuthentic {
    #[error("item has no `{0}`")]
    MissingField(&'static str),
    #[error("`{0}` is not one Graph could have sent (at most 128 printable ASCII characters)")]
    Implausible(&'static str),
    #[error("unknown subscription")]
    UnknownSubscription,
    #[error("clientState does not match the subscription's")]
    ClientStateMismatch,
    #[error("tenant is not ours or not vouched for by a validation token")]
    WrongTenant,
    #[error(
        "lifecycleEvent is not one Graph documents (reauthorizationRequired, subscriptionRemoved, missed)"
    )]
    UnknownLifecycleEvent,
    #[error("no encryptedContent: presence subscriptions must be rich")]
    NotRich,
    #[error("cannot decrypt")]
    Decrypt(#[source] DecryptError),
    #[error("decrypted resource is not a presence")]
    NotPresence(#[source] serde_json::Error),
    #[error("decrypted presence id differs from resourceData.id")]
    ResourceMismatch,
}

impl NotAuthentic {
    /// The `reason` an item dropped for this counts under in the metrics.
    pub fn drop_reason(&self) -> DropReason {
        match self {
            NotAuthentic::MissingField(_) => DropReason::MissingField,
            NotAuthentic::Implausible(_) => DropReason::Implausible,
            NotAuthentic::UnknownSubscription => DropReason::UnknownSubscription,
            NotAuthentic::ClientStateMismatch => DropReason::ClientStateMismatch,
            NotAuthentic::WrongTenant => DropReason::WrongTenant,
            NotAuthentic::UnknownLifecycleEvent => DropReason::UnknownLifecycleEvent,
            NotAuthentic::NotRich => DropReason::NotRich,
            NotAuthentic::Decrypt(_) => DropReason::DecryptFailed,
            NotAuthentic::NotPresence(_) => DropReason::NotPresence,
            NotAuthentic::ResourceMismatch => DropReason::ResourceMismatch,
        }
    }

    /// A short name of the reason, for the per-request summary (counts by reason).
    pub fn reason(&self) -> &'static str {
        match self {
            NotAuthentic::MissingField("subscriptionId") => "no subscriptionId",
            NotAuthentic::MissingField("clientState") => "no clientState",
            NotAuthentic::MissingField(_) => "missing field",
            NotAuthentic::Implausible("subscriptionId") => "implausible subscriptionId",
            NotAuthentic::Implausible(_) => "implausible clientState",
            NotAuthentic::UnknownSubscription => "unknown subscription",
            NotAuthentic::ClientStateMismatch => "clientState mismatch",
            NotAuthentic::WrongTenant => "wrong tenant",
            NotAuthentic::UnknownLifecycleEvent => "unknown lifecycle event",
            NotAuthentic::NotRich => "not rich",
            NotAuthentic::Decrypt(_) => "cannot decrypt",
            NotAuthentic::NotPresence(_) => "not a presence",
            NotAuthentic::ResourceMismatch => "resource mismatch",
        }
    }
}

/// The checks that need neither the store nor a key, cheapest first: a subscription id and a
/// `clientState` Graph could have sent, our tenant and one vouched for, and a kind the bridge
/// handles (a documented lifecycle event, or encrypted content). An item that fails here costs
/// no store read. Returns the subscription id to look up.
pub fn screen<'a>(
    item: &'a ChangeNotification,
    our_tenant: &str,
    vouched: &VouchedTenants,
) -> Result<&'a str, NotAuthentic> {
    let subscription_id = item
        .subscription_id
        .as_deref()
        .ok_or(NotAuthentic::MissingField("subscriptionId"))?;
    if !plausible(subscription_id, MAX_SUBSCRIPTION_ID_LEN) {
        return Err(NotAuthentic::Implausible("subscriptionId"));
    }
    let client_state = item
        .client_state
        .as_deref()
        .ok_or(NotAuthentic::MissingField("clientState"))?;
    if !plausible(client_state, MAX_CLIENT_STATE_LEN) {
        return Err(NotAuthentic::Implausible("clientState"));
    }
    let tenant = item
        .tenant_id
        .as_deref()
        .ok_or(NotAuthentic::MissingField("tenantId"))?;
    if !tenant.eq_ignore_ascii_case(our_tenant) || !vouched.vouch_for(&tenant.to_ascii_lowercase())
    {
        return Err(NotAuthentic::WrongTenant);
    }
    match &item.lifecycle_event {
        Some(event) if LifecycleEvent::parse(event).is_none() => {
            Err(NotAuthentic::UnknownLifecycleEvent)
        }
        Some(_) => Ok(subscription_id),
        None if item.encrypted_content.is_none() => Err(NotAuthentic::NotRich),
        None => Ok(subscription_id),
    }
}

/// Every check of one item: [`screen`], then against `known` (the bridge's subscriptions, from
/// the store) the subscription and its `clientState` (constant time), then the RSA unwrap, the
/// HMAC signature, the decryption, and the presence id.
pub fn authenticate<'a>(
    item: &'a ChangeNotification,
    known: &HashMap<String, SubscriptionRecord>,
    our_tenant: &str,
    vouched: &VouchedTenants,
    keys: &NotificationKeys,
) -> Result<Authentic<'a>, NotAuthentic> {
    let subscription_id = screen(item, our_tenant, vouched)?;
    let subscription = known
        .get(subscription_id)
        .ok_or(NotAuthentic::UnknownSubscription)?;
    let client_state = item.client_state.as_deref().unwrap_or_default();
    if !secrets_equal(client_state, &subscription.client_state) {
        return Err(NotAuthentic::ClientStateMismatch);
    }
    if let Some(event) = item
        .lifecycle_event
        .as_deref()
        .and_then(LifecycleEvent::parse)
    {
        return Ok(Authentic::Lifecycle {
            subscription_id,
            event,
        });
    }
    let content = item
        .encrypted_content
        .as_ref()
        .ok_or(NotAuthentic::NotRich)?;
    // Unwraps the key, checks the signature, and only then decrypts.
    let plaintext = keys.decrypt(content).map_err(NotAuthentic::Decrypt)?;
    let resource: PresenceResource =
        serde_json::from_slice(&plaintext).map_err(NotAuthentic::NotPresence)?;
    if let Some(outer) = item.resource_data.as_ref().and_then(|r| r.id.as_deref())
        && !outer.eq_ignore_ascii_case(&resource.id)
    {
        return Err(NotAuthentic::ResourceMismatch);
    }
    Ok(Authentic::Presence(resource))
}

/// Non-empty, at most `max` bytes, printable ASCII without spaces: what Graph sends and the
/// bridge generates (clientState: 64 hex digits).
fn plausible(value: &str, max: usize) -> bool {
    !value.is_empty() && value.len() <= max && value.bytes().all(|b| b.is_ascii_graphic())
}

fn secrets_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests;
