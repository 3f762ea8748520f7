//! A graph-webhook cold start's early read: what a notification collection is checked and
//! decided on, read while the function reads its secrets, so that a lone notification costs one
//! round trip to the store before its answer where it cost two. The bridge's subscriptions, which
//! every collection is checked against; and, for a collection of one item, the decision inputs of
//! the user its `resourceData.id` names (sent in the clear beside the encrypted content).
//!
//! Made before anything about the request is checked, so it only reads: a forged request costs
//! those reads, once per new process. The user's inputs serve only that very user, once the item
//! is authenticated (its decrypted presence id must equal `resourceData.id`, see
//! [`super::super::authenticate`]); the decision's write is conditional on the state's revision
//! as always, so a state that moved since the read is read and judged again.

use crate::config::is_guid;
use crate::domain::Timestamp;
use crate::entry::http::{HttpRequest, query_param};
use crate::store::{DecisionInputs, Store};
use crate::teams_to_swyx::known_subscriptions::{ReadAhead, read_ahead};
use http::Method;
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;

/// A body longer than this reads no user early: a lone presence item is a few kilobytes.
const MAX_EARLY_BODY_BYTES: usize = 64 * 1024;

/// What a cold start read for one request, before the app was built.
pub struct EarlyRead {
    /// `None` when the store failed (the request reads again).
    pub(super) subscriptions: Option<ReadAhead>,
    pub(super) user: Option<UserAhead>,
}

/// One user's decision inputs, read for the lone item of a collection.
pub(crate) struct UserAhead {
    /// Lower case, as the decision is keyed.
    entra_id: String,
    /// `None`: not linked.
    inputs: Option<DecisionInputs>,
}

impl UserAhead {
    /// The inputs, when they were read for `entra_id` (lower case); else the item reads its own.
    pub(crate) fn for_user(self, entra_id: &str) -> Option<Option<DecisionInputs>> {
        (self.entra_id == entra_id).then_some(self.inputs)
    }
}

/// Starts the early read for a request that may be a notification collection (a POST that is not
/// Graph's validation handshake); `None` for anything else. A read that fails is left out: the
/// request reads again once checked.
pub fn read_early(
    store: Arc<dyn Store>,
    req: &HttpRequest,
    _now: Timestamp,
) -> Option<impl Future<Output = Option<EarlyRead>> + Send + use<>> {
    if req.method() != Method::POST || query_param(req.uri(), "validationToken").is_some() {
        return None;
    }
    let user = lone_item_user(req.body());
    Some(async move {
        let user_inputs = async {
            let id = user.as_deref()?;
            // The speaking state too: whether the presence may be the bridge's own call is
            // known only once it is decrypted, and it rides in the same request.
            store.get_decision_inputs(id, true).await.ok()
        };
        let (subscriptions, inputs) = tokio::join!(read_ahead(store.as_ref()), user_inputs);
        let user = user
            .zip(inputs)
            .map(|(entra_id, inputs)| UserAhead { entra_id, inputs });
        Some(EarlyRead {
            subscriptions,
            user,
        })
    })
}

/// The user (lower case) the only item of `body` names in `resourceData.id`, when the body is a
/// collection of exactly one item with an Entra object id there; nothing else reads a user.
fn lone_item_user(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Outline {
        value: Vec<ItemOutline>,
    }
    #[derive(Deserialize)]
    struct ItemOutline {
        #[serde(rename = "resourceData")]
        resource_data: Option<ResourceOutline>,
    }
    #[derive(Deserialize)]
    struct ResourceOutline {
        id: Option<String>,
    }
    if body.len() > MAX_EARLY_BODY_BYTES {
        return None;
    }
    let outline: Outline = serde_json::from_slice(body).ok()?;
    let [item] = &outline.value[..] else {
        return None;
    };
    let id = item.resource_data.as_ref()?.id.as_deref()?;
    is_guid(id).then(|| id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "6E2A8F1C-41B0-4D0B-9C1A-2B9C0E0A11CE";

    fn item(id: &str) -> serde_json::Value {
        serde_json::json!({
            "subscriptionId": "s", "changeType": "updated",
            "resource": format!("communications/presences/{id}"),
            "resourceData": { "@odata.type": "#microsoft.graph.presence", "id": id },
            "encryptedContent": { "data": "x", "dataKey": "y", "dataSignature": "z" },
        })
    }

    fn body(items: Vec<serde_json::Value>) -> Vec<u8> {
        serde_json::json!({ "value": items })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn only_a_lone_item_naming_an_entra_id_reads_its_user() {
        let lone = lone_item_user(&body(vec![item(ALICE)]));
        assert_eq!(lone.as_deref(), Some(ALICE.to_ascii_lowercase().as_str()));
        // Two items: the batch path reads its users in batches of its own.
        assert_eq!(lone_item_user(&body(vec![item(ALICE), item(ALICE)])), None);
        // A lifecycle notification names no user; an id that is no Entra object id reads nothing.
        let lifecycle = serde_json::json!({ "subscriptionId": "s", "lifecycleEvent": "missed" });
        assert_eq!(lone_item_user(&body(vec![lifecycle])), None);
        assert_eq!(lone_item_user(&body(vec![item("USERS#x")])), None);
        assert_eq!(lone_item_user(b"{\"value\": 7}"), None);
        assert_eq!(lone_item_user(b"not json"), None);
        // A body too large for a lone presence is not parsed ahead.
        let mut large = item(ALICE);
        large["padding"] = "p".repeat(MAX_EARLY_BODY_BYTES).into();
        assert_eq!(lone_item_user(&body(vec![large])), None);
    }

    #[test]
    fn inputs_read_for_one_user_serve_no_other() {
        let ahead = || UserAhead {
            entra_id: ALICE.to_ascii_lowercase(),
            inputs: None,
        };
        assert_eq!(ahead().for_user(&ALICE.to_ascii_lowercase()), Some(None));
        assert_eq!(
            ahead().for_user("00000000-0000-4000-8000-000000000001"),
            None
        );
    }
}
