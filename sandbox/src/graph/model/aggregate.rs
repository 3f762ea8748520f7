//! One user's presence sources and how Teams aggregates them
//! (<https://learn.microsoft.com/en-us/graph/cloud-communications-manage-presence-state>):
//! no live session → Offline; a preferred presence beats sessions, except that a preferred
//! Available or Busy gives way to a session in a call (what Swyx's help page observes of Teams);
//! among sessions DoNotDisturb > Busy > Available > Away, ties to the most recent.

use std::collections::HashMap;
use std::time::Duration;

use super::super::types::PreferredBy;

/// A user-chosen status (`setUserPreferredPresence`), by the user in Teams or by an app.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Preferred {
    pub availability: String,
    pub activity: String,
    pub expires_ms: i64,
    pub set_by: PreferredBy,
}

/// A presence session: a Teams client or meeting (no expiry) or an app's `setPresence` session.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Session {
    pub availability: String,
    pub activity: String,
    pub expires_ms: Option<i64>,
    pub is_app: bool,
    /// Global order of the last change, for "ties: the most recent".
    pub touched: u64,
}

#[derive(Default)]
pub(crate) struct UserPresence {
    pub preferred: Option<Preferred>,
    pub sessions: HashMap<String, Session>,
    pub out_of_office: bool,
}

/// What Graph shows for a user (without the sequence number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shown {
    pub availability: String,
    pub activity: String,
    pub out_of_office: bool,
}

fn rank(availability: &str) -> u8 {
    match availability.to_ascii_lowercase().as_str() {
        "donotdisturb" => 4,
        "busy" | "busyidle" => 3,
        "available" | "availableidle" => 2,
        "away" | "berightback" => 1,
        _ => 0,
    }
}

fn is_in_a_call(s: &Session) -> bool {
    s.availability.eq_ignore_ascii_case("Busy")
        && (s.activity.eq_ignore_ascii_case("InACall")
            || s.activity.eq_ignore_ascii_case("InAConferenceCall"))
}

impl UserPresence {
    /// Drops what has expired at `now_ms`; true if anything went.
    pub fn expire(&mut self, now_ms: i64) -> bool {
        let before = self.sessions.len();
        self.sessions
            .retain(|_, s| s.expires_ms.is_none_or(|e| e > now_ms));
        let mut changed = self.sessions.len() != before;
        if self
            .preferred
            .as_ref()
            .is_some_and(|p| p.expires_ms <= now_ms)
        {
            self.preferred = None;
            changed = true;
        }
        changed
    }

    /// The aggregated presence (call [`Self::expire`] first).
    pub fn shown(&self) -> Shown {
        let (availability, activity) = self.pick();
        Shown {
            availability: availability.to_owned(),
            activity: activity.to_owned(),
            out_of_office: self.out_of_office,
        }
    }

    fn pick(&self) -> (&str, &str) {
        let best = self
            .sessions
            .values()
            .max_by_key(|s| (rank(&s.availability), s.touched));
        let Some(best) = best else {
            // A preferred presence only shows while some session exists.
            return ("Offline", "Offline");
        };
        if let Some(p) = &self.preferred {
            let yields = (p.availability == "Available" && p.activity == "Available")
                || (p.availability == "Busy" && p.activity == "Busy");
            let call = self
                .sessions
                .values()
                .filter(|s| is_in_a_call(s))
                .max_by_key(|s| s.touched);
            return match call {
                Some(call) if yields => (&call.availability, &call.activity),
                _ => (&p.availability, &p.activity),
            };
        }
        (&best.availability, &best.activity)
    }
}

/// Canonical spelling of an allowed `(availability, activity)` pair, matched case-insensitively.
pub(crate) fn canonical_combo(
    allowed: &[(&'static str, &'static str)],
    availability: &str,
    activity: &str,
) -> Option<(&'static str, &'static str)> {
    allowed
        .iter()
        .find(|(a, b)| a.eq_ignore_ascii_case(availability) && b.eq_ignore_ascii_case(activity))
        .copied()
}

/// `setPresence` combinations
/// (<https://learn.microsoft.com/en-us/graph/api/presence-setpresence?view=graph-rest-1.0>).
pub(crate) const APP_COMBOS: &[(&str, &str)] = &[
    ("Available", "Available"),
    ("Busy", "InACall"),
    ("Busy", "InAConferenceCall"),
    ("Away", "Away"),
    ("DoNotDisturb", "Presenting"),
];

/// `setUserPreferredPresence` combinations
/// (<https://learn.microsoft.com/en-us/graph/api/presence-setuserpreferredpresence?view=graph-rest-1.0>).
pub(crate) const PREFERRED_COMBOS: &[(&str, &str)] = &[
    ("Available", "Available"),
    ("Busy", "Busy"),
    ("DoNotDisturb", "DoNotDisturb"),
    ("BeRightBack", "BeRightBack"),
    ("Away", "Away"),
    ("Offline", "OffWork"),
];

