//! Directory changes a scenario makes (users, their addresses, disabling, deleting; groups and
//! members) and the sign-in side of accounts (device-code approval, refresh tokens, revocation),
//! keeping the presence book and the credentials in step with the directory.

use super::super::directory_types::{DirectoryUser, UserUpdate};
use super::auth::DeviceState;
use super::tenant::{Inner, Step};

/// What a sync account consents to in the device login.
const SYNC_ACCOUNT_SCOPE: &str = "https://graph.microsoft.com/Presence.Read.All offline_access";

impl Inner {
    /// Adds a user (with an Offline presence). Entra's uniqueness rules apply.
    pub fn add_directory_user(&mut self, user: DirectoryUser) -> Result<(), String> {
        let id = user.id.clone();
        self.directory.insert(user)?;
        self.presence.ensure(&id);
        Ok(())
    }

    /// Adds or renames a user the simple way: mail = UPN, one `SMTP:` address.
    pub fn upsert_user(&mut self, id: &str, upn: &str, display_name: &str) -> Result<(), String> {
        let Some(old) = self.directory.get(id).cloned() else {
            return self.add_directory_user(DirectoryUser::new(id, upn, display_name));
        };
        let mut update = UserUpdate {
            display_name: Some(display_name.to_owned()),
            user_principal_name: Some(upn.to_owned()),
            ..UserUpdate::default()
        };
        if old.mail.as_deref() == Some(old.user_principal_name.as_str()) {
            let fresh = DirectoryUser::new(id, upn, display_name);
            update.mail = Some(fresh.mail);
            update.proxy_addresses = Some(fresh.proxy_addresses);
        }
        self.directory.update(id, &update).map(|_| ())
    }

    /// Changes a user's addresses, name or state; disabling ends its sign-ins.
    pub fn update_user(&mut self, id: &str, update: &UserUpdate) -> Result<(), String> {
        self.directory.update(id, update)?;
        if update.account_enabled == Some(false) {
            self.auth.revoke_user(id);
        }
        Ok(())
    }

    /// Soft delete: gone from lists and presence, restorable.
    pub fn delete_user(&mut self, id: &str) -> Result<(), String> {
        self.directory.soft_delete(id)?;
        self.presence.remove(id);
        self.auth.revoke_user(id);
        Ok(())
    }

    pub fn restore_user(&mut self, id: &str) -> Result<(), String> {
        self.directory.restore(id)?;
        self.presence.ensure(id);
        Ok(())
    }

    /// Permanent delete (from the active or the deleted users).
    pub fn purge_user(&mut self, id: &str) -> Result<(), String> {
        self.directory.purge(id)?;
        self.presence.remove(id);
        self.groups.forget_member(id);
        self.auth.revoke_user(id);
        Ok(())
    }

    pub fn upsert_group(&mut self, id: &str, display_name: &str) -> Result<(), String> {
        self.groups.upsert(id, display_name, &self.directory)
    }

    pub fn set_group_members(&mut self, id: &str, members: &[String]) -> Result<(), String> {
        self.groups.set_members(id, members, &self.directory)
    }

    /// A delegated sync account (its id; the existing id for a known UPN).
    pub fn add_sync_account(&mut self, upn: &str) -> Result<String, String> {
        if let Some(id) = self.directory.by_upn(upn) {
            return Ok(id.to_owned());
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.add_directory_user(DirectoryUser::new(&id, upn, upn))?;
        Ok(id)
    }

    fn signed_in_user(&self, upn: &str) -> anyhow::Result<String> {
        let id = self
            .directory
            .by_upn(upn)
            .ok_or_else(|| anyhow::anyhow!("no user '{upn}' in the emulated tenant"))?;
        if self.directory.get(id).is_some_and(|u| !u.account_enabled) {
            anyhow::bail!("the account '{upn}' is disabled");
        }
        Ok(id.to_owned())
    }

    /// "The admin signs in as `upn` and consents" for a pending device login.
    pub fn approve_device_code(
        &mut self,
        step: &Step<'_>,
        user_code: &str,
        upn: &str,
    ) -> anyhow::Result<()> {
        let user_id = self.signed_in_user(upn)?;
        self.auth.find_pending_device(user_code, step.now)?.state = DeviceState::Approved(user_id);
        Ok(())
    }

    pub fn deny_device_code(&mut self, step: &Step<'_>, user_code: &str) -> anyhow::Result<()> {
        self.auth.find_pending_device(user_code, step.now)?.state = DeviceState::Declined;
        Ok(())
    }

    /// A refresh token as if `upn` had just completed a device login for the sync-account scope.
    pub fn issue_refresh_token(&mut self, step: &Step<'_>, upn: &str) -> anyhow::Result<String> {
        let user_id = self.signed_in_user(upn)?;
        Ok(self
            .auth
            .issue_refresh(&user_id, SYNC_ACCOUNT_SCOPE, step.now))
    }

    /// Entra's "revoke sessions" (unknown users have none).
    pub fn revoke_sign_ins(&mut self, upn: &str) {
        if let Some(id) = self.directory.by_upn(upn).map(str::to_owned) {
            self.auth.revoke_user(&id);
        }
    }
}
