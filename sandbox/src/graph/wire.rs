//! Graph's JSON shapes for presence and change notifications, in one place: the emulator builds
//! its notifications with these, and a bridge test can build the same collection without the
//! bridge's own code (with [`super::crypto`] for `encryptedContent` and
//! [`super::GraphEmulator::sign_validation_token`] for `validationTokens`). Shapes as published:
//! <https://learn.microsoft.com/en-us/graph/changenotifications-for-presence> and
//! <https://learn.microsoft.com/en-us/graph/api/resources/changenotificationcollection?view=graph-rest-1.0>.

use serde::Serialize;
use serde_json::{Value, json};

/// The presence entity of `GET /users/{id}/presence` and `getPresencesByUserId` (no `@odata`
/// annotations). A typed value: bulk reads serialise hundreds of them per request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEntity {
    pub id: String,
    pub availability: String,
    pub activity: String,
    pub status_message: Option<String>,
    pub out_of_office_settings: OutOfOfficeSettings,
    pub sequence_number: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutOfOfficeSettings {
    pub message: Option<String>,
    pub is_out_of_office: bool,
}

impl PresenceEntity {
    pub fn new(
        user_id: &str,
        availability: &str,
        activity: &str,
        out_of_office: bool,
        sequence_number: Option<&str>,
    ) -> Self {
        Self {
            id: user_id.to_owned(),
            availability: availability.to_owned(),
            activity: activity.to_owned(),
            status_message: None,
            out_of_office_settings: OutOfOfficeSettings {
                message: None,
                is_out_of_office: out_of_office,
            },
            sequence_number: sequence_number.map(str::to_owned),
        }
    }
}

/// [`PresenceEntity`] as JSON.
pub fn presence_entity(
    user_id: &str,
    availability: &str,
    activity: &str,
    out_of_office: bool,
    sequence_number: &str,
) -> Value {
    serde_json::to_value(PresenceEntity::new(
        user_id,
        availability,
        activity,
        out_of_office,
        Some(sequence_number),
    ))
    .unwrap_or(Value::Null)
}

/// The resource data of a rich presence notification: what `encryptedContent.data` decrypts to.
pub fn presence_resource(
    user_id: &str,
    availability: &str,
    activity: &str,
    out_of_office: bool,
    sequence_number: Option<&str>,
) -> Value {
    let mut resource = json!({
        "@odata.id": format!("users/{user_id}/presence"),
        "@odata.type": "#microsoft.graph.presence",
        "id": user_id,
        "availability": availability,
        "activity": activity,
        "outOfOfficeSettings": { "message": null, "isOutOfOffice": out_of_office },
    });
    if let Some(seq) = sequence_number {
        resource["sequenceNumber"] = json!(seq);
    }
    resource
}

/// One presence change notification item; `encrypted_content` from
/// [`super::crypto::encrypt_resource`] makes it rich.
pub fn presence_change_notification(
    subscription_id: &str,
    client_state: Option<&str>,
    tenant_id: &str,
    subscription_expiration_date_time: &str,
    user_id: &str,
    encrypted_content: Option<Value>,
) -> Value {
    let mut item = json!({
        "subscriptionId": subscription_id,
        "clientState": client_state,
        "changeType": "updated",
        "tenantId": tenant_id,
        "resource": format!("communications/presences/{user_id}"),
        "subscriptionExpirationDateTime": subscription_expiration_date_time,
        "resourceData": {
            "@odata.id": format!("users/{user_id}/presence"),
            "@odata.type": "#microsoft.graph.presence",
            "id": user_id,
        },
        "organizationId": tenant_id,
    });
    if let Some(content) = encrypted_content {
        item["encryptedContent"] = content;
    }
    item
}

/// One lifecycle notification item (`reauthorizationRequired`, `subscriptionRemoved`, `missed`).
pub fn lifecycle_notification(
    subscription_id: &str,
    client_state: Option<&str>,
    tenant_id: &str,
    subscription_expiration_date_time: &str,
    lifecycle_event: &str,
) -> Value {
    json!({
        "subscriptionId": subscription_id,
        "subscriptionExpirationDateTime": subscription_expiration_date_time,
        "tenantId": tenant_id,
        "organizationId": tenant_id,
        "clientState": client_state,
        "lifecycleEvent": lifecycle_event,
    })
}

/// A `changeNotificationCollection`: `validationTokens` only when given (rich or lifecycle).
pub fn notification_collection(items: Vec<Value>, validation_tokens: Option<Vec<String>>) -> Value {
    let mut body = json!({ "value": items });
    if let Some(tokens) = validation_tokens {
        body["validationTokens"] = json!(tokens);
    }
    body
}
