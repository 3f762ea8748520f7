//! What the emulated SwyxServer knows about its users (names, addresses, groups, statuses,
//! calls), the contract's rule for user ids, and the rule for what SwyxIt! shows.
//!
//! Effective status (what a colleague's SwyxIt! would show), in order:
//! 1. **Speaking** while the user has any active call;
//! 2. else the **Teams-derived** status, if the bridge has set one (not withdrawn);
//! 3. else the user's **own** status (what they set in SwyxIt!, or LoggedOff).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The status a Swyx user sets by hand (or LoggedOff when no client is signed in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OwnStatus {
    Available,
    Away,
    DoNotDisturb,
    LoggedOff,
}

/// A status the bridge may put into a user's Teams-derived slot (the contract's `SwyxStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TeamsStatus {
    Available,
    Away,
    DoNotDisturb,
    Speaking,
}

/// What SwyxIt! shows for the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EffectiveStatus {
    Available,
    Away,
    DoNotDisturb,
    Speaking,
    LoggedOff,
}

impl FromStr for OwnStatus {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "available" => Self::Available,
            "away" => Self::Away,
            "donotdisturb" | "dnd" => Self::DoNotDisturb,
            "loggedoff" | "offline" => Self::LoggedOff,
            _ => anyhow::bail!(
                "unknown Swyx status {s:?}; expected Available, Away, DoNotDisturb or LoggedOff"
            ),
        })
    }
}

impl fmt::Display for EffectiveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<OwnStatus> for EffectiveStatus {
    fn from(s: OwnStatus) -> Self {
        match s {
            OwnStatus::Available => Self::Available,
            OwnStatus::Away => Self::Away,
            OwnStatus::DoNotDisturb => Self::DoNotDisturb,
            OwnStatus::LoggedOff => Self::LoggedOff,
        }
    }
}

impl From<TeamsStatus> for EffectiveStatus {
    fn from(s: TeamsStatus) -> Self {
        match s {
            TeamsStatus::Available => Self::Available,
            TeamsStatus::Away => Self::Away,
            TeamsStatus::DoNotDisturb => Self::DoNotDisturb,
            TeamsStatus::Speaking => Self::Speaking,
        }
    }
}

/// The Teams presence an update came from, as the bridge sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsPresence {
    pub availability: String,
    pub activity: String,
    pub out_of_office: bool,
}

/// The Teams-derived slot of a user. Kept after a withdraw (`status: None`) because the revision
/// rule needs the highest revision applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsSlotView {
    pub status: Option<TeamsStatus>,
    pub revision: u64,
    pub observed_at: String,
    pub teams: TeamsPresence,
    /// Sandbox-clock millis when the connector applied it.
    pub applied_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwyxUserView {
    pub swyx_user_id: String,
    pub name: String,
    pub email: Option<String>,
    /// The Swyx groups the user belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
    pub own_status: OwnStatus,
    pub teams: Option<TeamsSlotView>,
    pub active_calls: Vec<String>,
    pub effective_status: EffectiveStatus,
}

/// Counters a scenario can assert on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwyxStats {
    pub updates_applied: u64,
    /// The same revision again: answered 200, not applied twice.
    pub updates_repeated: u64,
    /// A lower revision than applied: answered 409.
    pub updates_superseded: u64,
    /// Missing, malformed or non-matching signature: 401.
    pub refused_bad_signature: u64,
    /// Timestamp more than 5 minutes off the sandbox clock: 401.
    pub refused_stale_timestamp: u64,
    /// An accepted webhook-id seen again: answered as the first time, not acted on.
    pub refused_replay: u64,
    pub unknown_user: u64,
    pub bad_request: u64,
    pub user_list_requests: u64,
    /// `GET /v1/users/{id}/teams-status` answered.
    pub status_reads: u64,
    pub events_sent: u64,
    /// `status.changed` events delivered (a part of `events_sent`).
    pub status_events_sent: u64,
    pub events_failed: u64,
    pub event_attempts: u64,
    /// Requests answered 503 because of `Outage::Unavailable`.
    pub requests_during_outage: u64,
}

/// One event the emulator sent (or tried to send) to the bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentEvent {
    pub webhook_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub swyx_user_id: String,
    /// The call of a `speaking.*` event; empty for `status.changed`.
    pub call_id: String,
    /// The new own status of a `status.changed` event.
    #[serde(default)]
    pub own_status: Option<OwnStatus>,
    /// `user` for a `status.changed` the user made by hand.
    #[serde(default)]
    pub origin: Option<String>,
    pub at: String,
    pub attempts: u32,
    /// The bridge's last HTTP answer, if any came.
    pub status: Option<u16>,
    pub delivered: bool,
    pub error: Option<String>,
}

pub(crate) struct User {
    pub name: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
    pub own: OwnStatus,
    pub teams: Option<TeamsSlotView>,
    pub calls: Vec<String>,
    /// The call that opened the current speaking period: `speaking.ended` carries its id, so the
    /// bridge can pair the end with the start even when calls overlap.
    pub speaking_call: Option<String>,
}

impl User {
    pub fn effective(&self) -> EffectiveStatus {
        if !self.calls.is_empty() {
            return EffectiveStatus::Speaking;
        }
        match self.teams.as_ref().and_then(|t| t.status) {
            Some(s) => s.into(),
            None => self.own.into(),
        }
    }
}

