//! Per-user rules: a user named by an override (by Swyx id, Entra id or e-mail address) is
//! judged by that override's rules file instead of the default mapping. The first override that
//! names the user wins (configuration refuses a user named twice, so the order never matters).

use super::MappingRules;

/// One `[[mapping.override]]`: whose presences its rules judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOverride {
    /// Swyx ids, Entra ids and e-mail addresses, compared without regard to case.
    pub users: Vec<String>,
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
}

impl RuleOverride {
    fn names(&self, user: &UserKeys<'_>) -> bool {
        [user.swyx_user_id, user.entra_id, user.email]
            .iter()
            .filter(|k| !k.is_empty())
            .any(|k| self.users.iter().any(|u| u.eq_ignore_ascii_case(k)))
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
}
