//! What happens on the SwyxServer that the bridge hears of: calls (the first active call sends
//! `speaking.started`, the last one ending sends `speaking.ended`) and statuses a user sets by
//! hand (`status.changed`, origin `user`, when switched on). A status the bridge applies from
//! Teams goes into its own slot and never sends an event. Changes and their events are
//! serialised, so the bridge sees them in order.

use super::emulator::{SwyxEmulator, unknown};
use super::events::{self, Event};
use super::model::{OwnStatus, SentEvent};
use crate::sync::lock;
use std::sync::atomic::Ordering;

impl SwyxEmulator {
    /// What the Swyx user set by hand. Unknown users are ignored (see [`Self::try_set_own_status`]).
    pub fn set_own_status(&self, user: &str, status: OwnStatus) {
        let _ = self.try_set_own_status(user, status);
    }

    /// Sets the user's own status; its `status.changed` event (if any) is sent in the
    /// background. [`Self::change_own_status`] waits for it instead.
    pub fn try_set_own_status(&self, user: &str, status: OwnStatus) -> anyhow::Result<()> {
        let changed = self.apply_own_status(user, status)?;
        if !changed || !self.should_send_status() {
            return Ok(());
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(user, "swyx: no async runtime here, status.changed not sent");
            return Ok(());
        };
        let me = self.clone();
        let user = user.to_owned();
        runtime.spawn(async move {
            let _order = me.shared.calls.lock().await;
            me.send(Event::StatusChanged {
                user: &user,
                status,
            })
            .await;
        });
        Ok(())
    }

    /// Sets the user's own status by hand and, when it changed and status events are on, sends
    /// `status.changed` (origin `user`); returns the event once delivered or given up.
    pub async fn change_own_status(
        &self,
        user: &str,
        status: OwnStatus,
    ) -> anyhow::Result<Option<SentEvent>> {
        let _order = self.shared.calls.lock().await;
        let changed = self.apply_own_status(user, status)?;
        if !changed || !self.should_send_status() {
            return Ok(None);
        }
        Ok(self.send(Event::StatusChanged { user, status }).await)
    }

    fn apply_own_status(&self, user: &str, status: OwnStatus) -> anyhow::Result<bool> {
        let mut st = lock(&self.shared.state);
        let u = st.users.get_mut(user).ok_or_else(|| unknown(user))?;
        let changed = u.own != status;
        u.own = status;
        Ok(changed)
    }

    fn should_send_status(&self) -> bool {
        self.shared.status_events.load(Ordering::SeqCst)
    }

    /// Starts a call; the user's first active call sends `speaking.started` (if a bridge URL is
    /// set) and returns after its delivery finished or gave up (see [`Self::events_log`]).
    /// Further overlapping calls send nothing: the user is already speaking.
    pub async fn start_call(&self, user: &str) -> anyhow::Result<String> {
        let _order = self.shared.calls.lock().await;
        let call_id = format!("c-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let first = {
            let mut st = lock(&self.shared.state);
            let u = st.users.get_mut(user).ok_or_else(|| unknown(user))?;
            u.calls.push(call_id.clone());
            if u.calls.len() == 1 {
                u.speaking_call = Some(call_id.clone());
            }
            u.calls.len() == 1
        };
        if first {
            let started = Event::Speaking {
                started: true,
                user,
                call_id: &call_id,
            };
            self.send(started).await;
        }
        Ok(call_id)
    }

    /// Ends a call; ending the user's last active call sends `speaking.ended`, with the id of the
    /// call that started the speaking period (the one `speaking.started` named).
    pub async fn end_call(&self, user: &str, call_id: &str) -> anyhow::Result<()> {
        let _order = self.shared.calls.lock().await;
        let ended = {
            let mut st = lock(&self.shared.state);
            let u = st.users.get_mut(user).ok_or_else(|| unknown(user))?;
            let pos = u.calls.iter().position(|c| c == call_id).ok_or_else(|| {
                anyhow::anyhow!("Swyx user {user:?} has no active call {call_id:?}")
            })?;
            u.calls.remove(pos);
            if u.calls.is_empty() {
                u.speaking_call.take().or_else(|| Some(call_id.to_string()))
            } else {
                None
            }
        };
        if let Some(opened_by) = ended {
            let ended = Event::Speaking {
                started: false,
                user,
                call_id: &opened_by,
            };
            self.send(ended).await;
        }
        Ok(())
    }

    /// Sends an event if the bridge's URL is known.
    async fn send(&self, event: Event<'_>) -> Option<SentEvent> {
        let url = lock(&self.shared.bridge_url).clone()?;
        Some(events::deliver(&self.shared, &url, event).await)
    }
}
