//! The JSON bodies of the connector contract (`infra/connector-openapi.yaml`), camelCase on the
//! wire. Both sides parse them with these types, so a field renamed here is renamed for both.
//! Members a side does not know are ignored (serde's default), which is what lets a 1.0 peer talk
//! to a 1.1 one.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A status in the Teams-derived status slot of a Swyx user (the contract's `SwyxStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SwyxStatus {
    Available,
    Away,
    DoNotDisturb,
    Speaking,
}

impl SwyxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SwyxStatus::Available => "Available",
            SwyxStatus::Away => "Away",
            SwyxStatus::DoNotDisturb => "DoNotDisturb",
            SwyxStatus::Speaking => "Speaking",
        }
    }
}

impl fmt::Display for SwyxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a Swyx user id is not acceptable as one (it becomes a path segment of the contract).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwyxUserIdError {
    #[error("a Swyx user id must not be empty")]
    Empty,
    #[error("a Swyx user id is at most {MAX_SWYX_USER_ID_LEN} characters")]
    TooLong,
    #[error("a Swyx user id must not be \".\" or \"..\"")]
    DotSegment,
    #[error("a Swyx user id must not contain '/' or control characters")]
    BadCharacter,
}

/// Longest Swyx user id the contract allows.
pub const MAX_SWYX_USER_ID_LEN: usize = 128;

/// Checks a Swyx user id against the contract's `SwyxUserId` schema: it is sent as one path
/// segment, so `.`/`..` (which would change the request path) and `/` are refused.
pub fn check_swyx_user_id(id: &str) -> Result<(), SwyxUserIdError> {
    if id.is_empty() {
        return Err(SwyxUserIdError::Empty);
    }
    if id.chars().count() > MAX_SWYX_USER_ID_LEN {
        return Err(SwyxUserIdError::TooLong);
    }
    if id == "." || id == ".." {
        return Err(SwyxUserIdError::DotSegment);
    }
    if id.chars().any(|c| c == '/' || c.is_control()) {
        return Err(SwyxUserIdError::BadCharacter);
    }
    Ok(())
}

/// The Teams presence a status came from, as Graph reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsPresenceBody {
    pub availability: String,
    pub activity: String,
    pub out_of_office: bool,
}

/// Body of `PUT /v1/users/{swyxUserId}/teams-status`.
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

/// What a connector holds in one user's Teams-derived slot (`TeamsStatusState`): the answer of
/// a PUT and of `GET …/teams-status`, and `teamsStatus` in the user list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsStatusState {
    pub swyx_user_id: String,
    /// `None`: withdrawn, or never set.
    pub status: Option<SwyxStatus>,
    /// The highest revision applied; 0 when none.
    pub revision: u64,
}

/// A Swyx user as the connector lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwyxDirectoryUser {
    pub swyx_user_id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// 1.1: the Swyx groups the user belongs to (empty from a 1.0 connector).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// 1.1: what the connector holds in the user's Teams-derived slot; `None` from a 1.0
    /// connector (the bridge then cannot compare with Swyx's truth for this user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams_status: Option<TeamsStatusState>,
    /// 1.2: the `callId`s of the user's speaking periods open now (the ids their
    /// `speaking.started` named and no `speaking.ended` has closed yet), empty when the user is
    /// not speaking; `None` from a 1.0/1.1 connector: unknown, the bridge changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaking: Option<Vec<String>>,
}

/// Body of `GET /v1/users` (one page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwyxUserList {
    pub users: Vec<SwyxDirectoryUser>,
    /// 1.1: present when more users follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// 1.2: `true` when the connector answered `speaking=true` by listing only the users speaking
    /// now. Only then may the bridge take a user missing from the answer as in no call: a 1.1
    /// connector ignores the query parameter (and lists everyone, without `speaking`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub speaking_only: bool,
}

/// The query parameter of `GET /v1/users` that asks for only the users speaking now (1.2).
pub const SPEAKING_QUERY: &str = "speaking";

/// Default and largest page size of `GET /v1/users`.
pub const USER_PAGE_DEFAULT: usize = 500;
pub const USER_PAGE_MAX: usize = 1000;

/// The user's own Swyx status in a `status.changed` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OwnStatus {
    Available,
    Away,
    DoNotDisturb,
    LoggedOff,
}

/// Who changed a user's own Swyx status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusOrigin {
    /// The user, by hand: the only origin the bridge acts on.
    User,
    /// The connector, applying a Teams-derived status: never sent back to Teams.
    Teams,
    /// Set automatically (idle, log-off).
    System,
}

/// A connector → bridge event (`POST {bridge}/swyx/events`), as it arrives: the common fields
/// plus those of each type, so an unknown `type` still parses (and is ignored, not refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwyxEvent {
    /// `speaking.started`, `speaking.ended` or `status.changed`; others are to be ignored.
    #[serde(rename = "type")]
    pub kind: String,
    pub swyx_user_id: String,
    /// Speaking events: the connector's id of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// `status.changed`: the user's own status after the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OwnStatus>,
    /// `status.changed`: who made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<StatusOrigin>,
    /// RFC 3339.
    pub at: String,
}

/// What an event asks for, once its type-specific fields are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind<'a> {
    SpeakingStarted {
        call_id: &'a str,
    },
    SpeakingEnded {
        call_id: &'a str,
    },
    StatusChanged {
        status: OwnStatus,
        origin: StatusOrigin,
    },
    /// A type this side does not know: answer 2xx and ignore it.
    Unknown,
}

impl SwyxEvent {
    pub const SPEAKING_STARTED: &str = "speaking.started";
    pub const SPEAKING_ENDED: &str = "speaking.ended";
    pub const STATUS_CHANGED: &str = "status.changed";

