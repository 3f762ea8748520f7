//! The directory controls of [`GraphEmulator`]: users with their addresses (in bulk for large
//! tenants), address changes, disabling, deleting (restorable) and purging, groups and their
//! members. Every change is visible to `users/delta` as Entra would report it.

use super::directory_types::{DirectoryUser, GroupView, UserUpdate};
use super::emulator::GraphEmulator;

fn err(e: String) -> anyhow::Error {
    anyhow::anyhow!(e)
}

impl GraphEmulator {
    /// Adds a user with every address it has. Ids, UPNs and proxy addresses must be free.
    pub fn add_directory_user(&self, user: DirectoryUser) -> anyhow::Result<()> {
        self.with(|inner, _| inner.add_directory_user(user))
            .map_err(err)
    }

    /// Adds many users under one lock (100,000 take well under a second); stops at the first
    /// one refused, naming it. Returns how many were added.
    pub fn add_directory_users(
        &self,
        users: impl IntoIterator<Item = DirectoryUser>,
    ) -> anyhow::Result<usize> {
        self.with(|inner, _| {
            let mut added = 0;
            for user in users {
                let id = user.id.clone();
                inner
                    .add_directory_user(user)
                    .map_err(|e| anyhow::anyhow!("user {added} ('{id}'): {e}"))?;
                added += 1;
            }
            Ok(added)
        })
    }

    /// Changes a user's name, addresses or state (see [`UserUpdate`]).
    pub fn update_user(&self, id: &str, update: &UserUpdate) -> anyhow::Result<()> {
        self.with(|inner, _| inner.update_user(id, update))
            .map_err(err)
    }

    /// Makes `mail` the user's primary address (mail and `SMTP:`), the old one an alias.
    pub fn set_user_mail(&self, id: &str, mail: &str) -> anyhow::Result<()> {
        let user = self
            .directory_user(id)
            .ok_or_else(|| anyhow::anyhow!("no user '{id}' in the directory"))?;
        let changed = user.with_mail(mail);
        self.update_user(
            id,
            &UserUpdate {
                mail: Some(changed.mail),
                proxy_addresses: Some(changed.proxy_addresses),
                ..UserUpdate::default()
            },
        )
    }

    /// Disabling blocks sign-in: the user's refresh and access tokens stop working.
    pub fn set_account_enabled(&self, id: &str, enabled: bool) -> anyhow::Result<()> {
        self.update_user(
            id,
            &UserUpdate {
                account_enabled: Some(enabled),
                ..UserUpdate::default()
            },
        )
    }

    /// Deletes a user into the deleted items (delta: `@removed` reason `changed`).
    pub fn delete_user(&self, id: &str) -> anyhow::Result<()> {
        self.with(|inner, _| inner.delete_user(id)).map_err(err)
    }

    pub fn restore_user(&self, id: &str) -> anyhow::Result<()> {
        self.with(|inner, _| inner.restore_user(id)).map_err(err)
    }

    /// Deletes a user for good (delta: `@removed` reason `deleted`).
    pub fn purge_user(&self, id: &str) -> anyhow::Result<()> {
        self.with(|inner, _| inner.purge_user(id)).map_err(err)
    }

    /// An active user as the directory holds it.
    pub fn directory_user(&self, id: &str) -> Option<DirectoryUser> {
        self.with(|inner, _| inner.directory.get(id).cloned())
    }

    /// Every active user, in id order.
    pub fn directory_users(&self) -> Vec<DirectoryUser> {
        self.with(|inner, _| inner.directory.after(None).cloned().collect())
    }

    /// Active users.
    pub fn directory_len(&self) -> usize {
        self.with(|inner, _| inner.directory.len())
    }

    /// The active users with `address` as UPN, mail or proxy address (any case).
    pub fn users_with_address(&self, address: &str) -> Vec<String> {
        self.with(|inner, _| inner.directory.by_address(address).into_iter().collect())
    }

    /// Creates (or renames) a group.
    pub fn add_group(&self, id: &str, display_name: &str) -> anyhow::Result<()> {
        self.with(|inner, _| inner.upsert_group(id, display_name))
            .map_err(err)
    }

    /// Replaces a group's direct members (user or group ids).
    pub fn set_group_members(&self, id: &str, members: &[&str]) -> anyhow::Result<()> {
        let members: Vec<String> = members.iter().map(|m| (*m).to_owned()).collect();
        self.with(|inner, _| inner.set_group_members(id, &members))
            .map_err(err)
    }

    pub fn remove_group(&self, id: &str) -> anyhow::Result<()> {
        self.with(|inner, _| inner.groups.remove(id)).map_err(err)
    }

    pub fn group(&self, id: &str) -> Option<GroupView> {
        self.with(|inner, _| inner.groups.view(id))
    }

    pub fn groups(&self) -> Vec<GroupView> {
        self.with(|inner, _| inner.groups.views())
    }
}
