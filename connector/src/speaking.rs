//! Turns presence into events. A user whose presence becomes "speaking" opens a speaking period
//! (one call id per period) and `speaking.started` is queued; the first presence that is not
//! speaking closes it with `speaking.ended` and the same id. The open period is stored, so a
//! restart in the middle of a call still ends it with the id it started with.
//!
//! `status.changed` (off by default, `presence.status_changed`): a change of the user's own
//! status seen in SIP presence is reported with origin `user`, unless it matches a
//! Teams-derived status the connector applied to that user within `teams_echo_window` (origin
//! `teams`: not sent, the bridge never sends Teams' own status back to Teams). SIP presence does
//! not say who made a change, so the rule is a time window, not proof: that is why it is off
//! until an operator has checked it against their writer.

use crate::clock::millis_of;
use crate::config::PresenceConfig;
use crate::outbox;
use crate::presence::PresenceState;
use crate::status::StatusBoard;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use swyx_contract::wire::{OwnStatus, StatusOrigin, SwyxEvent, SwyxStatus};
use tokio::sync::Notify;

#[derive(Debug, Clone, Default)]
struct UserState {
    /// The last own status seen (not speaking), to report changes only.
    own: Option<OwnStatus>,
    /// The last Teams-derived status applied, and when (ms).
    applied: Option<(Option<SwyxStatus>, i64)>,
}

pub struct Engine {
    cfg: PresenceConfig,
    store: Arc<Store>,
    wake: Arc<Notify>,
    status: Arc<StatusBoard>,
    users: Mutex<HashMap<String, UserState>>,
}

