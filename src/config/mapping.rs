//! `[mapping]`: the operator's rules file and the per-user overrides (`[[mapping.override]]`).
//! Their files are read and checked when the app starts (`app::load_overrides`); here only the
//! shape: each override names its file and its users and/or Swyx groups, and no user or group is
//! named twice.

use super::check::Check;
use super::raw::RawMapping;
use super::{ConfigError, RuleOverrideConfig};
use std::collections::HashMap;
use std::path::PathBuf;

/// The operator's rules file, if any, and the per-user overrides (their files are read and
/// checked when the app starts).
pub(super) fn validate(
    raw: RawMapping,
    check: Check,
) -> Result<(Option<PathBuf>, Vec<RuleOverrideConfig>), ConfigError> {
    let mut overrides: Vec<RuleOverrideConfig> = Vec::new();
    let mut named: HashMap<String, PathBuf> = HashMap::new();
    for (i, o) in raw.overrides.into_iter().enumerate() {
        let setting = format!("mapping.override[{}]", i + 1);
        let Some(file) = o.file.filter(|f| !f.trim().is_empty()).map(PathBuf::from) else {
            return Err(check.fail(&setting, "`file` is missing: the rules file for its users"));
        };
        let users: Vec<String> = o.users.iter().map(|u| u.trim().to_string()).collect();
        let swyx_groups: Vec<String> = o.swyx_groups.iter().map(|g| g.trim().to_string()).collect();
        let blank = users.iter().chain(&swyx_groups).any(String::is_empty);
        if (users.is_empty() && swyx_groups.is_empty()) || blank {
            return Err(check.fail(
                &setting,
                format!(
                    "`users` must list Swyx ids, Entra ids or e-mail addresses, and/or \
                     `swyx_groups` Swyx group names (for {})",
                    file.display()
                ),
            ));
        }
        let keys = users.iter().map(|u| ("user", u.to_lowercase())).chain(
            swyx_groups
                .iter()
                .map(|g| ("Swyx group", format!("group:{}", g.to_lowercase()))),
        );
        for (what, key) in keys {
            if let Some(other) = named.insert(key.clone(), file.clone()) {
                let name = key.strip_prefix("group:").unwrap_or(&key);
                return Err(check.fail(
                    &setting,
                    format!(
                        "{what} {name:?} is named for {} and for {}: one rules file per {what}",
                        other.display(),
                        file.display()
                    ),
                ));
            }
        }
        overrides.push(RuleOverrideConfig {
            users,
            swyx_groups,
            file,
        });
    }
    Ok((raw.rules_file.map(PathBuf::from), overrides))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawRuleOverride;
    use crate::config::{Origin, RawConfig};

    fn mapping(toml: &str) -> Result<(Option<PathBuf>, Vec<RuleOverrideConfig>), ConfigError> {
        let raw = RawConfig::from_toml(toml, "c.toml").unwrap();
        validate(raw.mapping, Check::new(Origin::File))
    }

    #[test]
    fn overrides_name_their_file_and_users_once() {
        let (_, overrides) = mapping(
            r#"
[[mapping.override]]
users = ["1001", " anna@contoso.example "]
file = "sales.toml"

[[mapping.override]]
users = ["6e1b1a6c-3d4e-4f5a-9b8c-7d6e5f4a3b2c"]
file = "night.toml"
"#,
        )
        .unwrap();
        assert_eq!(overrides.len(), 2);
        assert_eq!(overrides[0].users, ["1001", "anna@contoso.example"]);
        assert_eq!(overrides[1].file, PathBuf::from("night.toml"));

        let twice = mapping(
            r#"
[[mapping.override]]
users = ["Anna@contoso.example"]
file = "sales.toml"
[[mapping.override]]
users = ["anna@contoso.example"]
file = "night.toml"
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            twice.contains("mapping.override[2]")
                && twice.contains("sales.toml")
                && twice.contains("night.toml"),
            "{twice}"
        );
        let no_file = mapping("[[mapping.override]]\nusers = [\"1001\"]\n")
            .unwrap_err()
            .to_string();
        assert!(no_file.contains("`file` is missing"), "{no_file}");
        let no_users = validate(
            RawMapping {
                rules_file: None,
                overrides: vec![RawRuleOverride {
                    users: vec![],
                    swyx_groups: vec![],
                    file: Some("x.toml".into()),
                }],
            },
            Check::new(Origin::Env),
        )
        .unwrap_err()
        .to_string();
        assert!(no_users.contains("x.toml"), "{no_users}");
        let unknown = RawConfig::from_toml(
            "[[mapping.override]]\nuser = [\"1001\"]\nfile = \"x.toml\"\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("c.toml line 2"), "{unknown}");
    }

    #[test]
    fn overrides_may_name_swyx_groups_each_once() {
        let (_, overrides) = mapping(
            r#"
[[mapping.override]]
swyx_groups = [" Sales "]
file = "sales.toml"

[[mapping.override]]
users = ["1001"]
swyx_groups = ["Night shift"]
file = "night.toml"
"#,
        )
        .unwrap();
        assert_eq!(overrides[0].swyx_groups, ["Sales"]);
        assert!(overrides[0].users.is_empty());
        assert_eq!(overrides[1].users, ["1001"]);
        let twice = mapping(
            r#"
[[mapping.override]]
swyx_groups = ["Sales"]
file = "sales.toml"

[[mapping.override]]
swyx_groups = ["SALES"]
file = "night.toml"
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            twice.contains("Swyx group \"sales\"")
                && twice.contains("one rules file per Swyx group"),
            "{twice}"
        );
    }
}