/// Default life of a preferred presence: Busy and DoNotDisturb one day, others seven days.
pub(crate) fn preferred_default_life(availability: &str) -> Duration {
    let days = if matches!(availability, "Busy" | "DoNotDisturb") {
        1
    } else {
        7
    };
    Duration::from_secs(days * 86_400)
}

/// Parses an ISO 8601 duration of the forms Graph uses (`PT5M`, `PT1H30M`, `P1D`, `PT90S`).
pub(crate) fn parse_iso_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("'{s}' is not an ISO 8601 duration like PT5M or PT4H");
    let rest = s.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let mut total = 0f64;
    let mut any = false;
    for (part, units) in [
        (date, &[('W', 604_800.0), ('D', 86_400.0)][..]),
        (
            time.unwrap_or(""),
            &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..],
        ),
    ] {
        let mut num = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let idx = units[next_unit..]
                .iter()
                .position(|(u, _)| *u == c)
                .ok_or_else(bad)?
                + next_unit;
            let value: f64 = num.parse().map_err(|_| bad())?;
            total += value * units[idx].1;
            next_unit = idx + 1;
            num.clear();
            any = true;
        }
        if !num.is_empty() {
            return Err(bad());
        }
    }
    if !any || !total.is_finite() || total > 1e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(av: &str, ac: &str, touched: u64) -> Session {
        Session {
            availability: av.into(),
            activity: ac.into(),
            expires_ms: None,
            is_app: false,
            touched,
        }
    }

    fn user(preferred: Option<(&str, &str)>, sessions: &[(&str, &str)]) -> UserPresence {
        let mut u = UserPresence {
            preferred: preferred.map(|(a, b)| Preferred {
                availability: a.into(),
                activity: b.into(),
                expires_ms: i64::MAX,
                set_by: PreferredBy::User,
            }),
            ..UserPresence::default()
        };
        for (i, (a, b)) in sessions.iter().enumerate() {
            u.sessions.insert(format!("s{i}"), session(a, b, i as u64));
        }
        u
    }

    fn shown(u: &UserPresence) -> (String, String) {
        let s = u.shown();
        (s.availability, s.activity)
    }

    #[test]
    fn seed_cases() {
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            shown(&user(
                Some(("DoNotDisturb", "DoNotDisturb")),
                &[("Busy", "InACall")]
            )),
            pair("DoNotDisturb", "DoNotDisturb")
        );
        assert_eq!(
            shown(&user(
                Some(("Available", "Available")),
                &[("Busy", "InACall")]
            )),
            pair("Busy", "InACall")
        );
        assert_eq!(
            shown(&user(
                Some(("Busy", "Busy")),
                &[("Busy", "InAConferenceCall")]
            )),
            pair("Busy", "InAConferenceCall")
        );
        assert_eq!(
            shown(&user(Some(("Away", "Away")), &[("Busy", "InACall")])),
            pair("Away", "Away")
        );
        assert_eq!(
            shown(&user(Some(("Available", "Available")), &[])),
            pair("Offline", "Offline")
        );
        assert_eq!(shown(&user(None, &[])), pair("Offline", "Offline"));
    }

    #[test]
    fn session_priority_and_ties() {
        let u = user(
            None,
            &[
                ("Away", "Away"),
                ("DoNotDisturb", "Presenting"),
                ("Busy", "InAMeeting"),
                ("Available", "Available"),
            ],
        );
        assert_eq!(shown(&u).0, "DoNotDisturb");
        let u = user(None, &[("Busy", "InAMeeting"), ("Busy", "InACall")]);
        assert_eq!(shown(&u).1, "InACall", "the most recent of equal rank wins");
        let u = user(None, &[("Available", "Available"), ("Away", "Away")]);
        assert_eq!(shown(&u).0, "Available");
    }

    #[test]
    fn expiry_drops_sessions_and_preferences() {
        let mut u = user(Some(("Busy", "Busy")), &[("Available", "Available")]);
        u.sessions.get_mut("s0").unwrap().expires_ms = Some(100);
        assert!(!u.expire(99));
        assert!(u.expire(100));
        assert_eq!(shown(&u).0, "Offline");
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_iso_duration("PT5M").unwrap(),
            Duration::from_secs(300)
        );
        assert_eq!(
            parse_iso_duration("PT1H30M").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_iso_duration("P1DT1S").unwrap(),
            Duration::from_secs(86_401)
        );
        assert_eq!(
            parse_iso_duration("PT0.5S").unwrap(),
            Duration::from_millis(500)
        );
        for bad in ["", "5M", "PT", "P", "PTM", "PT5", "PT5M5H", "P5H", "PT1X"] {
            assert!(parse_iso_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn combos_match_case_insensitively() {
        assert_eq!(
            canonical_combo(APP_COMBOS, "busy", "inacall"),
            Some(("Busy", "InACall"))
        );
        assert_eq!(canonical_combo(APP_COMBOS, "Busy", "Busy"), None);
    }
}
