//! The step grammar: parsing (strict, with errors that name the problem) and writing back.

use std::time::Duration;

use super::directory::{self, DirectoryStep};
use crate::swyx::{Outage, OwnStatus};

/// The grammar, printed with parse errors.
pub const STEP_HELP: &str = "\
teams USER STATUS                  STATUS = Available | Busy | DoNotDisturb | Away | BeRightBack | Offline
                                   or AVAILABILITY/ACTIVITY (e.g. Busy/InACall); what a user can set by hand
                                   becomes the preferred presence, anything else the session \"teams-desktop\"
teams USER clear                   clear the preferred presence
teams USER signin | signout        start (Available) / end the session \"teams-desktop\"
teams USER session SID STATUS|end  a client or meeting session
teams add ID UPN [NAME…]           add a Teams user
swyx USER call start | end [CALLID]
swyx USER status Available|Away|DoNotDisturb|LoggedOff
swyx add ID EMAIL [NAME…]          add a Swyx user
connector down [DURATION]          503 + Retry-After (DURATION like 60s, 5m, 1h: recovers by itself)
connector off [DURATION]           not listening (connection refused)
connector up
graph down | up
graph lifecycle SUBSCRIPTION_ID reauthorizationRequired|subscriptionRemoved|missed
teams USER mail ADDRESS            make ADDRESS the user's primary address (mail, SMTP:)
teams USER alias ADDRESS           add a secondary address (smtp:)
teams USER disable | enable        block / allow the user's sign-in
teams USER delete [forever]        delete (restorable: teams ID restore) or purge
teams ID restore                   bring a deleted user back
teams group GROUP [MEMBER…]        create GROUP (its id and name) with these members
swyx USER email ADDRESS|none       the Swyx user's e-mail address
swyx USER groups [GROUP…]          the Swyx user's groups
swyx USER remove                   remove the Swyx user
swyx events on | off               whether statuses set by hand send status.changed
graph late SECONDS | off           subscription creates/renewals answer that late
clock +DURATION
show | stats";

/// The session the `teams … signin`/`Busy/InACall` steps use.
pub const DESKTOP_SESSION: &str = "teams-desktop";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Preferred presence if a user can set it by hand, else the desktop session.
    TeamsStatus {
        user: String,
        availability: String,
        activity: String,
    },
    TeamsClear {
        user: String,
    },
    TeamsSession {
        user: String,
        session: String,
        availability: String,
        activity: String,
    },
    TeamsSessionEnd {
        user: String,
        session: String,
    },
    TeamsAdd {
        id: String,
        upn: String,
        name: String,
    },
    SwyxCallStart {
        user: String,
    },
    SwyxCallEnd {
        user: String,
        call_id: Option<String>,
    },
    SwyxStatus {
        user: String,
        status: OwnStatus,
    },
    SwyxAdd {
        id: String,
        email: String,
        name: String,
    },
    Connector {
        mode: Outage,
        lasts: Option<Duration>,
    },
    GraphOutage {
        down: bool,
    },
    GraphLifecycle {
        subscription_id: String,
        event: String,
    },
    Clock(Duration),
    Show,
    Stats,
    /// Addresses, groups, switches: see [`DirectoryStep`].
    Directory(DirectoryStep),
}

impl std::fmt::Display for Step {
    /// The step written back in the scenario grammar (canonical casing).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::TeamsStatus {
                user,
                availability,
                activity,
            } => write!(f, "teams {user} {availability}/{activity}"),
            Step::TeamsClear { user } => write!(f, "teams {user} clear"),
            Step::TeamsSession {
                user,
                session,
                availability,
                activity,
            } => {
                write!(
                    f,
                    "teams {user} session {session} {availability}/{activity}"
                )
            }
            Step::TeamsSessionEnd { user, session } => {
                write!(f, "teams {user} session {session} end")
            }
            Step::TeamsAdd { id, upn, name } => write!(f, "teams add {id} {upn} {name}"),
            Step::SwyxCallStart { user } => write!(f, "swyx {user} call start"),
            Step::SwyxCallEnd {
                user,
                call_id: None,
            } => write!(f, "swyx {user} call end"),
            Step::SwyxCallEnd {
                user,
                call_id: Some(c),
            } => write!(f, "swyx {user} call end {c}"),
            Step::SwyxStatus { user, status } => write!(f, "swyx {user} status {status:?}"),
            Step::SwyxAdd { id, email, name } => write!(f, "swyx add {id} {email} {name}"),
            Step::Connector { mode, lasts } => {
                let word = match mode {
                    Outage::None => "up",
                    Outage::Unavailable => "down",
                    Outage::NotListening => "off",
                };
                write!(f, "connector {word}")?;
                match lasts {
                    Some(d) => write!(f, " {}s", d.as_secs()),
                    None => Ok(()),
                }
            }
            Step::GraphOutage { down } => write!(f, "graph {}", if *down { "down" } else { "up" }),
            Step::GraphLifecycle {
                subscription_id,
                event,
            } => write!(f, "graph lifecycle {subscription_id} {event}"),
            Step::Clock(d) => write!(f, "clock +{}s", d.as_secs()),
            Step::Show => f.write_str("show"),
            Step::Stats => f.write_str("stats"),
            Step::Directory(d) => std::fmt::Display::fmt(d, f),
        }
    }
}

