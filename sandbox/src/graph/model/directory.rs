//! The Entra users of the tenant, for automatic user linking: ordered by id (so paging is a range
//! scan), indexed by UPN, mail and proxy address (case-insensitive, as Entra compares them), with
//! soft delete, restore and purge, and a change log that delta queries read.
//!
//! Entra's uniqueness rules are kept: ids, UPNs and proxy addresses belong to one object, a
//! soft-deleted one included (it can come back). `mail` is not checked, so a scenario can make
//! two users share one address and test the bridge's duplicate report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::directory_types::{DirectoryUser, UserUpdate};
use super::filter::{Expr, Lit, Prop};

/// Tracked properties, as bits, for delta queries ("only properties in `$select` are tracked").
pub(crate) mod prop {
    pub const DISPLAY_NAME: u8 = 1;
    pub const MAIL: u8 = 2;
    pub const UPN: u8 = 4;
    pub const PROXY_ADDRESSES: u8 = 8;
    pub const ACCOUNT_ENABLED: u8 = 16;
    pub const ALL: u8 = 31;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Created,
    Changed(u8),
    Deleted,
    Restored,
    Purged,
}

struct LogEntry {
    id: String,
    change: Change,
}

/// What happened to one user over a range of the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub created: bool,
    pub props: u8,
    /// The last delete/restore/purge in the range, if any.
    pub last_lifecycle: Option<Change>,
}

#[derive(Default)]
pub(crate) struct Directory {
    users: BTreeMap<String, DirectoryUser>,
    deleted: BTreeMap<String, DirectoryUser>,
    by_upn: HashMap<String, String>,
    by_mail: HashMap<String, BTreeSet<String>>,
    by_proxy: HashMap<String, String>,
    log: Vec<LogEntry>,
}

fn key(s: &str) -> String {
    s.trim().to_lowercase()
}

fn check(user: &DirectoryUser) -> Result<(), String> {
    if user.id.trim().is_empty() || user.display_name.trim().is_empty() {
        return Err("id and displayName must not be empty".into());
    }
    if !user.user_principal_name.contains('@') {
        return Err(format!(
            "userPrincipalName '{}' is not of the form alias@domain",
            user.user_principal_name
        ));
    }
    if let Some(bad) = user.mail.as_deref().filter(|m| !m.contains('@')) {
        return Err(format!("mail '{bad}' is not an e-mail address"));
    }
    match user.proxy_addresses.iter().find(|p| !p.contains(':')) {
        Some(bad) => Err(format!(
            "proxy address '{bad}' needs a type prefix such as SMTP: or smtp:"
        )),
        None => Ok(()),
    }
}

impl Directory {
    pub fn get(&self, id: &str) -> Option<&DirectoryUser> {
        self.users.get(id)
    }

    pub fn is_deleted(&self, id: &str) -> bool {
        self.deleted.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Active users with an id after `after`, in id order.
    pub fn after<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = &'a DirectoryUser> + 'a {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, |a| Excluded(a.to_owned()));
        self.users.range((start, Unbounded)).map(|(_, u)| u)
    }

    pub fn by_upn(&self, upn: &str) -> Option<&str> {
        self.by_upn
            .get(&key(upn))
            .map(String::as_str)
            .filter(|id| self.users.contains_key(*id))
    }

    pub fn by_mail(&self, mail: &str) -> impl Iterator<Item = &String> {
        self.by_mail.get(&key(mail)).into_iter().flatten()
    }

    /// The active user holding a full proxy address such as `smtp:alias@contoso.example`.
    pub fn by_proxy(&self, proxy: &str) -> Option<&str> {
        self.by_proxy
            .get(&key(proxy))
            .map(String::as_str)
            .filter(|id| self.users.contains_key(*id))
    }

    /// The users any of whose addresses (UPN, mail, proxy address) is `address`.
    pub fn by_address(&self, address: &str) -> BTreeSet<String> {
        let mut ids: BTreeSet<String> = self.by_mail(address).cloned().collect();
        ids.extend(self.by_upn(address).map(str::to_owned));
        ids.extend(self.by_proxy(&format!("smtp:{address}")).map(str::to_owned));
        ids
    }

