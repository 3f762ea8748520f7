//! Public value types of the emulated Entra directory: the users and groups a scenario sets up
//! for automatic user linking, and changes to them.

use serde::{Deserialize, Deserializer, Serialize};

/// An Entra user as a scenario sets it up (and as the directory holds it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUser {
    pub id: String,
    pub display_name: String,
    /// The primary SMTP address, if the user has a mailbox.
    #[serde(default)]
    pub mail: Option<String>,
    pub user_principal_name: String,
    /// Exchange addresses: `SMTP:primary@…` (upper case: the primary one), `smtp:alias@…`.
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
    #[serde(default = "enabled")]
    pub account_enabled: bool,
}

fn enabled() -> bool {
    true
}

impl DirectoryUser {
    /// An enabled user whose mail is the UPN and whose only address is `SMTP:<upn>`.
    pub fn new(id: &str, user_principal_name: &str, display_name: &str) -> Self {
        Self {
            id: id.to_owned(),
            display_name: display_name.to_owned(),
            mail: Some(user_principal_name.to_owned()),
            user_principal_name: user_principal_name.to_owned(),
            proxy_addresses: vec![format!("SMTP:{user_principal_name}")],
            account_enabled: true,
        }
    }

    /// Makes `mail` the primary address (`SMTP:`); the former primary becomes an alias.
    pub fn with_mail(mut self, mail: &str) -> Self {
        for p in &mut self.proxy_addresses {
            if let Some(rest) = p.strip_prefix("SMTP:") {
                *p = format!("smtp:{rest}");
            }
        }
        self.proxy_addresses
            .retain(|p| !p.get(5..).is_some_and(|a| a.eq_ignore_ascii_case(mail)));
        self.proxy_addresses.insert(0, format!("SMTP:{mail}"));
        self.mail = Some(mail.to_owned());
        self
    }

    /// Adds a secondary address (`smtp:alias`).
    pub fn with_alias(mut self, alias: &str) -> Self {
        self.proxy_addresses.push(format!("smtp:{alias}"));
        self
    }

    /// No mailbox: no `mail`, no proxy addresses (a user known by the UPN only).
    pub fn without_mailbox(mut self) -> Self {
        self.mail = None;
        self.proxy_addresses.clear();
        self
    }

    pub fn disabled(mut self) -> Self {
        self.account_enabled = false;
        self
    }
}

/// A change to a user's directory entry; a field left `None` keeps its value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `Some(None)` removes the mail address.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub mail: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_addresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
}

/// Tells a JSON `null` (present: `Some(None)`) from an absent field (`None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A security group and its direct members (users or groups, by id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub id: String,
    pub display_name: String,
    pub members: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_mail_becomes_primary_and_the_old_one_an_alias() {
        let u = DirectoryUser::new("1", "a@contoso.example", "A").with_mail("anna@contoso.example");
        assert_eq!(u.mail.as_deref(), Some("anna@contoso.example"));
        assert_eq!(
            u.proxy_addresses,
            ["SMTP:anna@contoso.example", "smtp:a@contoso.example"]
        );
        let update: UserUpdate = serde_json::from_str(r#"{"mail": null}"#).unwrap();
        assert_eq!(update.mail, Some(None));
        let update: UserUpdate = serde_json::from_str("{}").unwrap();
        assert_eq!(update.mail, None);
    }
}
