//! The contract's JSON bodies (from `swyx-contract`) and their conversion from the domain's
//! types: the domain keeps its own `SwyxStatus`, the wire its own, and this is the one place
//! that maps one onto the other.

use crate::domain::{SwyxAction, SwyxStatus, SwyxUpdate};
use swyx_contract::wire::SwyxStatus as WireStatus;
pub use swyx_contract::wire::{
    EventKind, OwnStatus, ParsedEvent, ReceivedEvent, StatusOrigin, SwyxDirectoryUser, SwyxEvent,
    SwyxUserList, TeamsPresenceBody, TeamsStatusRequest, TeamsStatusState, rfc3339_from_millis,
    unix_ms_from_rfc3339,
};

pub fn to_wire(s: SwyxStatus) -> WireStatus {
    match s {
        SwyxStatus::Available => WireStatus::Available,
        SwyxStatus::Away => WireStatus::Away,
        SwyxStatus::DoNotDisturb => WireStatus::DoNotDisturb,
        SwyxStatus::Speaking => WireStatus::Speaking,
    }
}

pub fn from_wire(s: WireStatus) -> SwyxStatus {
    match s {
        WireStatus::Available => SwyxStatus::Available,
        WireStatus::Away => SwyxStatus::Away,
        WireStatus::DoNotDisturb => SwyxStatus::DoNotDisturb,
        WireStatus::Speaking => SwyxStatus::Speaking,
    }
}

/// The PUT body for one update.
pub fn status_request(u: &SwyxUpdate) -> TeamsStatusRequest {
    TeamsStatusRequest {
        swyx_user_id: u.swyx_user_id.clone(),
        entra_id: u.entra_id.clone(),
        status: match u.action {
            SwyxAction::Set(s) => Some(to_wire(s)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PresenceValue, Timestamp};

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
        let v = serde_json::to_value(status_request(&u)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"swyxUserId": "1001", "entraId": "e", "status": null, "revision": 3,
                "teams": {"availability": "Offline", "activity": "Offline", "outOfOffice": true},
                "observedAt": "1970-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn every_status_maps_both_ways() {
        for s in SwyxStatus::ALL {
            assert_eq!(from_wire(to_wire(s)), s);
            assert_eq!(to_wire(s).as_str(), s.as_str());
        }
    }
}