    /// The ids a filter can only match, from the indexes (`None`: it needs a scan). The filter
    /// is still evaluated on each: this only narrows the search.
    pub fn candidates(&self, expr: &Expr) -> Option<BTreeSet<String>> {
        let lookup = |prop: Prop, value: &Lit| -> Option<BTreeSet<String>> {
            let Lit::Str(v) = value else { return None };
            match prop {
                Prop::Id => Some(
                    self.users
                        .get(v)
                        .map(|u| u.id.clone())
                        .into_iter()
                        .collect(),
                ),
                Prop::Mail => Some(self.by_mail(v).cloned().collect()),
                Prop::UserPrincipalName => {
                    Some(self.by_upn(v).map(str::to_owned).into_iter().collect())
                }
                _ => None,
            }
        };
        match expr {
            Expr::Eq {
                prop,
                value,
                negated: false,
            } => lookup(*prop, value),
            Expr::In { prop, values } => values.iter().try_fold(BTreeSet::new(), |mut acc, v| {
                acc.extend(lookup(*prop, v)?);
                Some(acc)
            }),
            Expr::AnyProxy { func: None, value } => Some(
                self.by_proxy(value)
                    .map(str::to_owned)
                    .into_iter()
                    .collect(),
            ),
            Expr::Or(parts) => parts.iter().try_fold(BTreeSet::new(), |mut acc, p| {
                acc.extend(self.candidates(p)?);
                Some(acc)
            }),
            Expr::And(parts) => parts
                .iter()
                .filter_map(|p| self.candidates(p))
                .min_by_key(BTreeSet::len),
            _ => None,
        }
    }

    /// The log position now: a delta round started here reports what changes after it.
    pub fn seq(&self) -> u64 {
        self.log.len() as u64
    }

    /// Adds a new user (its id, UPN and proxy addresses free).
    pub fn insert(&mut self, user: DirectoryUser) -> Result<(), String> {
        check(&user)?;
        if self.users.contains_key(&user.id) || self.deleted.contains_key(&user.id) {
            return Err(format!("a user with id '{}' exists already", user.id));
        }
        self.check_free(&user, None)?;
        self.index(&user);
        self.log(&user.id, Change::Created);
        self.users.insert(user.id.clone(), user);
        Ok(())
    }

    /// Changes a user; returns which tracked properties changed.
    pub fn update(&mut self, id: &str, update: &UserUpdate) -> Result<u8, String> {
        let old = self
            .users
            .get(id)
            .cloned()
            .ok_or_else(|| format!("no user '{id}' in the directory"))?;
        let mut new = old.clone();
        if let Some(v) = &update.display_name {
            new.display_name = v.clone();
        }
        if let Some(v) = &update.mail {
            new.mail = v.clone();
        }
        if let Some(v) = &update.user_principal_name {
            new.user_principal_name = v.clone();
        }
        if let Some(v) = &update.proxy_addresses {
            new.proxy_addresses = v.clone();
        }
        if let Some(v) = update.account_enabled {
            new.account_enabled = v;
        }
        check(&new)?;
        self.check_free(&new, Some(id))?;
        let mut mask = 0;
        mask |= prop::DISPLAY_NAME * u8::from(new.display_name != old.display_name);
        mask |= prop::MAIL * u8::from(new.mail != old.mail);
        mask |= prop::UPN * u8::from(new.user_principal_name != old.user_principal_name);
        mask |= prop::PROXY_ADDRESSES * u8::from(new.proxy_addresses != old.proxy_addresses);
        mask |= prop::ACCOUNT_ENABLED * u8::from(new.account_enabled != old.account_enabled);
        if mask != 0 {
            self.unindex(&old);
            self.index(&new);
            self.users.insert(id.to_owned(), new);
            self.log(id, Change::Changed(mask));
        }
        Ok(mask)
    }

    /// Moves a user to the deleted items (restorable).
    pub fn soft_delete(&mut self, id: &str) -> Result<(), String> {
        let user = self
            .users
            .remove(id)
            .ok_or_else(|| format!("no user '{id}' in the directory"))?;
        if let Some(mail) = &user.mail
            && let Some(ids) = self.by_mail.get_mut(&key(mail))
        {
            ids.remove(id);
        }
        self.deleted.insert(id.to_owned(), user);
        self.log(id, Change::Deleted);
        Ok(())
    }

    pub fn restore(&mut self, id: &str) -> Result<(), String> {
        let user = self
            .deleted
            .remove(id)
            .ok_or_else(|| format!("no deleted user '{id}'"))?;
        self.index(&user);
        self.users.insert(id.to_owned(), user);
        self.log(id, Change::Restored);
        Ok(())
    }

    /// Deletes for good (from the active or the deleted users); its addresses become free.
    pub fn purge(&mut self, id: &str) -> Result<(), String> {
        let user = self
            .users
            .remove(id)
            .or_else(|| self.deleted.remove(id))
            .ok_or_else(|| format!("no user '{id}' in the directory"))?;
        self.unindex(&user);
        self.log(id, Change::Purged);
        Ok(())
    }

