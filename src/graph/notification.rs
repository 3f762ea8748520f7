//! The wire shapes of Graph change notifications (`changeNotificationCollection`). Unknown fields
//! (e.g. `organizationId`) are ignored; every field that Graph may omit is optional here, and the
//! intake decides what a missing one means.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeNotificationCollection {
    pub value: Vec<ChangeNotification>,
    /// One JWT per distinct app + tenant pair; present on rich notifications. `null` happens when
    /// Graph could not encrypt (app configuration), so it is an option inside an option.
    #[serde(default)]
    pub validation_tokens: Option<Vec<Option<String>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeNotification {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub client_state: Option<String>,
    #[serde(default)]
    pub change_type: Option<String>,
    #[serde(default)]
    pub lifecycle_event: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub subscription_expiration_date_time: Option<String>,
    #[serde(default)]
    pub resource_data: Option<ResourceData>,
    #[serde(default)]
    pub encrypted_content: Option<EncryptedContent>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResourceData {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
}

/// `changeNotificationEncryptedContent`: all base64 but the two certificate fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptedContent {
    pub data: String,
    pub data_signature: String,
    pub data_key: String,
    pub encryption_certificate_id: String,
    #[serde(default)]
    pub encryption_certificate_thumbprint: Option<String>,
}

/// The decrypted resource of a presence notification (and one item of getPresencesByUserId).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceResource {
    pub id: String,
    #[serde(default)]
    pub availability: Option<String>,
    #[serde(default)]
    pub activity: Option<String>,
    #[serde(default)]
    pub out_of_office_settings: Option<OutOfOfficeSettings>,
    #[serde(default)]
    pub sequence_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutOfOfficeSettings {
    #[serde(default)]
    pub is_out_of_office: Option<bool>,
}

impl PresenceResource {
    pub fn to_presence(&self) -> crate::domain::TeamsPresence {
        let mut p = crate::domain::TeamsPresence::new(
            self.availability.as_deref().unwrap_or("PresenceUnknown"),
            self.activity.as_deref().unwrap_or("PresenceUnknown"),
        );
        p.out_of_office = self
            .out_of_office_settings
            .as_ref()
            .and_then(|o| o.is_out_of_office)
            .unwrap_or(false);
        p.sequence_number = self.sequence_number.clone().filter(|s| !s.is_empty());
        p
    }
}

/// The lifecycle events Graph documents (docs/architecture.md#microsoft-graph-lifecycle-notifications).
/// Only these are acted on; any other name is refused, so a stored request always names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LifecycleEvent {
    ReauthorizationRequired,
    SubscriptionRemoved,
    Missed,
}

impl LifecycleEvent {
    pub const ALL: [LifecycleEvent; 3] = [
        LifecycleEvent::ReauthorizationRequired,
        LifecycleEvent::SubscriptionRemoved,
        LifecycleEvent::Missed,
    ];

    /// The event named exactly as Graph spells it; `None` for anything else (other casing too:
    /// each spelling would otherwise be a request of its own).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            LifecycleEvent::ReauthorizationRequired => "reauthorizationRequired",
            LifecycleEvent::SubscriptionRemoved => "subscriptionRemoved",
            LifecycleEvent::Missed => "missed",
        }
    }
}

impl std::fmt::Display for LifecycleEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
