//! Connector → bridge events (`POST {bridge}/swyx/events`): what a connector sends, and how a
//! receiver reads it, by `type` first, so an unknown type or a member it does not know never
//! turns a valid event into a 400.

use crate::wire::rfc3339_from_millis;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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

/// A connector → bridge event (`POST {bridge}/swyx/events`) as a connector sends it: the common
/// fields plus those of each type. A receiver reads it with [`SwyxEvent::parse`], by type.
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

/// What an event asks for, once its type's members are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `call_id` trimmed, as the user list's `speaking` ids are, so the two pair.
    SpeakingStarted {
        call_id: String,
    },
    SpeakingEnded {
        call_id: String,
    },
    StatusChanged {
        status: OwnStatus,
        origin: StatusOrigin,
    },
}

/// An event of a type this side knows, with the members that type needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEvent {
    pub kind: EventKind,
    pub swyx_user_id: String,
    /// `at` in unix milliseconds.
    pub at_unix_ms: i64,
}

/// A body read by [`SwyxEvent::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedEvent {
    Known(ReceivedEvent),
    /// A `type` this side does not know (a newer contract, or a connector's mistake): answered
    /// 2xx and ignored, its other members unread.
    Unknown {
        kind: String,
    },
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

    /// Reads an event body by its `type`: a known type reads only its own members (others are
    /// ignored, as the contract says of members a receiver does not know), an unknown type
    /// nothing more. `Err` names what is not JSON or the member a known type needs and lacks.
    pub fn parse(body: &[u8]) -> Result<ParsedEvent, String> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
        let Some(members) = value.as_object() else {
            return Err("an event is a JSON object".to_string());
        };
        let text = |name: &str| members.get(name).and_then(serde_json::Value::as_str);
        let Some(kind) = text("type") else {
            return Err("`type` is missing or not a string".to_string());
        };
        if ![
            Self::SPEAKING_STARTED,
            Self::SPEAKING_ENDED,
            Self::STATUS_CHANGED,
        ]
        .contains(&kind)
        {
            return Ok(ParsedEvent::Unknown {
                kind: kind.to_string(),
            });
        }
        // Not trimmed: white space is part of a `SwyxUserId` (the schema allows it).
        let swyx_user_id = match text("swyxUserId") {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => return Err("`swyxUserId` is missing, empty or not a string".to_string()),
        };
        let Some(at_unix_ms) = text("at").and_then(unix_ms_from_rfc3339) else {
            return Err("`at` is missing or not an RFC 3339 time".to_string());
        };
        let call_id = || match text("callId").map(str::trim) {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => Err("`callId` is missing, empty or not a string".to_string()),
        };
        fn member<T: serde::de::DeserializeOwned>(
            members: &serde_json::Map<String, serde_json::Value>,
            name: &str,
            allowed: &str,
        ) -> Result<T, String> {
            members
                .get(name)
                .and_then(|v| T::deserialize(v).ok())
                .ok_or_else(|| format!("`{name}` is missing or not one of {allowed}"))
        }
        let kind = match kind {
            Self::SPEAKING_STARTED => EventKind::SpeakingStarted {
                call_id: call_id()?,
            },
            Self::SPEAKING_ENDED => EventKind::SpeakingEnded {
                call_id: call_id()?,
            },
            _ => EventKind::StatusChanged {
                status: member(
                    members,
                    "status",
                    "Available, Away, DoNotDisturb, LoggedOff",
                )?,
                origin: member(members, "origin", "user, teams, system")?,
            },
        };
        Ok(ParsedEvent::Known(ReceivedEvent {
            kind,
            swyx_user_id,
            at_unix_ms,
        }))
    }

    /// `at` in unix milliseconds, or `None` when it is not RFC 3339.
    pub fn at_unix_ms(&self) -> Option<i64> {
        unix_ms_from_rfc3339(&self.at)
    }
}

impl ReceivedEvent {
    /// The event as a connector would send it.
    pub fn to_wire(&self) -> SwyxEvent {
        let user = &self.swyx_user_id;
        match &self.kind {
            EventKind::SpeakingStarted { call_id } => {
                SwyxEvent::speaking(SwyxEvent::SPEAKING_STARTED, user, call_id, self.at_unix_ms)
            }
            EventKind::SpeakingEnded { call_id } => {
                SwyxEvent::speaking(SwyxEvent::SPEAKING_ENDED, user, call_id, self.at_unix_ms)
            }
            EventKind::StatusChanged { status, origin } => {
                SwyxEvent::status_changed(user, *status, *origin, self.at_unix_ms)
            }
        }
    }
}

