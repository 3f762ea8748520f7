//! `[users]`: automatic user linking — how often maintenance runs `users sync`, and the optional
//! scope (an Entra group, transitively, and/or a Swyx group).

use super::ConfigError;
use super::check::{Check, text};
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
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersConfig {
    /// How often maintenance syncs the links; `None` = never (off).
    pub sync_interval: Option<Duration>,
    pub entra_group: Option<String>,
    pub swyx_group: Option<String>,
}

pub(super) const NAMES: &[(&str, &str)] = &[
    ("users.sync_interval_minutes", "USERS_SYNC_INTERVAL_MINUTES"),
    ("users.entra_group", "USERS_ENTRA_GROUP"),
    ("users.swyx_group", "USERS_SWYX_GROUP"),
];

pub(super) fn raw_from_env(
    var: &dyn Fn(&str) -> Option<String>,
    num: &dyn Fn(&str) -> Result<Option<u64>, ConfigError>,
) -> Result<RawUsers, ConfigError> {
    Ok(RawUsers {
        sync_interval_minutes: num("users.sync_interval_minutes")?,
        entra_group: var("users.entra_group"),
        swyx_group: var("users.swyx_group"),
    })
}

pub(super) fn validate(raw: RawUsers, check: Check) -> Result<UsersConfig, ConfigError> {
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
}