/// The contract's `SwyxUserId`: 1 to 128 characters, none a control character or `/`, and
/// neither `.` nor `..` (it is a path segment).
pub fn check_swyx_user_id(id: &str) -> Result<(), String> {
    let n = id.chars().count();
    if !(1..=128).contains(&n) {
        return Err(format!("a Swyx user id has 1 to 128 characters, not {n}"));
    }
    if id == "." || id == ".." {
        return Err(format!(
            "{id:?} is not a Swyx user id (it is a path segment)"
        ));
    }
    if id.chars().any(|c| c == '/' || c.is_control()) {
        return Err(format!(
            "Swyx user id {:?} holds '/' or a control character",
            id.escape_debug().to_string()
        ));
    }
    Ok(())
}

/// The body of `PUT /v1/users/{id}/teams-status` (contract: TeamsStatusRequest).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TeamsStatusRequest {
    pub swyx_user_id: String,
    #[allow(dead_code)] // part of the contract; the emulator does not need it
    pub entra_id: String,
    /// Required but nullable: null withdraws. `deserialize_with` stops serde from reading a
    /// missing field as null, which would silently withdraw on a sender's bug.
    #[serde(deserialize_with = "required_nullable")]
    pub status: Option<TeamsStatus>,
    pub revision: u64,
    pub teams: TeamsPresence,
    pub observed_at: String,
}

fn required_nullable<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<TeamsStatus>, D::Error> {
    Option::<TeamsStatus>::deserialize(d)
}

pub(crate) enum ApplyOutcome {
    Applied,
    Repeated,
    Superseded { applied: u64 },
    UnknownUser,
}

#[derive(Default)]
pub(crate) struct State {
    pub users: BTreeMap<String, User>,
    pub stats: SwyxStats,
    pub events: Vec<SentEvent>,
}

impl State {
    pub fn view(&self, id: &str) -> Option<SwyxUserView> {
        self.users.get(id).map(|u| SwyxUserView {
            swyx_user_id: id.to_string(),
            name: u.name.clone(),
            email: u.email.clone(),
            groups: u.groups.clone(),
            own_status: u.own,
            teams: u.teams.clone(),
            active_calls: u.calls.clone(),
            effective_status: u.effective(),
        })
    }

    /// The revision rule: higher applies, equal is idempotent, lower is superseded.
    pub fn apply(&mut self, req: &TeamsStatusRequest, now_ms: i64) -> ApplyOutcome {
        let Some(user) = self.users.get_mut(&req.swyx_user_id) else {
            self.stats.unknown_user += 1;
            return ApplyOutcome::UnknownUser;
        };
        if let Some(slot) = &user.teams {
            if req.revision < slot.revision {
                self.stats.updates_superseded += 1;
                return ApplyOutcome::Superseded {
                    applied: slot.revision,
                };
            }
            if req.revision == slot.revision {
                self.stats.updates_repeated += 1;
                return ApplyOutcome::Repeated;
            }
        }
        user.teams = Some(TeamsSlotView {
            status: req.status,
            revision: req.revision,
            observed_at: req.observed_at.clone(),
            teams: req.teams.clone(),
            applied_at_ms: now_ms,
        });
        self.stats.updates_applied += 1;
        ApplyOutcome::Applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            name: "A".into(),
            email: None,
            groups: vec![],
            own: OwnStatus::Away,
            teams: None,
            calls: vec![],
            speaking_call: None,
        }
    }

    fn slot(status: Option<TeamsStatus>) -> Option<TeamsSlotView> {
        Some(TeamsSlotView {
            status,
            revision: 1,
            observed_at: "2026-11-26T10:00:00Z".into(),
            teams: TeamsPresence {
                availability: "X".into(),
                activity: "Y".into(),
                out_of_office: false,
            },
            applied_at_ms: 0,
        })
    }

    #[test]
    fn effective_status_prefers_calls_then_teams_then_own() {
        let mut u = user();
        assert_eq!(u.effective(), EffectiveStatus::Away);
        u.teams = slot(None);
        assert_eq!(
            u.effective(),
            EffectiveStatus::Away,
            "a withdrawn slot shows the own status"
        );
        u.teams = slot(Some(TeamsStatus::DoNotDisturb));
        assert_eq!(u.effective(), EffectiveStatus::DoNotDisturb);
        u.calls.push("c1".into());
        assert_eq!(u.effective(), EffectiveStatus::Speaking);
    }

    #[test]
    fn swyx_user_ids_follow_the_contract() {
        for good in [
            "1001",
            "alice@contoso.example",
            "Müller, Hans",
            &"x".repeat(128),
        ] {
            assert_eq!(check_swyx_user_id(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "tab\there",
            "nul\u{0}",
            &"x".repeat(129),
        ] {
            assert!(check_swyx_user_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_swyx_user_id("..."),
            Ok(()),
            "only . and .. are path segments"
        );
    }

    #[test]
    fn own_status_parses_case_insensitively_and_names_bad_values() {
        assert_eq!("dnd".parse::<OwnStatus>().unwrap(), OwnStatus::DoNotDisturb);
        assert_eq!(
            "LOGGEDOFF".parse::<OwnStatus>().unwrap(),
            OwnStatus::LoggedOff
        );
        let e = "Busy".parse::<OwnStatus>().unwrap_err().to_string();
        assert!(e.contains("\"Busy\"") && e.contains("LoggedOff"));
    }
}