/// An RFC 3339 time in unix milliseconds; `None` when it is not one.
pub fn unix_ms_from_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ParsedEvent, String> {
        SwyxEvent::parse(body.as_bytes())
    }

    fn known(body: &str) -> ReceivedEvent {
        match parse(body) {
            Ok(ParsedEvent::Known(e)) => e,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn events_parse_from_the_documented_shapes() {
        let e = known(
            r#"{"type":"speaking.started","swyxUserId":"1001","callId":"c-4711","at":"2026-11-26T10:00:00Z"}"#,
        );
        assert_eq!(
            e.kind,
            EventKind::SpeakingStarted {
                call_id: "c-4711".into()
            }
        );
        assert_eq!(e.at_unix_ms, 1_795_687_200_000);
        let s = known(
            r#"{"type":"status.changed","swyxUserId":"1001","status":"DoNotDisturb","origin":"user","at":"2026-11-26T11:00:00Z"}"#,
        );
        assert_eq!(
            s.kind,
            EventKind::StatusChanged {
                status: OwnStatus::DoNotDisturb,
                origin: StatusOrigin::User
            }
        );
    }

    #[test]
    fn members_of_another_type_or_unknown_ones_are_ignored() {
        // A connector that sends every member it has: `status`/`origin` mean nothing to a
        // speaking event, and a value no status.changed would carry must not make it a 400.
        let e = known(
            r#"{"type":"speaking.ended","swyxUserId":"1001","callId":" c-1 ","status":"Speaking",
                "origin":"sip","line":2,"at":"2026-11-26T10:00:00Z"}"#,
        );
        assert_eq!(
            e.kind,
            EventKind::SpeakingEnded {
                call_id: "c-1".into()
            },
            "callId trimmed, as the user list's ids are"
        );
        let s = known(
            r#"{"type":"status.changed","swyxUserId":"1","status":"Away","origin":"user",
                "callId":null,"device":"SwyxIt!","at":"2026-11-26T10:00:00Z"}"#,
        );
        assert!(matches!(s.kind, EventKind::StatusChanged { .. }));
    }

    #[test]
    fn a_user_id_is_taken_as_sent() {
        let e = known(
            r#"{"type":"speaking.started","swyxUserId":" ","callId":"c","at":"2026-11-26T10:00:00Z"}"#,
        );
        assert_eq!(e.swyx_user_id, " ");
        assert!(
            parse(r#"{"type":"speaking.started","swyxUserId":"","callId":"c","at":"2026-11-26T10:00:00Z"}"#)
                .unwrap_err()
                .contains("`swyxUserId`")
        );
    }

    #[test]
    fn an_unknown_type_needs_no_other_member() {
        assert_eq!(
            parse(r#"{"type":"speaking.stopped"}"#),
            Ok(ParsedEvent::Unknown {
                kind: "speaking.stopped".into()
            })
        );
    }

    #[test]
    fn a_known_type_names_the_member_it_lacks() {
        let problem = |body: &str| parse(body).unwrap_err();
        assert!(problem(r#"{"swyxUserId":"1"}"#).contains("`type`"));
        assert!(problem(r#"[1]"#).contains("object"));
        assert!(problem("{").contains("malformed JSON"));
        let at = r#""at":"2026-11-26T10:00:00Z""#;
        assert!(
            problem(&format!(
                r#"{{"type":"speaking.ended","swyxUserId":"1",{at}}}"#
            ))
            .contains("`callId`")
        );
        assert!(
            problem(&format!(
                r#"{{"type":"speaking.ended","swyxUserId":"1","callId":"  ",{at}}}"#
            ))
            .contains("`callId`")
        );
        assert!(
            problem(&format!(
                r#"{{"type":"speaking.started","callId":"c",{at}}}"#
            ))
            .contains("`swyxUserId`")
        );
        for bad_at in [r#","at":"x""#, ""] {
            for kind in ["speaking.started", "status.changed"] {
                let body = format!(
                    r#"{{"type":"{kind}","swyxUserId":"1","callId":"c","status":"Away","origin":"user"{bad_at}}}"#
                );
                assert!(problem(&body).contains("`at`"), "{body}");
            }
        }
        let status = |status: &str, origin: &str| {
            problem(&format!(
                r#"{{"type":"status.changed","swyxUserId":"1","status":{status},"origin":{origin},{at}}}"#
            ))
        };
        assert!(status(r#""Busy""#, r#""user""#).contains("`status`"));
        assert!(status(r#""Away""#, r#""sip""#).contains("`origin`"));
        assert!(status("null", r#""user""#).contains("`status`"));
    }

    #[test]
    fn what_a_connector_sends_reads_back_the_same() {
        let sent = SwyxEvent::speaking(SwyxEvent::SPEAKING_ENDED, "1", "c", 1_795_687_200_000);
        assert_eq!(sent.at_unix_ms(), Some(1_795_687_200_000));
        let body = serde_json::to_vec(&sent).unwrap();
        let ParsedEvent::Known(read) = SwyxEvent::parse(&body).unwrap() else {
            panic!("known type");
        };
        assert_eq!(read.to_wire(), sent);
        assert_eq!(rfc3339_from_millis(0), "1970-01-01T00:00:00Z");
    }
}
