//! The memory store's speaking states, and the test hook that stops a writer right after one.

use super::{MemoryStore, put_if_at};
use crate::domain::{SpeakingState, Timestamp};
use crate::store::{SpeakingStore, StoreResult, require};
use async_trait::async_trait;
#[cfg(test)]
use std::sync::PoisonError;

#[async_trait]
impl SpeakingStore for MemoryStore {
    async fn get_speaking(&self, entra_id: &str) -> StoreResult<Option<SpeakingState>> {
        Ok(self.records()?.speaking.get(entra_id).cloned())
    }

    async fn put_speaking(
        &self,
        entra_id: &str,
        state: &SpeakingState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        require("Entra id", entra_id)?;
        put_if_at(
            &mut self.records()?.speaking,
            entra_id,
            state,
            ("revision", |s| s.revision),
            expected_revision,
            &format!("speaking state of {entra_id}"),
        )?;
        #[cfg(test)]
        self.held_after(entra_id, state).await;
        Ok(())
    }

    async fn due_speaking(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<(String, SpeakingState)>> {
        let r = self.records()?;
        let mut due: Vec<(Timestamp, &String, &SpeakingState)> = r
            .speaking
            .iter()
            .filter_map(|(id, s)| s.due_at.filter(|at| *at <= now).map(|at| (at, id, s)))
            .collect();
        due.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|(_, id, s)| (id.clone(), s.clone()))
            .collect())
    }

    async fn get_speakings(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, SpeakingState)>> {
        let r = self.records()?;
        Ok(entra_ids
            .iter()
            .filter_map(|id| Some((id.clone(), r.speaking.get(id)?.clone())))
            .collect())
    }
}

/// A writer to stop right after one speaking state write ([`MemoryStore::hold_after_speaking_write`]).
#[cfg(test)]
pub(super) struct SpeakingHold {
    entra_id: String,
    when: Box<dyn Fn(&SpeakingState) -> bool + Send>,
    reached: tokio::sync::oneshot::Sender<()>,
    release: tokio::sync::oneshot::Receiver<()>,
}

#[cfg(test)]
impl std::fmt::Debug for SpeakingHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeakingHold")
            .field("entra_id", &self.entra_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
impl MemoryStore {
    /// Test hook, for a deterministic interleaving: the next speaking state of `entra_id` that
    /// `when` matches is written as usual, then its writer waits (before it does anything else)
    /// until the test lets it go. The receiver says the write is done, the sender lets it go on.
    #[cfg(test)]
    pub fn hold_after_speaking_write(
        &self,
        entra_id: &str,
        when: impl Fn(&SpeakingState) -> bool + Send + 'static,
    ) -> (
        tokio::sync::oneshot::Receiver<()>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let (reached, reached_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release) = tokio::sync::oneshot::channel();
        let hold = SpeakingHold {
            entra_id: entra_id.to_string(),
            when: Box::new(when),
            reached,
            release,
        };
        *self
            .speaking_hold
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(hold);
        (reached_rx, release_tx)
    }

    /// Waits here if the hook set by [`Self::hold_after_speaking_write`] matches this write.
    #[cfg(test)]
    async fn held_after(&self, entra_id: &str, state: &SpeakingState) {
        let hold = {
            let mut slot = self
                .speaking_hold
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match slot.take() {
                Some(h) if h.entra_id == entra_id && (h.when)(state) => Some(h),
                other => {
                    *slot = other;
                    None
                }
            }
        };
        if let Some(hold) = hold {
            let _ = hold.reached.send(());
            let _ = hold.release.await;
        }
    }
}
