//! Delta query state for `users/delta`
//! (<https://learn.microsoft.com/en-us/graph/delta-query-users>): the state a client carries in
//! `$skiptoken`/`$deltatoken` (opaque to it: base64url JSON holding the round's position and the
//! `$select` and id filter of the first request), and the change sets of rounds in progress,
//! computed once when a deltaLink is followed so that paging through them is cheap.

use std::collections::{BTreeSet, HashMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::directory::{Directory, Summary};

/// Rounds kept for paging; an older round's skiptoken gets a 400 (start again from the deltaLink).
const KEPT_ROUNDS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "phase")]
pub(crate) enum Position {
    /// Paging through the current users (the first round), after this id; `to` is the log
    /// position the round started at, the deltaLink's starting point.
    Initial { after: Option<String>, to: u64 },
    /// Paging through a stored round of changes.
    Changes { round: u64, pos: usize },
    /// A deltaLink: the changes after log position `from`.
    Link { from: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeltaState {
    pub at: Position,
    pub select: Vec<String>,
    /// `$filter=id eq '…' or …` of the first request.
    pub ids: Option<Vec<String>>,
}

impl DeltaState {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(token: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

pub(crate) struct Round {
    /// The log position the round ends at: the next deltaLink starts there.
    pub to: u64,
    /// Changed users (in id order) and what happened to them.
    pub entries: Vec<(String, Summary)>,
}

#[derive(Default)]
pub(crate) struct DeltaRounds {
    rounds: HashMap<u64, Round>,
    order: VecDeque<u64>,
    next: u64,
}

impl DeltaRounds {
    /// Computes the changes after `from` that touch `tracked` properties (or create, delete,
    /// restore a user), limited to `ids` if given; returns the round's number.
    pub fn start(
        &mut self,
        directory: &Directory,
        from: u64,
        tracked: u8,
        ids: Option<&BTreeSet<String>>,
    ) -> u64 {
        let to = directory.seq();
        let entries = directory
            .changes(from, to)
            .into_iter()
            .filter(|(id, s)| {
                (s.created || s.last_lifecycle.is_some() || s.props & tracked != 0)
                    && ids.is_none_or(|ids| ids.contains(id))
            })
            .collect();
        self.next += 1;
        self.rounds.insert(self.next, Round { to, entries });
        self.order.push_back(self.next);
        while self.order.len() > KEPT_ROUNDS {
            if let Some(old) = self.order.pop_front() {
                self.rounds.remove(&old);
            }
        }
        self.next
    }

    pub fn get(&self, round: u64) -> Option<&Round> {
        self.rounds.get(&round)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let state = DeltaState {
            at: Position::Initial {
                after: Some("u1".into()),
                to: 7,
            },
            select: vec!["mail".into()],
            ids: None,
        };
        assert_eq!(DeltaState::decode(&state.encode()), Some(state));
        assert_eq!(DeltaState::decode("not a token"), None);
    }
}
