//! `[users]`: automatic user linking — how often maintenance runs `users sync`, and the optional
//! scope (an Entra group, transitively, and/or a Swyx group); and which directions sync for
//! everyone (a user's own switches, `users set`, override them).

use super::ConfigError;
use super::check::{Check, text};
use crate::domain::Directions;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsers {
    /// 0 turns the sync in maintenance off (`users sync` still works).
    pub sync_interval_minutes: Option<u64>,
    /// Only members of this Entra group (object id), directly or through nested groups.
    pub entra_group: Option<String>,
    /// Only members of this Swyx group (its name, as the connector lists it).
    pub swyx_group: Option<String>,
    /// Teams → Swyx (default on).
    pub teams_to_swyx: Option<bool>,
    /// Swyx "Speaking" → Teams "In a call" (default on).
    pub swyx_to_teams: Option<bool>,
    /// Swyx "Do not disturb"/"Away" set in SwyxIt! → Teams (default off).
    pub swyx_status_to_teams: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersConfig {
    /// How often maintenance syncs the links; `None` = never (off).
    pub sync_interval: Option<Duration>,
    pub entra_group: Option<String>,
    pub swyx_group: Option<String>,
    /// The directions for every user without a switch of their own.
    pub directions: Directions,
}

pub(super) const NAMES: &[(&str, &str)] = &[
    ("users.sync_interval_minutes", "USERS_SYNC_INTERVAL_MINUTES"),
    ("users.entra_group", "USERS_ENTRA_GROUP"),
    ("users.swyx_group", "USERS_SWYX_GROUP"),
    ("users.teams_to_swyx", "USERS_TEAMS_TO_SWYX"),
    ("users.swyx_to_teams", "USERS_SWYX_TO_TEAMS"),
    ("users.swyx_status_to_teams", "USERS_SWYX_STATUS_TO_TEAMS"),
];

/// An on/off environment variable: `true`/`false`, `on`/`off`, `1`/`0` (any case).
fn switch(setting: &str, value: Option<String>) -> Result<Option<bool>, ConfigError> {
    let Some(v) = value else { return Ok(None) };
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "1" => Ok(Some(true)),
        "false" | "off" | "0" => Ok(Some(false)),
        _ => Err(ConfigError::Invalid {
            setting: setting.to_string(),
            problem: format!("{v:?} is not on or off: use true/false, on/off or 1/0"),
        }),
    }
}

pub(super) fn raw_from_env(
    var: &dyn Fn(&str) -> Option<String>,
    num: &dyn Fn(&str) -> Result<Option<u64>, ConfigError>,
) -> Result<RawUsers, ConfigError> {
    Ok(RawUsers {
        sync_interval_minutes: num("users.sync_interval_minutes")?,
        entra_group: var("users.entra_group"),
        swyx_group: var("users.swyx_group"),
        teams_to_swyx: switch("USERS_TEAMS_TO_SWYX", var("users.teams_to_swyx"))?,
        swyx_to_teams: switch("USERS_SWYX_TO_TEAMS", var("users.swyx_to_teams"))?,
        swyx_status_to_teams: switch(
            "USERS_SWYX_STATUS_TO_TEAMS",
            var("users.swyx_status_to_teams"),
        )?,
    })
}

pub(super) fn validate(raw: RawUsers, check: Check) -> Result<UsersConfig, ConfigError> {
    let defaults = Directions::default();
    let minutes = check.within(
        "users.sync_interval_minutes",
        raw.sync_interval_minutes,
        60,
        0..=10_080,
        " (0 = off; at most a week)",
    )?;
    let entra_group = match text(raw.entra_group) {
        None => None,
        Some(g) => Some(check.guid("users.entra_group", Some(g))?),
    };
    Ok(UsersConfig {
        sync_interval: (minutes > 0).then(|| Duration::from_secs(minutes * 60)),
        entra_group,
        swyx_group: text(raw.swyx_group),
        directions: Directions {
            teams_to_swyx: raw.teams_to_swyx.unwrap_or(defaults.teams_to_swyx),
            swyx_to_teams: raw.swyx_to_teams.unwrap_or(defaults.swyx_to_teams),
            swyx_status_to_teams: raw
                .swyx_status_to_teams
                .unwrap_or(defaults.swyx_status_to_teams),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    #[test]
    fn hourly_by_default_off_at_zero_and_groups_checked() {
        let file = Check::new(Origin::File);
        let cfg = validate(RawUsers::default(), file).unwrap();
        assert_eq!(cfg.sync_interval, Some(Duration::from_secs(3600)));
        assert_eq!((cfg.entra_group, cfg.swyx_group), (None, None));
        let off = RawUsers {
            sync_interval_minutes: Some(0),
            entra_group: Some(" 6E1B1A6C-3D4E-4F5A-9B8C-7D6E5F4A3B2C ".into()),
            swyx_group: Some(" Sales ".into()),
            ..RawUsers::default()
        };
        let cfg = validate(off, file).unwrap();
        assert_eq!(cfg.sync_interval, None);
        assert_eq!(
            cfg.entra_group.as_deref(),
            Some("6e1b1a6c-3d4e-4f5a-9b8c-7d6e5f4a3b2c")
        );
        assert_eq!(cfg.swyx_group.as_deref(), Some("Sales"));
        let bad = RawUsers {
            entra_group: Some("Sales".into()),
            ..RawUsers::default()
        };
        let e = validate(bad, Check::new(Origin::Env)).unwrap_err();
        assert_eq!(e.setting(), "USERS_ENTRA_GROUP");
        let e = validate(
            RawUsers {
                sync_interval_minutes: Some(20_000),
                ..RawUsers::default()
            },
            file,
        )
        .unwrap_err();
        assert!(e.to_string().contains("0 = off"), "{e}");
    }

    #[test]
    fn directions_default_to_swyxs_own_sync_and_switch_from_file_or_environment() {
        let cfg = validate(RawUsers::default(), Check::new(Origin::File)).unwrap();
        assert_eq!(cfg.directions, Directions::default());
        assert!(!cfg.directions.swyx_status_to_teams, "off unless asked for");
        let env = |name: &str| match name {
            "users.teams_to_swyx" => Some("Off".to_string()),
            "users.swyx_status_to_teams" => Some("1".to_string()),
            _ => None,
        };
        let num = |_: &str| Ok(None);
        let raw = raw_from_env(&env, &num).unwrap();
        let cfg = validate(raw, Check::new(Origin::Env)).unwrap();
        assert!(!cfg.directions.teams_to_swyx);
        assert!(cfg.directions.swyx_to_teams);
        assert!(cfg.directions.swyx_status_to_teams);
        let bad = |name: &str| (name == "users.swyx_to_teams").then(|| "maybe".to_string());
        let e = raw_from_env(&bad, &num).unwrap_err();
        assert!(e.to_string().contains("USERS_SWYX_TO_TEAMS"), "{e}");
    }
}
