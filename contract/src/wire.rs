//! The JSON bodies of the connector contract (`infra/connector-openapi.yaml`), camelCase on the
//! wire. Both sides parse them with these types, so a field renamed here is renamed for both.
//! Members a side does not know are ignored (serde's default), which is what lets a 1.0 peer talk
//! to a 1.1 one.

pub use crate::event::{
    EventKind, OwnStatus, ParsedEvent, ReceivedEvent, StatusOrigin, SwyxEvent, unix_ms_from_rfc3339,
};
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
    // The schema's `[^/\x00-\x1f\x7f]`: C0 controls and DEL. Other characters Unicode calls
    // control (U+0080..U+009F) are a valid id's, and percent-encoded in the path like any other.
    if id.chars().any(|c| c == '/' || c < ' ' || c == '\x7f') {
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
    /// `None` (JSON null) withdraws the Teams-derived status. Required, null or not: a body
    /// without `status` is malformed (400), never taken as a withdrawal.
    #[serde(deserialize_with = "present_or_null")]
    pub status: Option<SwyxStatus>,
    pub revision: u64,
    pub teams: TeamsPresenceBody,
    /// RFC 3339.
    pub observed_at: String,
}

/// A member that must be present and may be `null` (serde takes a missing `Option` as `None`
/// unless told otherwise).
fn present_or_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
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
        assert_eq!(
            check_swyx_user_id("a\x7fb"),
            Err(SwyxUserIdError::BadCharacter)
        );
    }

    #[test]
    fn user_ids_the_schema_allows_are_taken() {
        // `^(?!\.{1,2}$)[^/\x00-\x1f\x7f]+$`: a C1 character (U+0080..U+009F), white space,
        // dots other than `.`/`..` are all part of valid ids.
        for id in [
            "a\u{85}b",
            "\u{9f}",
            " ",
            " 1001 ",
            "...",
            ".a",
            "x".repeat(128).as_str(),
        ] {
            assert_eq!(check_swyx_user_id(id), Ok(()), "{id:?}");
        }
    }

    #[test]
    fn a_teams_status_body_needs_status_even_if_null() {
        let body = |status: &str| {
            format!(
                r#"{{"swyxUserId":"1","entraId":"e",{status}"revision":1,
                "teams":{{"availability":"Offline","activity":"Offline","outOfOffice":false}},
                "observedAt":"2026-11-26T10:00:00Z"}}"#
            )
        };
        let withdraw: TeamsStatusRequest =
            serde_json::from_str(&body(r#""status":null,"#)).unwrap();
        assert_eq!(withdraw.status, None);
        let set: TeamsStatusRequest = serde_json::from_str(&body(r#""status":"Away","#)).unwrap();
        assert_eq!(set.status, Some(SwyxStatus::Away));
        let missing = serde_json::from_str::<TeamsStatusRequest>(&body("")).unwrap_err();
        assert!(missing.to_string().contains("status"), "{missing}");
    }
}
