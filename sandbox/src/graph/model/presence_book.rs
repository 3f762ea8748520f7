//! Every user's presence sources, what Graph shows for them and its sequence number, plus a
//! heap of expiry times so that the sweep on each request touches only users with something due
//! (not all 100,000 of them).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::super::types::Presence;
use super::aggregate::{Shown, UserPresence};

pub(crate) struct PresenceRecord {
    pub presence: UserPresence,
    pub shown: Shown,
    pub sequence: u64,
}

impl PresenceRecord {
    pub fn view(&self) -> Presence {
        Presence {
            availability: self.shown.availability.clone(),
            activity: self.shown.activity.clone(),
            out_of_office: self.shown.out_of_office,
            sequence_number: format!("{:020}", self.sequence),
        }
    }
}

#[derive(Default)]
pub(crate) struct PresenceBook {
    users: HashMap<String, PresenceRecord>,
    /// Source of sequence numbers: global, so each user's numbers only ever grow.
    seq: u64,
    /// Source of session "recency".
    touch: u64,
    expiries: BinaryHeap<Reverse<(i64, String)>>,
}

impl PresenceBook {
    /// A user with no session (Offline), unless known already.
    pub fn ensure(&mut self, id: &str) {
        if self.users.contains_key(id) {
            return;
        }
        self.seq += 1;
        self.users.insert(
            id.to_owned(),
            PresenceRecord {
                presence: UserPresence::default(),
                shown: Shown {
                    availability: "Offline".into(),
                    activity: "Offline".into(),
                    out_of_office: false,
                },
                sequence: self.seq,
            },
        );
    }

    pub fn remove(&mut self, id: &str) {
        self.users.remove(id);
    }

    pub fn get(&self, id: &str) -> Option<&PresenceRecord> {
        self.users.get(id)
    }

    /// For changes to a user's sources; anything that expires must be [`Self::schedule`]d.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut PresenceRecord> {
        self.users.get_mut(id)
    }

    pub fn next_touch(&mut self) -> u64 {
        self.touch += 1;
        self.touch
    }

    /// Makes the sweep look at `id` again at `at_ms`.
    pub fn schedule(&mut self, id: &str, at_ms: i64) {
        self.expiries.push(Reverse((at_ms, id.to_owned())));
    }

    /// The users with an expiry due at `now_ms` (each once).
    pub fn due(&mut self, now_ms: i64) -> Vec<String> {
        let mut due = Vec::new();
        while self
            .expiries
            .peek()
            .is_some_and(|Reverse((at, _))| *at <= now_ms)
        {
            if let Some(Reverse((_, id))) = self.expiries.pop()
                && !due.contains(&id)
            {
                due.push(id);
            }
        }
        due
    }

    /// Drops what expired and re-aggregates `id`; the new view if what Graph shows changed.
    pub fn refresh(&mut self, id: &str, now_ms: i64) -> Option<Presence> {
        let record = self.users.get_mut(id)?;
        record.presence.expire(now_ms);
        let shown = record.presence.shown();
        if shown == record.shown {
            return None;
        }
        self.seq += 1;
        record.shown = shown;
        record.sequence = self.seq;
        Some(record.view())
    }
}