const AVAILABILITIES: [&str; 9] = [
    "Available",
    "AvailableIdle",
    "Away",
    "BeRightBack",
    "Busy",
    "BusyIdle",
    "DoNotDisturb",
    "Offline",
    "PresenceUnknown",
];

/// Activities written in Graph's casing when typed in another; unknown ones pass as typed.
const ACTIVITIES: [&str; 16] = [
    "Available",
    "Away",
    "BeRightBack",
    "Busy",
    "DoNotDisturb",
    "Focusing",
    "InACall",
    "InAConferenceCall",
    "Inactive",
    "InAMeeting",
    "Offline",
    "OffWork",
    "OutOfOffice",
    "PresenceUnknown",
    "Presenting",
    "UrgentInterruptionsOnly",
];

/// Combinations Teams lets a user pick by hand (setUserPreferredPresence).
const SETTABLE: [(&str, &str); 6] = [
    ("Available", "Available"),
    ("Busy", "Busy"),
    ("DoNotDisturb", "DoNotDisturb"),
    ("BeRightBack", "BeRightBack"),
    ("Away", "Away"),
    ("Offline", "OffWork"),
];

pub fn is_user_settable(availability: &str, activity: &str) -> bool {
    SETTABLE
        .iter()
        .any(|(a, b)| *a == availability && *b == activity)
}

/// Parses one step; the error says what is wrong (the caller adds which step).
pub fn parse_step(step: &str) -> Result<Step, String> {
    let w: Vec<&str> = step.split_whitespace().collect();
    let lower: Vec<String> = w.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let s = |x: &str| x.to_string();
    if let Some(directory) = directory::parse(&l, &w) {
        return directory.map(Step::Directory);
    }
    Ok(match l.as_slice() {
        [] => return Err("empty step".into()),
        ["show"] => Step::Show,
        ["stats"] => Step::Stats,
        ["clock", d] => {
            let d = d
                .strip_prefix('+')
                .ok_or("the clock only moves forward: write clock +30m")?;
            Step::Clock(duration(d)?)
        }
        ["graph", "down"] => Step::GraphOutage { down: true },
        ["graph", "up"] => Step::GraphOutage { down: false },
        ["graph", "lifecycle", _, ev] => Step::GraphLifecycle {
            subscription_id: s(w[2]),
            event: lifecycle(ev)?,
        },
        ["connector", "up"] => Step::Connector {
            mode: Outage::None,
            lasts: None,
        },
        ["connector", m @ ("down" | "off"), rest @ ..] if rest.len() <= 1 => Step::Connector {
            mode: if *m == "down" {
                Outage::Unavailable
            } else {
                Outage::NotListening
            },
            lasts: rest.first().map(|d| duration(d)).transpose()?,
        },
        ["teams", "add", _, _, ..] => Step::TeamsAdd {
            id: s(w[2]),
            upn: s(w[3]),
            name: name(&w[4..], w[3]),
        },
        ["swyx", "add", _, _, ..] => Step::SwyxAdd {
            id: s(w[2]),
            email: s(w[3]),
            name: name(&w[4..], w[2]),
        },
        ["teams", _, "clear"] => Step::TeamsClear { user: s(w[1]) },
        ["teams", _, "signin"] => Step::TeamsSession {
            user: s(w[1]),
            session: s(DESKTOP_SESSION),
            availability: s("Available"),
            activity: s("Available"),
        },
        ["teams", _, "signout"] => Step::TeamsSessionEnd {
            user: s(w[1]),
            session: s(DESKTOP_SESSION),
        },
        ["teams", _, "session", _, "end"] => Step::TeamsSessionEnd {
            user: s(w[1]),
            session: s(w[3]),
        },
        ["teams", _, "session", _, _] => {
            let (availability, activity) = teams_status(w[4])?;
            Step::TeamsSession {
                user: s(w[1]),
                session: s(w[3]),
                availability,
                activity,
            }
        }
        ["teams", _, _] => {
            let (availability, activity) = teams_status(w[2])?;
            Step::TeamsStatus {
                user: s(w[1]),
                availability,
                activity,
            }
        }
        ["swyx", _, "call", "start"] => Step::SwyxCallStart { user: s(w[1]) },
        ["swyx", _, "call", "end"] => Step::SwyxCallEnd {
            user: s(w[1]),
            call_id: None,
        },
        ["swyx", _, "call", "end", _] => Step::SwyxCallEnd {
            user: s(w[1]),
            call_id: Some(s(w[4])),
        },
        ["swyx", _, "status", st] => Step::SwyxStatus {
            user: s(w[1]),
            status: st.parse().map_err(|e| format!("{e}"))?,
        },
        [first, ..] => {
            return Err(match *first {
                "teams" | "swyx" | "connector" | "graph" | "clock" => {
                    format!("cannot read this {first} step")
                }
                _ => format!("unknown step kind {:?}", w[0]),
            });
        }
    })
}

