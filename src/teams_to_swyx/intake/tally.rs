//! The summary of one collection: counts by outcome, dropped items by reason, one log line.

use super::{ItemError, ItemOutcome, ItemReport, TaskFailed};
use crate::metrics::DropReason;
use crate::telemetry::with_causes;
use std::collections::BTreeMap;
use std::time::Instant;

/// What became of a collection's items: one log line for the whole collection, with the number
/// of dropped items by reason (a flood of forgeries is one line, not one per item).
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) items: usize,
    delivered: usize,
    pending: usize,
    recorded: usize,
    stale: usize,
    unlinked: usize,
    lifecycle: usize,
    pub(super) dropped: usize,
    /// Dropped for a reason that may pass (store failure, contention): Graph should retry.
    pub(super) transient: usize,
    reasons: BTreeMap<&'static str, usize>,
    /// Why each item that changed nothing was dropped (stale and unlinked ones included), for
    /// the metrics.
    pub(super) not_applied: Vec<DropReason>,
    /// The first store failure and the first reason an update was kept pending, as examples.
    store_error: Option<String>,
    pending_reason: Option<String>,
}

impl Tally {
    pub(super) fn of(items: usize, reports: Vec<Result<ItemReport, TaskFailed>>) -> Self {
        let mut tally = Tally {
            items,
            ..Tally::default()
        };
        for report in reports {
            match report {
                Ok(report) => tally.count(report),
                Err(_) => {
                    tally.dropped += 1;
                    tally.transient += 1;
                    *tally.reasons.entry("task failed").or_default() += 1;
                    tally.not_applied.push(DropReason::Internal);
                }
            }
        }
        tally
    }

    /// Whether some item was read or written in the store (a forged or unlinked item alone
    /// proves nothing: it may have been answered from a cache).
    pub(super) fn stored(&self) -> bool {
        self.delivered + self.pending + self.recorded + self.stale + self.lifecycle > 0
    }

    fn count(&mut self, report: ItemReport) {
        match report.delivery {
            Some(Ok(())) => self.delivered += 1,
            Some(Err(reason)) => {
                self.pending += 1;
                self.pending_reason.get_or_insert(reason);
            }
            None => {}
        }
        match report.result {
            Ok(ItemOutcome::Forward(_)) => {}
            Ok(ItemOutcome::Recorded) => self.recorded += 1,
            Ok(ItemOutcome::Stale) => {
                self.stale += 1;
                self.not_applied.push(DropReason::Stale);
            }
            Ok(ItemOutcome::UnlinkedUser) => {
                self.unlinked += 1;
                self.not_applied.push(DropReason::UnlinkedUser);
            }
            Ok(ItemOutcome::Lifecycle) => self.lifecycle += 1,
            Err(reason) => {
                self.dropped += 1;
                *self.reasons.entry(reason.reason()).or_default() += 1;
                self.not_applied.push(match &reason {
                    ItemError::NotAuthentic(e) => e.drop_reason(),
                    ItemError::Store(_) => DropReason::StoreFailure,
                });
                if let ItemError::Store(e) = &reason {
                    self.transient += 1;
                    self.store_error.get_or_insert_with(|| with_causes(&**e));
                }
            }
        }
    }

    pub(super) fn log(&self, started: Instant) {
        let dropped_reasons = self
            .reasons
            .iter()
            .map(|(reason, n)| format!("{reason}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        macro_rules! summary {
            ($level:ident, $message:literal) => {
                tracing::$level!(
                    items = self.items,
                    delivered = self.delivered,
                    pending = self.pending,
                    recorded = self.recorded,
                    stale = self.stale,
                    unlinked = self.unlinked,
                    lifecycle = self.lifecycle,
                    dropped = self.dropped,
                    transient = self.transient,
                    dropped_reasons = %dropped_reasons,
                    store_error = self.store_error.as_deref().unwrap_or("-"),
                    pending_reason = self.pending_reason.as_deref().unwrap_or("-"),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    $message
                )
            };
        }
        if self.dropped > 0 || self.pending > 0 {
            summary!(
                warn,
                "notification collection accepted; items dropped or kept pending"
            );
        } else {
            summary!(info, "notification collection accepted");
        }
    }
}