    /// What happened to each user between log positions `from` (exclusive) and `to`.
    pub fn changes(&self, from: u64, to: u64) -> BTreeMap<String, Summary> {
        let (from, to) = (from as usize, (to as usize).min(self.log.len()));
        let mut out: BTreeMap<String, Summary> = BTreeMap::new();
        for entry in self.log.get(from..to).unwrap_or_default() {
            let s = out.entry(entry.id.clone()).or_default();
            match entry.change {
                Change::Created => s.created = true,
                Change::Changed(mask) => s.props |= mask,
                other => s.last_lifecycle = Some(other),
            }
        }
        out
    }

    fn log(&mut self, id: &str, change: Change) {
        self.log.push(LogEntry {
            id: id.to_owned(),
            change,
        });
    }

    /// Entra's uniqueness of UPN and proxy addresses (`me`: the user being changed).
    fn check_free(&self, user: &DirectoryUser, me: Option<&str>) -> Result<(), String> {
        let taken = |owner: Option<&String>| owner.is_some_and(|o| Some(o.as_str()) != me);
        if taken(self.by_upn.get(&key(&user.user_principal_name))) {
            return Err(format!(
                "Another object with the same value for property userPrincipalName already exists: '{}'",
                user.user_principal_name
            ));
        }
        match user
            .proxy_addresses
            .iter()
            .find(|p| taken(self.by_proxy.get(&key(p))))
        {
            Some(p) => Err(format!(
                "Another object with the same value for property proxyAddresses already exists: '{p}'"
            )),
            None => Ok(()),
        }
    }

    fn index(&mut self, user: &DirectoryUser) {
        self.by_upn
            .insert(key(&user.user_principal_name), user.id.clone());
        if let Some(mail) = &user.mail {
            self.by_mail
                .entry(key(mail))
                .or_default()
                .insert(user.id.clone());
        }
        for p in &user.proxy_addresses {
            self.by_proxy.insert(key(p), user.id.clone());
        }
    }

    fn unindex(&mut self, user: &DirectoryUser) {
        self.by_upn.remove(&key(&user.user_principal_name));
        if let Some(mail) = &user.mail
            && let Some(ids) = self.by_mail.get_mut(&key(mail))
        {
            ids.remove(&user.id);
        }
        for p in &user.proxy_addresses {
            self.by_proxy.remove(&key(p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, upn: &str) -> DirectoryUser {
        DirectoryUser::new(id, upn, id)
    }

    #[test]
    fn addresses_are_found_case_insensitively_and_kept_unique() {
        let mut d = Directory::default();
        d.insert(user("1", "Anna@Contoso.example").with_alias("a.k@contoso.example"))
            .unwrap();
        assert_eq!(d.by_upn("anna@contoso.EXAMPLE"), Some("1"));
        assert_eq!(d.by_proxy("SMTP:A.K@contoso.example"), Some("1"));
        assert_eq!(
            d.by_address("a.k@contoso.example")
                .into_iter()
                .collect::<Vec<_>>(),
            ["1"]
        );
        let clash = d.insert(user("2", "other@contoso.example").with_alias("A.K@contoso.example"));
        assert!(clash.unwrap_err().contains("proxyAddresses"));
        assert!(d.insert(user("1", "x@contoso.example")).is_err());
    }

    #[test]
    fn the_log_summarises_changes_per_user() {
        let mut d = Directory::default();
        d.insert(user("1", "a@contoso.example")).unwrap();
        let mark = d.seq();
        let update = UserUpdate {
            mail: Some(Some("new@contoso.example".into())),
            ..UserUpdate::default()
        };
        assert_eq!(d.update("1", &update).unwrap(), prop::MAIL);
        assert_eq!(d.update("1", &update).unwrap(), 0, "no change, no log");
        d.insert(user("2", "b@contoso.example")).unwrap();
        d.soft_delete("2").unwrap();
        let changes = d.changes(mark, d.seq());
        assert_eq!(changes["1"].props, prop::MAIL);
        assert_eq!(changes["2"].last_lifecycle, Some(Change::Deleted));
        assert!(
            d.by_upn("b@contoso.example").is_none(),
            "deleted users are not found"
        );
        d.restore("2").unwrap();
        d.purge("2").unwrap();
        assert!(
            d.insert(user("3", "b@contoso.example")).is_ok(),
            "a purged UPN is free"
        );
    }
}
