//! Presence changes as both the HTTP API and the scenario controls make them: sessions (Teams
//! clients, meetings, an app's `setPresence`), the preferred presence (set by the user in Teams or
//! by an app through Graph), out of office; and the views of them.

use std::time::Duration;

use super::super::types::{AppSessionView, PreferredBy, PreferredPresenceView, Presence};
use super::super::wire::PresenceEntity;
use super::aggregate::{
    PREFERRED_COMBOS, Preferred, Session, canonical_combo, preferred_default_life,
};
use super::tenant::{Inner, Step};
use crate::Clock;

fn no_user(id: &str) -> anyhow::Error {
    anyhow::anyhow!("no user with id '{id}' in the emulated tenant")
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Inner {
    /// Sets (or replaces) a session and re-aggregates; `life: None` never expires.
    pub fn put_session(
        &mut self,
        step: &mut Step<'_>,
        user: &str,
        session_id: &str,
        (availability, activity): (&str, &str),
        life: Option<Duration>,
    ) -> anyhow::Result<()> {
        if availability.trim().is_empty() || activity.trim().is_empty() {
            anyhow::bail!("availability and activity must not be empty");
        }
        let touched = self.presence.next_touch();
        let expires_ms = life.map(|l| step.now.saturating_add(ms(l)));
        let record = self.presence.get_mut(user).ok_or_else(|| no_user(user))?;
        record.presence.sessions.insert(
            session_id.to_owned(),
            Session {
                availability: availability.to_owned(),
                activity: activity.to_owned(),
                expires_ms,
                is_app: life.is_some(),
                touched,
            },
        );
        if let Some(at) = expires_ms {
            self.presence.schedule(user, at);
        }
        self.refresh(step, user);
        Ok(())
    }

    /// Ends a session; errors if there is none by that id.
    pub fn remove_session(
        &mut self,
        step: &mut Step<'_>,
        user: &str,
        session_id: &str,
    ) -> anyhow::Result<()> {
        let record = self.presence.get_mut(user).ok_or_else(|| no_user(user))?;
        if record.presence.sessions.remove(session_id).is_none() {
            anyhow::bail!("user '{user}' has no presence session '{session_id}'");
        }
        self.refresh(step, user);
        Ok(())
    }

    /// `setUserPreferredPresence` semantics: only its six combinations; default life by
    /// availability (Busy and DoNotDisturb a day, others seven days).
    pub fn put_preferred(
        &mut self,
        step: &mut Step<'_>,
        user: &str,
        (availability, activity): (&str, &str),
        life: Option<Duration>,
        set_by: PreferredBy,
    ) -> anyhow::Result<()> {
        let (availability, activity) = canonical_combo(PREFERRED_COMBOS, availability, activity).ok_or_else(|| {
            anyhow::anyhow!(
                "{availability}/{activity} is not a preferred presence; allowed: Available/Available, Busy/Busy, DoNotDisturb/DoNotDisturb, BeRightBack/BeRightBack, Away/Away, Offline/OffWork"
            )
        })?;
        let life = life.unwrap_or_else(|| preferred_default_life(availability));
        let expires_ms = step.now.saturating_add(ms(life));
        let record = self.presence.get_mut(user).ok_or_else(|| no_user(user))?;
        record.presence.preferred = Some(Preferred {
            availability: availability.to_owned(),
            activity: activity.to_owned(),
            expires_ms,
            set_by,
        });
        self.presence.schedule(user, expires_ms);
        self.refresh(step, user);
        Ok(())
    }

    pub fn remove_preferred(&mut self, step: &mut Step<'_>, user: &str) -> anyhow::Result<()> {
        let record = self.presence.get_mut(user).ok_or_else(|| no_user(user))?;
        record.presence.preferred = None;
        self.refresh(step, user);
        Ok(())
    }

    pub fn set_out_of_office(
        &mut self,
        step: &mut Step<'_>,
        user: &str,
        oof: bool,
    ) -> anyhow::Result<()> {
        let record = self.presence.get_mut(user).ok_or_else(|| no_user(user))?;
        record.presence.out_of_office = oof;
        self.refresh(step, user);
        Ok(())
    }

    pub fn presence_view(&self, user: &str) -> Option<Presence> {
        self.presence.get(user).map(|r| r.view())
    }

    /// The presence entity as Graph's presence endpoints return it.
    pub fn presence_entity(&self, user: &str) -> Option<PresenceEntity> {
        let p = self.presence_view(user)?;
        Some(PresenceEntity::new(
            user,
            &p.availability,
            &p.activity,
            p.out_of_office,
            Some(&p.sequence_number),
        ))
    }

    pub fn preferred_view(&self, user: &str) -> Option<PreferredPresenceView> {
        let p = self.presence.get(user)?.presence.preferred.as_ref()?;
        Some(PreferredPresenceView {
            availability: p.availability.clone(),
            activity: p.activity.clone(),
            expires_ms: p.expires_ms,
            expiration_date_time: Clock::format_ms(p.expires_ms),
            set_by: p.set_by.clone(),
        })
    }

    /// The live `setPresence` sessions of `user`.
    pub fn app_sessions(&self, user: &str) -> Vec<AppSessionView> {
        let Some(record) = self.presence.get(user) else {
            return Vec::new();
        };
        record
            .presence
            .sessions
            .iter()
            .filter(|(_, s)| s.is_app)
            .map(|(id, s)| {
                let expires_ms = s.expires_ms.unwrap_or(i64::MAX);
                AppSessionView {
                    session_id: id.clone(),
                    availability: s.availability.clone(),
                    activity: s.activity.clone(),
                    expires_ms,
                    expiration_date_time: Clock::format_ms(expires_ms),
                }
            })
            .collect()
    }
}
