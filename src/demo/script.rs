//! The scripted day: what Teams users do, applied in the emulated Graph tenant.

use presence_sandbox::graph::GraphEmulator;

/// The Teams client session every demo user is signed in with.
pub const SESSION: &str = "teams-desktop";

/// One Teams state of the mapping table and how a person produces it.
#[derive(Debug, Clone, Copy)]
pub struct TeamsState {
    pub label: &'static str,
    pub availability: &'static str,
    pub activity: &'static str,
    pub out_of_office: bool,
    pub how: How,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// The Teams client reports it (calls, meetings, idle …).
    Session,
    /// The user picks it by hand (a preferred presence).
    ByHand,
    /// The user signs out of Teams.
    SignOut,
}

const fn s(
    label: &'static str,
    availability: &'static str,
    activity: &'static str,
    out_of_office: bool,
    how: How,
) -> TeamsState {
    TeamsState {
        label,
        availability,
        activity,
        out_of_office,
        how,
    }
}

/// Every row of the default mapping table (docs/architecture.md#default-status-mapping).
pub const MAPPING_ROWS: &[TeamsState] = &[
    s("Available", "Available", "Available", false, How::Session),
    s(
        "Available, out of office",
        "Available",
        "OutOfOffice",
        false,
        How::Session,
    ),
    s(
        "Available (out-of-office flag)",
        "Available",
        "Available",
        true,
        How::Session,
    ),
    s("Busy (by hand)", "Busy", "Busy", false, How::ByHand),
    s("Busy (automatic)", "Busy", "Busy", false, How::Session),
    s("In a call", "Busy", "InACall", false, How::Session),
    s(
        "In a conference call",
        "Busy",
        "InAConferenceCall",
        false,
        How::Session,
    ),
    s("In a meeting", "Busy", "InAMeeting", false, How::Session),
    s(
        "In a call, out of office",
        "Busy",
        "InACall",
        true,
        How::Session,
    ),
    s(
        "Do not disturb (by hand)",
        "DoNotDisturb",
        "DoNotDisturb",
        false,
        How::ByHand,
    ),
    s(
        "Presenting",
        "DoNotDisturb",
        "Presenting",
        false,
        How::Session,
    ),
    s("Focusing", "DoNotDisturb", "Focusing", false, How::Session),
    s(
        "Focusing (urgent only)",
        "DoNotDisturb",
        "UrgentInterruptionsOnly",
        false,
        How::Session,
    ),
    s("Away (by hand)", "Away", "Away", false, How::ByHand),
    s("Away (automatic)", "Away", "Away", false, How::Session),
    s(
        "Away, last seen",
        "AvailableIdle",
        "Available",
        false,
        How::Session,
    ),
    s(
        "Away, last seen (busy)",
        "BusyIdle",
        "Busy",
        false,
        How::Session,
    ),
    s("Away (inactive)", "Away", "Inactive", false, How::Session),
    s(
        "Be right back",
        "BeRightBack",
        "BeRightBack",
        false,
        How::ByHand,
    ),
    s("Appear offline", "Offline", "OffWork", false, How::ByHand),
    s(
        "Offline (signed out)",
        "Offline",
        "Offline",
        false,
        How::SignOut,
    ),
    s(
        "Status unknown",
        "PresenceUnknown",
        "PresenceUnknown",
        false,
        How::Session,
    ),
    s(
        "Out of office",
        "OutOfOffice",
        "OutOfOffice",
        false,
        How::Session,
    ),
];

/// Puts `user` into `state`, undoing what another state needed (hand-set status, sign-out, OOF).
pub fn apply(graph: &GraphEmulator, user: &str, state: &TeamsState) -> anyhow::Result<()> {
    match state.how {
        How::SignOut => {
            let _ = graph.clear_preferred_presence(user);
            graph.set_out_of_office(user, false)?;
            let _ = graph.end_client_session(user, SESSION);
        }
        How::ByHand => {
            graph.set_client_session(user, SESSION, "Available", "Available")?;
            graph.set_out_of_office(user, state.out_of_office)?;
            graph.set_preferred_presence(user, state.availability, state.activity, None)?;
        }
        How::Session => {
            let _ = graph.clear_preferred_presence(user);
            graph.set_out_of_office(user, state.out_of_office)?;
            graph.set_client_session(user, SESSION, state.availability, state.activity)?;
        }
    }
    Ok(())
}
