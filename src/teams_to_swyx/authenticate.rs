//! Is a notification from Graph, about our subscription, for our tenant? Every authenticity check
//! of the intake sits here, in the order that keeps the expensive ones last:
//!
//! 1. the collection's validation tokens (JWTs signed by the Microsoft identity platform) name
//!    the tenants Graph vouches for ([`vouched_tenants`]); a rich collection without them, or
//!    with one that fails, is refused whole;
//! 2. per item ([`authenticate`]): a subscription we created, its `clientState` (compared in
//!    constant time), our tenant and one vouched for;
//! 3. then the RSA unwrap of the data key, the HMAC signature of the data (constant time, before
//!    anything is decrypted), the AES decryption, and the decrypted presence's id equal to the
//!    `resourceData.id` Graph sent alongside.
//!
//! Why each check exists: docs/architecture.md#notification-authenticity.

use crate::app::App;
use crate::graph::crypto::{DecryptError, NotificationKeys};
use crate::graph::notification::{
    ChangeNotification, ChangeNotificationCollection, PresenceResource,
};
use crate::graph::validation_token::ValidationTokenError;
use crate::metrics::DropReason;
use crate::store::{StoreError, SubscriptionRecord};
use subtle::ConstantTimeEq;

/// Graph's lifecycle event names are short words; anything longer is not Graph.
const MAX_LIFECYCLE_EVENT_LEN: usize = 64;

/// Why a whole collection is refused (401): nothing in it is looked at.
#[derive(Debug, thiserror::Error)]
pub enum CollectionRejected {
    #[error("validationTokens missing: rich notifications must carry them")]
    MissingTokens,
    #[error("validation token rejected")]
    InvalidToken(#[source] ValidationTokenError),
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
    app: &App,
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
            let valid = app
                .tokens
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

/// An item that passed every check.
#[derive(Debug)]
pub enum Authentic<'a> {
    /// A lifecycle notification of one of our subscriptions.
    Lifecycle {
        subscription_id: &'a str,
        event: &'a str,
    },
    /// The decrypted presence of one user.
    Presence(PresenceResource),
}

/// Why one item is not accepted. Never carries secrets or decrypted content.
#[derive(Debug, thiserror::Error)]
pub enum NotAuthentic {
    #[error("item has no `{0}`")]
    MissingField(&'static str),
    #[error("unknown subscription")]
    UnknownSubscription,
    /// The subscription could not be looked up, so nothing could be checked.
    #[error("store")]
    Store(#[source] StoreError),
    #[error("clientState does not match the subscription's")]
    ClientStateMismatch,
    #[error("tenant is not ours or not vouched for by a validation token")]
    WrongTenant,
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
            NotAuthentic::UnknownSubscription => DropReason::UnknownSubscription,
            NotAuthentic::Store(_) => DropReason::StoreFailure,
            NotAuthentic::ClientStateMismatch => DropReason::ClientStateMismatch,
            NotAuthentic::WrongTenant => DropReason::WrongTenant,
            NotAuthentic::NotRich => DropReason::NotRich,
            NotAuthentic::Decrypt(_) => DropReason::DecryptFailed,
            NotAuthentic::NotPresence(_) => DropReason::NotPresence,
            NotAuthentic::ResourceMismatch => DropReason::ResourceMismatch,
        }
    }
}

/// Steps 2 and 3 for one item of a collection whose tokens vouched for `vouched`.
pub async fn authenticate<'a>(
    app: &App,
    vouched: &VouchedTenants,
    item: &'a ChangeNotification,
) -> Result<Authentic<'a>, NotAuthentic> {
    let subscription_id = item
        .subscription_id
        .as_deref()
        .ok_or(NotAuthentic::MissingField("subscriptionId"))?;
    let subscription = app
        .store
        .get_subscription(subscription_id)
        .await
        .map_err(NotAuthentic::Store)?;
    check_item(
        item,
        subscription.as_ref(),
        &app.settings.tenant_id,
        vouched,
        &app.keys,
    )
}