    /// A speaking event.
    pub fn speaking(kind: &str, swyx_user_id: &str, call_id: &str, at_unix_ms: i64) -> Self {
        Self {
            kind: kind.to_string(),
            swyx_user_id: swyx_user_id.to_string(),
            call_id: Some(call_id.to_string()),
            status: None,
            origin: None,
            at: rfc3339_from_millis(at_unix_ms),
        }
    }

    /// A `status.changed` event.
    pub fn status_changed(
        swyx_user_id: &str,
        status: OwnStatus,
        origin: StatusOrigin,
        at_unix_ms: i64,
    ) -> Self {
        Self {
            kind: Self::STATUS_CHANGED.to_string(),
            swyx_user_id: swyx_user_id.to_string(),
            call_id: None,
            status: Some(status),
            origin: Some(origin),
            at: rfc3339_from_millis(at_unix_ms),
        }
    }

    /// The event's meaning, or the name of the field its type needs and lacks.
    pub fn kind(&self) -> Result<EventKind<'_>, String> {
        let call_id = || match self.call_id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => Ok(id),
            _ => Err("`callId` is missing or empty".to_string()),
        };
        Ok(match self.kind.as_str() {
            Self::SPEAKING_STARTED => EventKind::SpeakingStarted {
                call_id: call_id()?,
            },
            Self::SPEAKING_ENDED => EventKind::SpeakingEnded {
                call_id: call_id()?,
            },
            Self::STATUS_CHANGED => EventKind::StatusChanged {
                status: self.status.ok_or("`status` is missing")?,
                origin: self.origin.ok_or("`origin` is missing")?,
            },
            _ => EventKind::Unknown,
        })
    }

    /// `at` in unix milliseconds, or `None` when it is not RFC 3339.
    pub fn at_unix_ms(&self) -> Option<i64> {
        OffsetDateTime::parse(&self.at, &Rfc3339)
            .ok()
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
    }
}

/// Unix milliseconds as RFC 3339 (UTC); the epoch for a time out of range.
pub fn rfc3339_from_millis(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// The `{"error": "..."}` body of every refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_from_the_documented_shapes() {
        let e: SwyxEvent = serde_json::from_str(
            r#"{"type":"speaking.started","swyxUserId":"1001","callId":"c-4711","at":"2026-11-26T10:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(
            e.kind(),
            Ok(EventKind::SpeakingStarted { call_id: "c-4711" })
        );
        assert_eq!(e.at_unix_ms(), Some(1_795_687_200_000));
        let s: SwyxEvent = serde_json::from_str(
            r#"{"type":"status.changed","swyxUserId":"1001","status":"DoNotDisturb","origin":"user","at":"2026-11-26T11:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(
            s.kind(),
            Ok(EventKind::StatusChanged {
                status: OwnStatus::DoNotDisturb,
                origin: StatusOrigin::User
            })
        );
        let missing: SwyxEvent =
            serde_json::from_str(r#"{"type":"speaking.ended","swyxUserId":"1001","at":"x"}"#)
                .unwrap();
        assert!(missing.kind().unwrap_err().contains("callId"));
        let unknown: SwyxEvent =
            serde_json::from_str(r#"{"type":"future.thing","swyxUserId":"1","at":"x"}"#).unwrap();
        assert_eq!(unknown.kind(), Ok(EventKind::Unknown));
    }

    #[test]
    fn a_1_0_user_list_parses_and_1_1_members_are_optional() {
        let old: SwyxUserList =
            serde_json::from_str(r#"{"users":[{"swyxUserId":"1","name":"A","email":null}]}"#)
                .unwrap();
        assert_eq!(old.users[0].groups, Vec::<String>::new());
        assert_eq!(old.users[0].teams_status, None);
        assert_eq!(old.next_cursor, None);
        let new: SwyxUserList = serde_json::from_str(
            r#"{"users":[{"swyxUserId":"1","name":"A","groups":["G"],
                "teamsStatus":{"swyxUserId":"1","status":"Away","revision":5}}],"nextCursor":"1"}"#,
        )
        .unwrap();
        assert_eq!(
            new.users[0]
                .teams_status
                .as_ref()
                .map(|t| (t.status, t.revision)),
            Some((Some(SwyxStatus::Away), 5))
        );
        assert_eq!(new.next_cursor.as_deref(), Some("1"));
    }

    #[test]
    fn user_ids_that_would_change_the_path_are_refused() {
        assert_eq!(check_swyx_user_id("1001"), Ok(()));
        assert_eq!(check_swyx_user_id("anna.schmidt"), Ok(()));
        assert_eq!(check_swyx_user_id(""), Err(SwyxUserIdError::Empty));
        assert_eq!(check_swyx_user_id("."), Err(SwyxUserIdError::DotSegment));
        assert_eq!(check_swyx_user_id(".."), Err(SwyxUserIdError::DotSegment));
        assert_eq!(
            check_swyx_user_id("a/b"),
            Err(SwyxUserIdError::BadCharacter)
        );
        assert_eq!(
            check_swyx_user_id("a\nb"),
            Err(SwyxUserIdError::BadCharacter)
        );
        assert_eq!(
            check_swyx_user_id(&"x".repeat(129)),
            Err(SwyxUserIdError::TooLong)
        );
    }

    #[test]
    fn times_round_trip_as_rfc3339() {
        assert_eq!(rfc3339_from_millis(0), "1970-01-01T00:00:00Z");
        let e = SwyxEvent::speaking(SwyxEvent::SPEAKING_ENDED, "1", "c", 1_795_687_200_000);
        assert_eq!(e.at_unix_ms(), Some(1_795_687_200_000));
    }
}
