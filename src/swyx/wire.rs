//! The JSON bodies of the connector contract (`infra/connector-openapi.yaml`), camelCase on the
//! wire. Shared by the client, the bridge's event endpoint and any receiver written in Rust.

use crate::domain::{SwyxAction, SwyxStatus, SwyxUpdate, Timestamp};
use serde::{Deserialize, Serialize};

/// A Swyx user as the connector lists it (camelCase on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwyxDirectoryUser {
    pub swyx_user_id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// Body of `GET /v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwyxUserList {
    pub users: Vec<SwyxDirectoryUser>,
}

/// Body of `PUT /v1/users/{swyxUserId}/teams-status`: the wire contract, also for receivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsStatusRequest {
    pub swyx_user_id: String,
    pub entra_id: String,
    /// `None` (JSON null) withdraws the Teams-derived status.
    pub status: Option<SwyxStatus>,
    pub revision: u64,
    pub teams: TeamsPresenceBody,
    /// RFC 3339.
    pub observed_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsPresenceBody {
    pub availability: String,
    pub activity: String,
    pub out_of_office: bool,
}

impl TeamsStatusRequest {
    pub fn from_update(u: &SwyxUpdate) -> Self {
        Self {
            swyx_user_id: u.swyx_user_id.clone(),
            entra_id: u.entra_id.clone(),
            status: match u.action {
                SwyxAction::Set(s) => Some(s),
                SwyxAction::Withdraw => None,
            },
            revision: u.revision,
            teams: TeamsPresenceBody {
                availability: u.availability.as_str().to_string(),
                activity: u.activity.as_str().to_string(),
                out_of_office: u.out_of_office,
            },
            observed_at: u.observed_at.to_rfc3339(),
        }
    }
}

/// Body of a connector → bridge event (`POST {bridge}/swyx/events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwyxEvent {
    /// `speaking.started` or `speaking.ended`; other values are to be ignored, not refused.
    #[serde(rename = "type")]
    pub kind: String,
    pub swyx_user_id: String,
    pub call_id: String,
    /// RFC 3339.
    pub at: String,
}

impl SwyxEvent {
    pub const SPEAKING_STARTED: &str = "speaking.started";
    pub const SPEAKING_ENDED: &str = "speaking.ended";

    /// `at` as a timestamp, or `None` when it is not RFC 3339.
    pub fn at_timestamp(&self) -> Option<Timestamp> {
        Timestamp::parse_rfc3339(&self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PresenceValue;

    #[test]
    fn status_request_is_camel_case_with_null_for_withdraw() {
        let u = SwyxUpdate {
            swyx_user_id: "1001".into(),
            entra_id: "e".into(),
            action: SwyxAction::Withdraw,
            revision: 3,
            availability: PresenceValue::new("Offline"),
            activity: PresenceValue::new("Offline"),
            out_of_office: true,
            observed_at: Timestamp::from_secs(0),
        };
        let v = serde_json::to_value(TeamsStatusRequest::from_update(&u)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"swyxUserId": "1001", "entraId": "e", "status": null, "revision": 3,
                "teams": {"availability": "Offline", "activity": "Offline", "outOfOffice": true},
                "observedAt": "1970-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn events_parse_from_the_documented_shape() {
        let e: SwyxEvent = serde_json::from_str(
            r#"{"type":"speaking.started","swyxUserId":"1001","callId":"c-4711","at":"2026-11-26T10:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(e.kind, SwyxEvent::SPEAKING_STARTED);
        assert_eq!(
            e.at_timestamp(),
            Timestamp::parse_rfc3339("2026-11-26T10:00:00Z")
        );
        let missing =
            serde_json::from_str::<SwyxEvent>(r#"{"type":"speaking.ended","swyxUserId":"1001"}"#);
        assert!(missing.unwrap_err().to_string().contains("callId"));
    }
}
