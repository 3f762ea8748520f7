//! The connector fake: takes every update (or refuses them while down), holds what it took,
//! and reports call state when a test makes it a 1.2 connector.

use super::{gave_up, lock};
use crate::domain::{HeldStatus, SwyxAction, SwyxCalls, SwyxUpdate};
use crate::outbound::retry::FailureKind;
use crate::swyx::client::{ConnectorError, DeliveryOutcome};
use crate::teams_to_swyx::ports::SwyxConnector;
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// An answer a test makes the connector give to one PUT instead of taking the update.
#[derive(Debug, Clone, Copy)]
pub enum Scripted {
    /// A final 4xx (404 unknown user, 400 …).
    Refuse(u16),
    /// 503, with the connector's `Retry-After`.
    Unavailable { retry_after: Option<Duration> },
}

/// The connector: takes every update, or refuses them all as unavailable while `down`.
#[derive(Default)]
pub struct FakeConnector {
    down: AtomicBool,
    received: Mutex<Vec<SwyxUpdate>>,
    /// The Swyx user of every PUT, in order, taken or not.
    attempted: Mutex<Vec<String>>,
    /// Answers for the next PUTs, first to last.
    script: Mutex<VecDeque<Scripted>>,
    /// What it holds per Swyx user (status, revision), as its user list reports it.
    held: Mutex<HashMap<String, HeldStatus>>,
    /// The calls it reports per Swyx user (contract 1.2); `None`: a 1.1 connector.
    calls: Mutex<Option<HashMap<String, BTreeSet<String>>>>,
    /// Set by [`Self::pause_calls_answer`]: the next call-state answer waits for the test.
    pause: Mutex<
        Option<(
            tokio::sync::oneshot::Sender<()>,
            tokio::sync::oneshot::Receiver<()>,
        )>,
    >,
}

impl FakeConnector {
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Makes the next PUT get `answer` (after those scripted before).
    pub fn answer_next(&self, answer: Scripted) {
        lock(&self.script).push_back(answer);
    }

    /// The Swyx user of every PUT it was sent, taken or not.
    pub fn attempted(&self) -> Vec<String> {
        lock(&self.attempted).clone()
    }

    /// The updates it applied, in order.
    pub fn received(&self) -> Vec<SwyxUpdate> {
        lock(&self.received).clone()
    }

    /// Makes it report call state (contract 1.2), `swyx_user_id` speaking in `calls` (none:
    /// not speaking).
    pub fn speaking(&self, swyx_user_id: &str, calls: &[&str]) {
        let mut reported = lock(&self.calls);
        let reported = reported.get_or_insert_with(HashMap::new);
        if calls.is_empty() {
            reported.remove(swyx_user_id);
        } else {
            reported.insert(
                swyx_user_id.into(),
                calls.iter().map(|c| c.to_string()).collect(),
            );
        }
    }

    /// The next call-state answer is taken as asked for, then waits: the first receiver says it
    /// was asked, the sender lets it answer (what it reported when asked).
    pub fn pause_calls_answer(
        &self,
    ) -> (
        tokio::sync::oneshot::Receiver<()>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let (asked_tx, asked_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel();
        *lock(&self.pause) = Some((asked_tx, release_rx));
        (asked_rx, release_tx)
    }

    /// Makes it hold `held` for `swyx_user_id` (a restore from backup, a lost write).
    pub fn hold(&self, swyx_user_id: &str, held: HeldStatus) {
        lock(&self.held).insert(swyx_user_id.into(), held);
    }
}

#[async_trait]
impl SwyxConnector for FakeConnector {
    async fn send_update(
        &self,
        update: &SwyxUpdate,
        _budget: Duration,
    ) -> Result<DeliveryOutcome, ConnectorError> {
        lock(&self.attempted).push(update.swyx_user_id.clone());
        let scripted = lock(&self.script).pop_front();
        match scripted {
            Some(Scripted::Refuse(status)) => {
                return Err(ConnectorError::Rejected {
                    what: "PUT teams-status".into(),
                    status,
                    answer: format!("{{\"error\":\"refused with {status}\"}}"),
                });
            }
            Some(Scripted::Unavailable { retry_after }) => {
                let mut gave_up = gave_up(FailureKind::Server(503), Duration::ZERO);
                gave_up.last.retry_after = retry_after;
                return Err(ConnectorError::Unavailable {
                    what: "PUT teams-status".into(),
                    source: gave_up,
                });
            }
            None => {}
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(ConnectorError::Unavailable {
                what: "PUT teams-status".into(),
                source: gave_up(FailureKind::Server(503), Duration::ZERO),
            });
        }
        let mut held = lock(&self.held);
        let slot = held
            .entry(update.swyx_user_id.clone())
            .or_insert(HeldStatus {
                status: None,
                revision: 0,
            });
        // The contract: a revision at or below the applied one is answered 409 and ignored.
        if update.revision <= slot.revision {
            return Ok(DeliveryOutcome::Superseded);
        }
        *slot = HeldStatus {
            status: match update.action {
                SwyxAction::Set(s) => Some(s),
                SwyxAction::Withdraw => None,
            },
            revision: update.revision,
        };
        lock(&self.received).push(update.clone());
        Ok(DeliveryOutcome::Applied)
    }

    async fn held_statuses(
        &self,
        _budget: Duration,
    ) -> Result<HashMap<String, HeldStatus>, ConnectorError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(ConnectorError::Unavailable {
                what: "GET users".into(),
                source: gave_up(FailureKind::Server(503), Duration::ZERO),
            });
        }
        Ok(lock(&self.held).clone())
    }

    async fn speaking_now(&self, _budget: Duration) -> Result<SwyxCalls, ConnectorError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(ConnectorError::Unavailable {
                what: "GET users?speaking=true".into(),
                source: gave_up(FailureKind::Server(503), Duration::ZERO),
            });
        }
        let answer = match lock(&self.calls).clone() {
            None => SwyxCalls::NotReported,
            Some(speaking) => SwyxCalls::Reported {
                speaking,
                unknown: Default::default(),
            },
        };
        let pause = lock(&self.pause).take();
        if let Some((asked, release)) = pause {
            let _ = asked.send(());
            let _ = release.await;
        }
        Ok(answer)
    }
}
