//! The embedded store (SQLite): what survives a restart. Per user the last applied Teams-derived
//! status and its revision (the contract's revision rule and `teamsStatus` depend on it), the
//! open speaking period (so a call that outlives a restart ends with the id it started with), and
//! the outbox of signed events not yet accepted by the bridge.
//!
//! Calls are short local writes, made inline under one mutex: the connector's volume (a few
//! changes per user per hour) does not justify a connection pool.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use swyx_contract::wire::SwyxStatus;

#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

/// What the connector holds in one user's Teams-derived slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub status: Option<SwyxStatus>,
    pub revision: u64,
    pub applied_at_ms: i64,
}

/// One event waiting for the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub seq: i64,
    pub webhook_id: String,
    pub body: Vec<u8>,
    pub attempts: u32,
    pub next_attempt_ms: i64,
}

pub struct Store {
    db: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS slots (
    swyx_user_id TEXT PRIMARY KEY,
    status TEXT,
    revision INTEGER NOT NULL,
    applied_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS speaking (
    swyx_user_id TEXT PRIMARY KEY,
    call_id TEXT NOT NULL,
    started_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    last_error TEXT
);
";

fn status_text(s: Option<SwyxStatus>) -> Option<&'static str> {
    s.map(SwyxStatus::as_str)
}

fn parse_status(s: Option<String>) -> Option<SwyxStatus> {
    match s.as_deref()? {
        "Available" => Some(SwyxStatus::Available),
        "Away" => Some(SwyxStatus::Away),
        "DoNotDisturb" => Some(SwyxStatus::DoNotDisturb),
        "Speaking" => Some(SwyxStatus::Speaking),
        _ => None,
    }
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // A missing folder is the commonest first-start problem; create it rather than fail.
            let _ = std::fs::create_dir_all(dir);
        }
        let db = Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(Self { db: Mutex::new(db) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each call is one statement or
        // one transaction), so the poisoned guard is safe to reuse.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn slot(&self, user: &str) -> Result<Option<Slot>, StoreError> {
        Ok(self
            .db()
            .query_row(
                "SELECT status, revision, applied_at_ms FROM slots WHERE swyx_user_id = ?1",
                params![user],
                |r| {
                    Ok(Slot {
                        status: parse_status(r.get(0)?),
                        revision: r.get::<_, i64>(1)?.max(0) as u64,
                        applied_at_ms: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records an applied revision, unless a higher one is already recorded (returns false then).
    pub fn put_slot(&self, user: &str, slot: &Slot) -> Result<bool, StoreError> {
        let revision = i64::try_from(slot.revision)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let n = self.db().execute(
            "INSERT INTO slots (swyx_user_id, status, revision, applied_at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(swyx_user_id) DO UPDATE SET status = ?2, revision = ?3, applied_at_ms = ?4
             WHERE slots.revision < ?3",
            params![user, status_text(slot.status), revision, slot.applied_at_ms],
        )?;
        Ok(n == 1)
    }

    pub fn open_call(&self, user: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .db()
            .query_row(
                "SELECT call_id FROM speaking WHERE swyx_user_id = ?1",
                params![user],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every open speaking period, user → call id (contract 1.2's `speaking`). Small: only the
    /// users speaking now have one.
    pub fn open_calls(&self) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
        let db = self.db();
        let mut stmt = db.prepare("SELECT swyx_user_id, call_id FROM speaking")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Opens or closes a speaking period and queues its event in one transaction, so a crash
    /// never leaves a period without its event or an event without its period.
    pub fn speaking_change(
        &self,
        user: &str,
        open: Option<(&str, i64)>,
        event: &OutboxInsert,
    ) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        match open {
            Some((call_id, started)) => tx.execute(
                "INSERT OR REPLACE INTO speaking (swyx_user_id, call_id, started_ms) VALUES (?1, ?2, ?3)",
                params![user, call_id, started],
            )?,
            None => tx.execute("DELETE FROM speaking WHERE swyx_user_id = ?1", params![user])?,
        };
        insert_outbox(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    pub fn enqueue(&self, event: &OutboxInsert) -> Result<(), StoreError> {
        insert_outbox(&self.db(), event)
    }

    /// The oldest event, due or not (events go out in order).
    pub fn outbox_head(&self) -> Result<Option<OutboxItem>, StoreError> {
        Ok(self
            .db()
            .query_row(
                "SELECT seq, webhook_id, body, attempts, next_attempt_ms FROM outbox ORDER BY seq LIMIT 1",
                [],
                |r| {
                    Ok(OutboxItem {
                        seq: r.get(0)?,
                        webhook_id: r.get(1)?,
                        body: r.get(2)?,
                        attempts: r.get::<_, i64>(3)?.max(0) as u32,
                        next_attempt_ms: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        Ok(self
            .db()
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))?
            .max(0) as u64)
    }

    pub fn outbox_done(&self, seq: i64) -> Result<(), StoreError> {
        self.db()
            .execute("DELETE FROM outbox WHERE seq = ?1", params![seq])?;
        Ok(())
    }

    pub fn outbox_retry(&self, seq: i64, next_ms: i64, error: &str) -> Result<(), StoreError> {
        self.db().execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2, last_error = ?3 WHERE seq = ?1",
            params![seq, next_ms, error],
        )?;
        Ok(())
    }
}

/// A new outbox row: the webhook id is fixed now and kept on every retry.
#[derive(Debug, Clone)]
pub struct OutboxInsert {
    pub webhook_id: String,
    pub body: Vec<u8>,
    pub now_ms: i64,
}

fn insert_outbox(db: &Connection, e: &OutboxInsert) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO outbox (webhook_id, body, next_attempt_ms, created_ms) VALUES (?1, ?2, ?3, ?3)",
        params![e.webhook_id, e.body, e.now_ms],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_only_move_forward_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = Store::open(&path).unwrap();
        let s = |status, revision| Slot {
            status,
            revision,
            applied_at_ms: 1,
        };
        assert!(
            store
                .put_slot("1001", &s(Some(SwyxStatus::Away), 5))
                .unwrap()
        );
        assert!(
            !store
                .put_slot("1001", &s(Some(SwyxStatus::Available), 4))
                .unwrap()
        );
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.slot("1001").unwrap(),
            Some(s(Some(SwyxStatus::Away), 5))
        );
        assert!(store.put_slot("1001", &s(None, 6)).unwrap());
        assert_eq!(store.slot("1001").unwrap().map(|s| s.status), Some(None));
        // Beyond i64 is an error, not a negative revision that silently loses to any other.
        assert!(store.put_slot("1001", &s(None, 1 << 63)).is_err());
        assert_eq!(store.slot("1001").unwrap().map(|s| s.revision), Some(6));
    }

    #[test]
    fn outbox_keeps_order_ids_and_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).unwrap();
        let ev = |id: &str| OutboxInsert {
            webhook_id: id.into(),
            body: b"{}".to_vec(),
            now_ms: 10,
        };
        store
            .speaking_change("1", Some(("c1", 10)), &ev("msg_a"))
            .unwrap();
        store.enqueue(&ev("msg_b")).unwrap();
        assert_eq!(store.open_call("1").unwrap().as_deref(), Some("c1"));
        let head = store.outbox_head().unwrap().unwrap();
        assert_eq!((head.webhook_id.as_str(), head.attempts), ("msg_a", 0));
        store.outbox_retry(head.seq, 99, "503").unwrap();
        let again = store.outbox_head().unwrap().unwrap();
        assert_eq!(
            (
                again.webhook_id.as_str(),
                again.attempts,
                again.next_attempt_ms
            ),
            ("msg_a", 1, 99)
        );
        store.outbox_done(again.seq).unwrap();
        assert_eq!(store.outbox_len().unwrap(), 1);
        store.speaking_change("1", None, &ev("msg_c")).unwrap();
        assert_eq!(store.open_call("1").unwrap(), None);
    }
}