impl Engine {
    pub fn new(
        cfg: PresenceConfig,
        store: Arc<Store>,
        wake: Arc<Notify>,
        status: Arc<StatusBoard>,
    ) -> Self {
        Self {
            cfg,
            store,
            wake,
            status,
            users: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &PresenceConfig {
        &self.cfg
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<String, UserState>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The API applied a Teams-derived status (for the echo rules).
    pub fn note_applied(&self, user: &str, status: Option<SwyxStatus>, at_ms: i64) {
        self.users().entry(user.to_string()).or_default().applied = Some((status, at_ms));
    }

    /// A presence document for `user` arrived at `at_ms`.
    pub fn on_presence(
        &self,
        user: &str,
        state: &PresenceState,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        if let PresenceState::Unknown(value) = state {
            tracing::warn!(swyx_user_id = %user, value = %value, "unknown <userstatus> value; map it under [presence] to act on it");
            metrics::counter!("connector_presence_unknown_total").increment(1);
            self.status
                .update(|v| *v.unknown_presence_values.entry(value.clone()).or_default() += 1);
            return Ok(());
        }
        let (applied, previous_own) = {
            let users = self.users();
            let u = users.get(user).cloned().unwrap_or_default();
            (u.applied, u.own)
        };
        let teams_speaking = matches!(applied, Some((Some(SwyxStatus::Speaking), _)));
        let speaking = *state == PresenceState::Speaking
            && !(self.cfg.ignore_active_while_teams_speaking && teams_speaking);
        self.set_speaking(user, speaking, at_ms)?;

        let own = match state {
            PresenceState::Available => Some(OwnStatus::Available),
            PresenceState::Away => Some(OwnStatus::Away),
            PresenceState::DoNotDisturb => Some(OwnStatus::DoNotDisturb),
            PresenceState::LoggedOff => Some(OwnStatus::LoggedOff),
            PresenceState::Speaking | PresenceState::Unknown(_) => None,
        };
        let Some(own) = own else { return Ok(()) };
        self.users().entry(user.to_string()).or_default().own = Some(own);
        // The first status seen after a start is where the user is, not a change.
        if !self.cfg.status_changed || previous_own.is_none() || previous_own == Some(own) {
            return Ok(());
        }
        let origin = self.origin(own, applied, at_ms);
        if origin == StatusOrigin::Teams {
            tracing::debug!(swyx_user_id = %user, ?own, "own status follows a Teams-derived status; not reported");
            return Ok(());
        }
        let event = SwyxEvent::status_changed(user, own, origin, at_ms);
        self.store.enqueue(&outbox::row(&event))?;
        self.wake.notify_one();
        Ok(())
    }

    fn origin(
        &self,
        own: OwnStatus,
        applied: Option<(Option<SwyxStatus>, i64)>,
        at_ms: i64,
    ) -> StatusOrigin {
        if own == OwnStatus::LoggedOff {
            return StatusOrigin::System;
        }
        let window = millis_of(self.cfg.teams_echo_window);
        match applied {
            Some((status, when)) if at_ms - when <= window => {
                let same = matches!(
                    (status, own),
                    (None, _)
                        | (Some(SwyxStatus::Available), OwnStatus::Available)
                        | (Some(SwyxStatus::Away), OwnStatus::Away)
                        | (Some(SwyxStatus::DoNotDisturb), OwnStatus::DoNotDisturb)
                );
                if same {
                    StatusOrigin::Teams
                } else {
                    StatusOrigin::User
                }
            }
            _ => StatusOrigin::User,
        }
    }

    /// The user can no longer be watched: an open period ends now, so "In a call" never sticks.
    pub fn on_unwatched(&self, user: &str, at_ms: i64) -> Result<(), StoreError> {
        self.set_speaking(user, false, at_ms)
    }

    fn set_speaking(&self, user: &str, speaking: bool, at_ms: i64) -> Result<(), StoreError> {
        let open = self.store.open_call(user)?;
        match (speaking, open) {
            (true, None) => {
                let call_id = format!("sip-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
                let event = SwyxEvent::speaking(SwyxEvent::SPEAKING_STARTED, user, &call_id, at_ms);
                self.store
                    .speaking_change(user, Some((&call_id, at_ms)), &outbox::row(&event))?;
                tracing::info!(swyx_user_id = %user, %call_id, "speaking started");
                metrics::counter!("connector_speaking_periods_total").increment(1);
            }
            (false, Some(call_id)) => {
                let event = SwyxEvent::speaking(SwyxEvent::SPEAKING_ENDED, user, &call_id, at_ms);
                self.store
                    .speaking_change(user, None, &outbox::row(&event))?;
                tracing::info!(swyx_user_id = %user, %call_id, "speaking ended");
            }
            _ => return Ok(()),
        }
        self.wake.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(status_changed: bool) -> (Engine, Arc<Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("c.db")).unwrap());
        let cfg = PresenceConfig {
            status_changed,
            ..PresenceConfig::default()
        };
        let e = Engine::new(cfg, store.clone(), Arc::new(Notify::new()), Arc::default());
        (e, store, dir)
    }

    fn events(store: &Store) -> Vec<SwyxEvent> {
        let mut out = Vec::new();
        while let Some(item) = store.outbox_head().unwrap() {
            out.push(serde_json::from_slice(&item.body).unwrap());
            store.outbox_done(item.seq).unwrap();
        }
        out
    }

    #[test]
    fn one_call_id_per_speaking_period() {
        let (e, store, _d) = engine(false);
        e.on_presence("1001", &PresenceState::Available, 1).unwrap();
        e.on_presence("1001", &PresenceState::Speaking, 2).unwrap();
        e.on_presence("1001", &PresenceState::Speaking, 3).unwrap();
        e.on_presence("1001", &PresenceState::Available, 4).unwrap();
        let ev = events(&store);
        assert_eq!(
            ev.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["speaking.started", "speaking.ended"]
        );
        assert_eq!(ev[0].call_id, ev[1].call_id);
    }

    #[test]
    fn teams_speaking_is_not_echoed_and_own_changes_are_told_apart() {
        let (e, store, _d) = engine(true);
        e.note_applied("1", Some(SwyxStatus::Speaking), 0);
        e.on_presence("1", &PresenceState::Speaking, 1).unwrap();
        assert!(
            events(&store).is_empty(),
            "a Teams-derived Speaking must not come back as a call"
        );
        e.on_presence("1", &PresenceState::Available, 2).unwrap();
        e.note_applied("1", Some(SwyxStatus::Away), 10);
        e.on_presence("1", &PresenceState::Away, 20).unwrap();
        assert!(
            events(&store).is_empty(),
            "Away applied from Teams is origin teams"
        );
        e.on_presence("1", &PresenceState::DoNotDisturb, 100_000)
            .unwrap();
        let ev = events(&store);
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (ev[0].status, ev[0].origin),
            (Some(OwnStatus::DoNotDisturb), Some(StatusOrigin::User))
        );
    }

    #[test]
    fn an_unwatched_user_stops_speaking() {
        let (e, store, _d) = engine(false);
        e.on_presence("1", &PresenceState::Speaking, 1).unwrap();
        e.on_unwatched("1", 2).unwrap();
        assert_eq!(events(&store).len(), 2);
        assert_eq!(store.open_call("1").unwrap(), None);
    }
}
