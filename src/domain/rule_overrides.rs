//! Per-user rules: a user named by an override (by Swyx id, Entra id or e-mail address), or in a
//! Swyx group an override names, is judged by that override's rules file instead of the default
//! mapping. Naming a user beats naming their group; among groups, the first override in the
//! configuration wins (configuration refuses a user or a group named twice).

use super::MappingRules;

/// One `[[mapping.override]]`: whose presences its rules judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOverride {
    /// Swyx ids, Entra ids and e-mail addresses, compared without regard to case.
    pub users: Vec<String>,
    /// Swyx group names, compared trimmed and without regard to case.
    pub swyx_groups: Vec<String>,
    pub rules: MappingRules,
    /// The file the rules came from, for messages.
    pub source: String,
}

/// Who a user is, as the link knows them.
#[derive(Debug, Clone, Copy)]
pub struct UserKeys<'a> {
    pub swyx_user_id: &'a str,
    pub entra_id: &'a str,
    pub email: &'a str,
    /// The Swyx groups the link holds (as of the last users sync).
    pub groups: &'a [String],
}

impl RuleOverride {
    fn names(&self, user: &UserKeys<'_>) -> bool {
        [user.swyx_user_id, user.entra_id, user.email]
            .iter()
            .filter(|k| !k.is_empty())
            .any(|k| self.users.iter().any(|u| u.eq_ignore_ascii_case(k)))
    }

    fn has_group_of(&self, user: &UserKeys<'_>) -> bool {
        user.groups.iter().any(|g| {
            self.swyx_groups
                .iter()
                .any(|o| o.trim().eq_ignore_ascii_case(g.trim()))
        })
    }
}

/// The rules that judge `user`'s presences: their override's, else `default`.
pub fn rules_for<'a>(
    default: &'a MappingRules,
    overrides: &'a [RuleOverride],
    user: &UserKeys<'_>,
) -> &'a MappingRules {
    overrides
        .iter()
        .find(|o| o.names(user))
        .or_else(|| overrides.iter().find(|o| o.has_group_of(user)))
        .map_or(default, |o| &o.rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MappedStatus, SwyxStatus, TeamsPresence};

    #[test]
    fn a_user_named_by_an_override_gets_its_rules_by_any_of_their_keys() {
        let busy_is_dnd = MappingRules::parse(
            "[[rule]]\navailability = \"Busy\"\nactivity = \"*\"\nstatus = \"DoNotDisturb\"\n",
            "sales.toml",
        )
        .unwrap();
        let overrides = vec![RuleOverride {
            users: vec!["1001".into(), "Carol@Contoso.example".into()],
            swyx_groups: Vec::new(),
            rules: busy_is_dnd,
            source: "sales.toml".into(),
        }];
        let default = MappingRules::default();
        let busy = TeamsPresence::new("Busy", "Busy");
        let status = |swyx: &str, email: &str| {
            let user = UserKeys {
                swyx_user_id: swyx,
                entra_id: "e",
                email,
                groups: &[],
            };
            rules_for(&default, &overrides, &user).map(&busy)
        };
        let dnd = MappedStatus::Swyx(SwyxStatus::DoNotDisturb);
        assert_eq!(status("1001", ""), dnd, "by Swyx id");
        assert_eq!(
            status("1003", "carol@contoso.EXAMPLE"),
            dnd,
            "by e-mail, any case"
        );
        assert_eq!(
            status("1002", "bob@contoso.example"),
            MappedStatus::Swyx(SwyxStatus::Away),
            "everyone else: the default table"
        );
    }

    #[test]
    fn a_users_swyx_group_picks_rules_and_naming_the_user_beats_the_group() {
        let rules = |status: &str, file: &str| {
            let text = format!(
                "[[rule]]\navailability = \"Busy\"\nactivity = \"*\"\nstatus = \"{status}\"\n"
            );
            MappingRules::parse(&text, file).unwrap()
        };
        let overrides = vec![
            RuleOverride {
                users: Vec::new(),
                swyx_groups: vec![" Sales ".into()],
                rules: rules("DoNotDisturb", "sales.toml"),
                source: "sales.toml".into(),
            },
            RuleOverride {
                users: vec!["1002".into()],
                swyx_groups: vec!["Support".into()],
                rules: rules("Away", "own.toml"),
                source: "own.toml".into(),
            },
        ];
        let default = MappingRules::default();
        let busy = TeamsPresence::new("Busy", "Busy");
        let status = |swyx: &str, groups: &[String]| {
            let user = UserKeys {
                swyx_user_id: swyx,
                entra_id: "e",
                email: "",
                groups,
            };
            rules_for(&default, &overrides, &user).map(&busy)
        };
        let sales = ["sales".to_string()];
        assert_eq!(
            status("1001", &sales),
            MappedStatus::Swyx(SwyxStatus::DoNotDisturb)
        );
        assert_eq!(
            status("1002", &sales),
            MappedStatus::Swyx(SwyxStatus::Away),
            "named by Swyx id: their own override, not their group's"
        );
        assert_eq!(
            status("1003", &["Support".to_string(), "Sales".to_string()]),
            MappedStatus::Swyx(SwyxStatus::DoNotDisturb),
            "in two groups: the first override in the configuration"
        );
        assert_eq!(
            status("1004", &[]),
            default.map(&busy),
            "in no group an override names: the default table"
        );
    }
}