/// Parses all steps; the error names the bad step by number and text.
pub fn parse_steps<S: AsRef<str>>(steps: &[S]) -> anyhow::Result<Vec<Step>> {
    steps
        .iter()
        .enumerate()
        .map(|(i, st)| {
            parse_step(st.as_ref()).map_err(|e| {
                anyhow::anyhow!(
                    "step {} {:?}: {e}\n\nsteps:\n{STEP_HELP}",
                    i + 1,
                    st.as_ref()
                )
            })
        })
        .collect()
}

fn name(words: &[&str], fallback: &str) -> String {
    if words.is_empty() {
        fallback.to_string()
    } else {
        words.join(" ")
    }
}

fn duration(d: &str) -> Result<Duration, String> {
    let bad =
        || format!("bad duration {d:?}: write a whole number with s, m or h, e.g. 60s, 30m, 2h");
    let unit = d.chars().last().ok_or_else(bad)?;
    let n: u64 = d[..d.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60).ok_or_else(bad)?,
        'h' => n.checked_mul(3600).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if secs == 0 || secs > 366 * 24 * 3600 {
        return Err(format!("duration {d:?} must be between 1s and a year"));
    }
    Ok(Duration::from_secs(secs))
}

fn lifecycle(ev: &str) -> Result<String, String> {
    ["reauthorizationRequired", "subscriptionRemoved", "missed"]
        .into_iter()
        .find(|e| e.eq_ignore_ascii_case(ev))
        .map(str::to_string)
        .ok_or_else(|| format!("unknown lifecycle event {ev:?}; expected reauthorizationRequired, subscriptionRemoved or missed"))
}

/// `DoNotDisturb` → DoNotDisturb/DoNotDisturb, `Offline` → Offline/OffWork (appear offline),
/// `Busy/InACall` as written; availability names are checked and written in Graph's casing.
fn teams_status(tok: &str) -> Result<(String, String), String> {
    let (a, act) = match tok.split_once('/') {
        Some((a, act)) => (a, Some(act)),
        None => (tok, None),
    };
    let availability = AVAILABILITIES
        .into_iter()
        .find(|x| x.eq_ignore_ascii_case(a))
        .ok_or_else(|| {
            format!(
                "unknown Teams availability {a:?}; expected one of {}",
                AVAILABILITIES.join(", ")
            )
        })?;
    let activity = match act {
        Some(act) if !act.is_empty() && act.chars().all(|c| c.is_ascii_alphanumeric()) => {
            ACTIVITIES
                .into_iter()
                .find(|x| x.eq_ignore_ascii_case(act))
                .map_or_else(|| act.to_string(), str::to_string)
        }
        Some(act) => {
            return Err(format!(
                "bad Teams activity {act:?}: letters only, e.g. InACall"
            ));
        }
        None => SETTABLE
            .iter()
            .find(|(x, _)| *x == availability)
            .map(|(_, act)| act.to_string())
            .ok_or_else(|| {
                format!("{availability} needs an activity, e.g. {availability}/Inactive")
            })?,
    };
    Ok((availability.to_string(), activity))
}
