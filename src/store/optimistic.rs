//! The one read → decide → conditional-write loop of the bridge. A record that concurrent
//! writers share (a user's sync state or speaking state, a sync account) is written on condition
//! that it is still what was read; a writer that loses the race reads the newer record and
//! decides again on it, so no decision is ever made on stale data and none is lost.
//!
//! The decision is a plain function of what was read: it runs once per attempt and must not
//! call anything outside (the caller does that before or after the update).

use super::{StoreError, StoreResult};

/// Attempts (read, decide, write) before [`update`] gives up with [`StoreError::Contended`].
/// Every lost race means another writer just changed the same record, so eight in a row is a
/// burst the caller should leave to its own retry path (Graph's redelivery, the connector's
/// retry, the next maintenance run) instead of holding a webhook request open; two concurrent
/// writers, the common case, need at most two.
pub const MAX_ATTEMPTS: usize = 8;

/// What the decision makes of the record it read.
#[derive(Debug)]
pub enum Step<W, T> {
    /// Write `W` (conditional on what was read); when the write wins, the update returns `T`.
    Write(W, T),
    /// Nothing to write; the update returns `T` as it is.
    Done(T),
}

/// Reads with `read`, decides with `decide` and writes with `write` until a write wins (or
/// nothing needs writing). `write` fails with [`StoreError::Conflict`] when the record changed
/// since it was read; that starts the next attempt. Any other error ends the update at once.
/// `what` names the record for the error after [`MAX_ATTEMPTS`] lost races.
pub async fn update<R, W, T, ReadFuture, WriteFuture>(
    what: impl FnOnce() -> String,
    mut read: impl FnMut() -> ReadFuture,
    mut decide: impl FnMut(R) -> Step<W, T>,
    mut write: impl FnMut(W) -> WriteFuture,
) -> StoreResult<T>
where
    ReadFuture: Future<Output = StoreResult<R>>,
    WriteFuture: Future<Output = StoreResult<()>>,
{
    for _ in 0..MAX_ATTEMPTS {
        let current = read().await?;
        match decide(current) {
            Step::Done(out) => return Ok(out),
            Step::Write(next, out) => match write(next).await {
                Ok(()) => return Ok(out),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            },
        }
    }
    Err(StoreError::Contended {
        what: what(),
        attempts: MAX_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A counter record whose writes lose the race `losses` times first.
    struct Record {
        value: Cell<u64>,
        losses: Cell<usize>,
        writes: Cell<usize>,
    }

    impl Record {
        fn new(losses: usize) -> Self {
            Self {
                value: Cell::new(0),
                losses: Cell::new(losses),
                writes: Cell::new(0),
            }
        }

        fn write(&self, next: u64) -> StoreResult<()> {
            self.writes.set(self.writes.get() + 1);
            if self.losses.get() > 0 {
                // Another writer got there first.
                self.losses.set(self.losses.get() - 1);
                self.value.set(self.value.get() + 10);
                return Err(StoreError::conflict("counter moved"));
            }
            self.value.set(next);
            Ok(())
        }

        async fn increment(&self) -> StoreResult<u64> {
            update(
                || "counter".to_string(),
                || std::future::ready(Ok(self.value.get())),
                |v| Step::Write(v + 1, v + 1),
                |next| std::future::ready(self.write(next)),
            )
            .await
        }
    }

    #[tokio::test]
    async fn a_lost_race_decides_again_on_the_newer_record() {
        let record = Record::new(2);
        assert_eq!(record.increment().await.unwrap(), 21);
        assert_eq!(record.value.get(), 21, "built on both other writes");
        assert_eq!(record.writes.get(), 3);
    }

    #[tokio::test]
    async fn it_gives_up_after_the_documented_limit_naming_the_record() {
        let record = Record::new(usize::MAX);
        let err = record.increment().await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Contended { what, attempts } if what == "counter" && *attempts == MAX_ATTEMPTS),
            "{err:?}"
        );
        assert!(err.is_transient());
        assert_eq!(record.writes.get(), MAX_ATTEMPTS);
    }

    #[tokio::test]
    async fn nothing_to_write_returns_without_writing() {
        let writes = Cell::new(0);
        let out = update(
            || "counter".to_string(),
            || std::future::ready(Ok(7u64)),
            |v| Step::<u64, _>::Done(v * 2),
            |_| {
                writes.set(writes.get() + 1);
                std::future::ready(Ok(()))
            },
        )
        .await
        .unwrap();
        assert_eq!(out, 14);
        assert_eq!(writes.get(), 0);
    }

    #[tokio::test]
    async fn any_other_error_ends_the_update_at_once() {
        let reads = Cell::new(0);
        let err = update(
            || "counter".to_string(),
            || {
                reads.set(reads.get() + 1);
                std::future::ready(Ok(1u64))
            },
            |v| Step::Write(v + 1, ()),
            |_| std::future::ready(Err(StoreError::invalid("key is empty"))),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
        assert_eq!(reads.get(), 1);
    }
}
