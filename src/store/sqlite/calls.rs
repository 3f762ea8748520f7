//! How a call reaches a connection: on tokio's blocking pool, or, for a point read or write of
//! one user's records, at once on the calling thread.
//!
//! A hand-off to the blocking pool costs two thread wake-ups (there and back), more than the
//! point call itself takes (tens of microseconds), and a lone Graph notification or Swyx event
//! makes one or two such calls. So those try first in place: when the connection is free, with
//! SQLite's busy timeout at zero, so a lock held by another process (the CLI next to the server)
//! fails at once instead of blocking a worker; the call is then made again on the blocking pool,
//! where it waits for the lock as before. A failed attempt changed nothing: a statement is
//! atomic, a transaction rolls back when it is dropped.
//!
//! The one slow thing a point write could still do in place is a WAL checkpoint, which SQLite
//! runs inside the commit that fills the log. The writing connection therefore counts the log's
//! frames itself (its WAL hook replaces SQLite's automatic checkpoint) and checkpoints on the
//! blocking pool: once the log is due, writes go there until it has been copied back.

use super::SqliteStore;
use super::rows::Ctx;
use crate::store::{StoreError, StoreResult};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Frames in the write-ahead log past which the writing connection checkpoints it: SQLite's own
/// automatic checkpoint default (about 4 MB of 4 KiB pages).
const CHECKPOINT_FRAMES: i32 = 1000;

/// Which connection a call runs on.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Read,
    Write,
}

impl SqliteStore {
    /// Registers the writing connection's WAL hook: it notes the log's frames after each commit
    /// (and so turns off SQLite's checkpoint inside the commit; [`Self::blocking`] does it).
    pub(super) fn count_wal_frames(conn: &mut Connection) -> StoreResult<Arc<AtomicI32>> {
        let frames = Arc::new(AtomicI32::new(0));
        let noted = Arc::clone(&frames);
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n: i32| {
            noted.store(n, Ordering::Relaxed);
            Ok(())
        }))
        .ctx("register the WAL hook")?;
        Ok(frames)
    }

    /// Waits for `conn` (another call of this process may hold it), within the lock wait.
    async fn lock(
        &self,
        conn: &Arc<Mutex<Connection>>,
    ) -> StoreResult<OwnedMutexGuard<Connection>> {
        tokio::time::timeout(self.lock_wait, Arc::clone(conn).lock_owned())
            .await
            .map_err(|_| StoreError::Unavailable {
                operation: "SQLite".to_string(),
                source: format!(
                    "waited {} ms for the database connection",
                    self.lock_wait.as_millis()
                )
                .into(),
            })
    }

    /// Runs `f` with the held connection on the blocking pool; what is left of the lock wait is
    /// SQLite's busy timeout. After a write, checkpoints the log if it is due.
    async fn blocking<T, F>(
        &self,
        mut conn: OwnedMutexGuard<Connection>,
        deadline: Instant,
        side: Side,
        f: F,
    ) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let frames = Arc::clone(&self.wal_frames);
        // A panic in `f` cannot leave a half-done write: an open transaction rolls back on drop.
        tokio::task::spawn_blocking(move || {
            let left = deadline.saturating_duration_since(Instant::now());
            conn.busy_timeout(left).ctx("set busy timeout")?;
            let out = f(&mut conn);
            if side == Side::Write && checkpoint_due(&frames) {
                checkpoint(&conn, &frames);
            }
            out
        })
        .await
        .map_err(|e| StoreError::backend("SQLite call", e))?
    }

    /// Runs `f` on `side`'s connection on the blocking pool, within the lock wait.
    async fn on<T, F>(&self, side: Side, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = Instant::now() + self.lock_wait;
        let conn = self.lock(self.connection(side)).await?;
        self.blocking(conn, deadline, side, f).await
    }

    /// Runs `f`, a point call, in place when the connection is free and SQLite's lock is not
    /// held elsewhere (see the module's notes); else as [`Self::on`].
    async fn on_quick<T, F>(&self, side: Side, f: F) -> StoreResult<T>
    where
        F: Fn(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = Instant::now() + self.lock_wait;
        let Ok(mut conn) = Arc::clone(self.connection(side)).try_lock_owned() else {
            return self.on(side, f).await;
        };
        if !(side == Side::Write && checkpoint_due(&self.wal_frames)) {
            conn.busy_timeout(Duration::ZERO).ctx("set busy timeout")?;
            match f(&mut conn) {
                // SQLite's lock is held by another process: wait for it off the worker.
                Err(StoreError::Unavailable { .. }) => {}
                done => return done,
            }
        }
        self.blocking(conn, deadline, side, f).await
    }

    fn connection(&self, side: Side) -> &Arc<Mutex<Connection>> {
        match side {
            Side::Read => &self.reader,
            Side::Write => &self.writer,
        }
    }

    /// Runs `f` on the reading connection.
    pub(super) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.on(Side::Read, f).await
    }

    /// As [`Self::run`], for a point read of one user's records: in place when it can be.
    pub(super) async fn run_quick<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: Fn(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.on_quick(Side::Read, f).await
    }

    /// Runs `f` (one writing statement, atomic on its own) on the writing connection.
    pub(super) async fn exec<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.on(Side::Write, f).await
    }

    /// Runs `f` inside a `BEGIN IMMEDIATE` transaction, committed when `f` succeeds.
    pub(super) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.exec(move |conn| in_transaction(conn, f)).await
    }

    /// As [`Self::write`], for a point write of one user's records: in place when it can be.
    pub(super) async fn write_quick<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: Fn(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.on_quick(Side::Write, move |conn| in_transaction(conn, &f))
            .await
    }
}

fn in_transaction<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("begin transaction")?;
    let out = f(&tx)?;
    tx.commit().ctx("commit")?;
    Ok(out)
}

fn checkpoint_due(frames: &AtomicI32) -> bool {
    frames.load(Ordering::Relaxed) >= CHECKPOINT_FRAMES
}

/// Copies the log back into the database without waiting for readers or writers (a reader
/// still on old frames keeps them; the next checkpoint gets them). Best effort: a failure leaves
/// the log to grow until the next one, and is logged.
fn checkpoint(conn: &Connection, frames: &AtomicI32) {
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match done {
        // Every frame copied: the next commit starts the log over.
        Ok((log, copied)) if log == copied => frames.store(0, Ordering::Relaxed),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "SQLite WAL checkpoint failed"),
    }
}