/// The checks that need no I/O: `subscription` is what the store holds under the item's
/// subscription id.
fn check_item<'a>(
    item: &'a ChangeNotification,
    subscription: Option<&SubscriptionRecord>,
    our_tenant: &str,
    vouched: &VouchedTenants,
    keys: &NotificationKeys,
) -> Result<Authentic<'a>, NotAuthentic> {
    let subscription_id = item
        .subscription_id
        .as_deref()
        .ok_or(NotAuthentic::MissingField("subscriptionId"))?;
    let subscription = subscription.ok_or(NotAuthentic::UnknownSubscription)?;
    let client_state = item
        .client_state
        .as_deref()
        .ok_or(NotAuthentic::MissingField("clientState"))?;
    if !secrets_equal(client_state, &subscription.client_state) {
        return Err(NotAuthentic::ClientStateMismatch);
    }
    let tenant = item
        .tenant_id
        .as_deref()
        .ok_or(NotAuthentic::MissingField("tenantId"))?
        .to_ascii_lowercase();
    if tenant != our_tenant || !vouched.vouch_for(&tenant) {
        return Err(NotAuthentic::WrongTenant);
    }
    if let Some(event) = &item.lifecycle_event {
        let event = event.trim();
        if event.is_empty() || event.len() > MAX_LIFECYCLE_EVENT_LEN {
            return Err(NotAuthentic::MissingField("lifecycleEvent"));
        }
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

fn secrets_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    const TENANT: &str = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93";

    fn subscription() -> SubscriptionRecord {
        SubscriptionRecord {
            id: "sub-1".into(),
            client_state: "s3cret-state".into(),
            expires_at: Timestamp(0),
            account: None,
            resource: String::new(),
            encryption_certificate_id: None,
            renewed_at: None,
        }
    }

    fn lifecycle(client_state: &str, tenant: &str) -> ChangeNotification {
        serde_json::from_value(serde_json::json!({
            "subscriptionId": "sub-1",
            "clientState": client_state,
            "tenantId": tenant,
            "lifecycleEvent": " reauthorizationRequired ",
        }))
        .unwrap()
    }

    fn check<'a>(
        item: &'a ChangeNotification,
        vouched: &VouchedTenants,
    ) -> Result<Authentic<'a>, NotAuthentic> {
        check_item(
            item,
            Some(&subscription()),
            TENANT,
            vouched,
            &NotificationKeys::new(),
        )
    }

    #[test]
    fn a_lifecycle_item_of_our_subscription_and_tenant_is_authentic() {
        let item = lifecycle("s3cret-state", &TENANT.to_uppercase());
        let vouched = VouchedTenants(Some(vec![TENANT.into()]));
        match check(&item, &vouched) {
            Ok(Authentic::Lifecycle {
                subscription_id,
                event,
            }) => assert_eq!(
                (subscription_id, event),
                ("sub-1", "reauthorizationRequired")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_failed_check_is_named() {
        let none = VouchedTenants(None);
        let other_tenant = "0f0e0d0c-0b0a-4908-8706-050403020100";
        let item = lifecycle("s3cret-state", TENANT);
        let unknown = check_item(&item, None, TENANT, &none, &NotificationKeys::new());
        assert!(matches!(unknown, Err(NotAuthentic::UnknownSubscription)));
        let forged = lifecycle("s3cret-statf", TENANT);
        assert!(matches!(
            check(&forged, &none),
            Err(NotAuthentic::ClientStateMismatch)
        ));
        let elsewhere = lifecycle("s3cret-state", other_tenant);
        assert!(matches!(
            check(&elsewhere, &none),
            Err(NotAuthentic::WrongTenant)
        ));
        // Our tenant, but the tokens vouched for another one only.
        let vouched_other = VouchedTenants(Some(vec![other_tenant.into()]));
        assert!(matches!(
            check(&item, &vouched_other),
            Err(NotAuthentic::WrongTenant)
        ));
        let mut plain = lifecycle("s3cret-state", TENANT);
        plain.lifecycle_event = None;
        assert!(matches!(check(&plain, &none), Err(NotAuthentic::NotRich)));
        let mut no_state = lifecycle("s3cret-state", TENANT);
        no_state.client_state = None;
        assert!(matches!(
            check(&no_state, &none),
            Err(NotAuthentic::MissingField("clientState"))
        ));
    }
}
