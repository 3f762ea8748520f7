//! One conformance suite for every `Store`: each case in `conformance/` runs against SQLite (in
//! memory), DynamoDB (a real moto_server on loopback, one table per test) and the memory store
//! the unit tests use, plus a few checks that only make sense for one backend.

#[path = "conformance/mod.rs"]
mod conformance;

use crate::support::moto;
use presence_bridge::store::prelude::*;
use presence_bridge::store::{DynamoStore, MemoryStore, SqliteStore, StoreError};
use std::sync::Arc;

async fn sqlite_store() -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open_in_memory().unwrap())
}

async fn dynamodb_store() -> Arc<DynamoStore> {
    let store = DynamoStore::new(moto::client(), moto::unique_table("conformance"));
    store.create_table_if_missing().await.unwrap();
    Arc::new(store)
}

/// Instantiates every case once per backend, as `sqlite::<case>`, `dynamodb::<case>` and
/// `memory::<case>`.
/// Multi-threaded runtimes, so the concurrency cases really run in parallel.
macro_rules! conformance {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::conformance::$case(super::sqlite_store().await).await;
                }
            )+
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::conformance::$case(super::dynamodb_store().await).await;
                }
            )+
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::conformance::$case(std::sync::Arc::new(super::MemoryStore::new())).await;
                }
            )+
        }
    };
}

conformance!(
    user_links_round_trip,
    taken_swyx_id_conflicts_and_keeps_the_old_link,
    relinking_moves_the_swyx_id,
    list_users_is_ordered_by_entra_id,
    users_listed_page_by_page_are_each_listed_once_in_order,
    delete_user_removes_link_and_sync_state,
    concurrent_links_of_one_swyx_id_have_one_winner,
    empty_keys_are_rejected_by_name,
    sync_state_round_trips_exactly,
    stale_expected_revision_conflicts_and_writes_nothing,
    revision_must_grow,
    concurrent_writers_with_one_expected_revision_have_one_winner,
    a_decision_and_its_update_are_written_together_or_not_at_all,
    concurrent_decisions_leave_the_winners_update_pending,
    subscriptions_crud_and_list_order,
    pending_same_revision_replaces_and_older_is_refused,
    delete_pending_only_if_not_newer,
    due_pending_is_oldest_first_and_limited,
    count_and_due_cover_many_entries,
    concurrent_pending_puts_keep_the_newest,
    making_pending_due_moves_only_what_backs_off,
    claim_once_first_then_remembered_then_free_after_expiry,
    a_released_claim_can_be_claimed_again,
    a_claim_is_seen_without_being_taken_until_it_expires,
    concurrent_claims_of_one_key_have_one_winner,
    speaking_state_round_trips_with_revisions,
    due_speaking_is_earliest_first_and_follows_updates,
    concurrent_speaking_writers_have_one_winner,
    accounts_round_trip_exactly,
    creating_an_existing_account_conflicts,
    stale_account_version_conflicts_and_keeps_the_stored_one,
    account_version_must_grow,
    concurrent_account_writers_have_one_winner,
    list_accounts_is_ordered_by_name_and_delete_reports_existence,
    lifecycle_requests_replace_per_event_and_list_oldest_first,
    delete_lifecycle_request_keeps_one_received_meanwhile,
    account_and_lifecycle_keys_are_rejected_by_name,
    link_marks_replace_per_swyx_user_and_list_in_order_whole_or_by_page,
    automatic_links_are_written_with_their_mark_unless_either_side_is_linked,
    user_switches_replace_per_swyx_user_and_unset_ones_remove_the_record,
    batch_reads_return_what_exists_and_skip_the_rest,
    batch_decisions_write_state_and_pending_together_or_not_at_all,
    batch_delete_pendings_clears_only_what_was_delivered,
    decision_inputs_are_the_users_own_records_read_together,
    swyx_event_inputs_are_the_link_switches_and_replay_check_read_together,
);

// ---- SQLite only ----

#[tokio::test]
async fn sqlite_data_persists_across_reopen() {
    use conformance::{T0, account, at, link, pending, state, subscription};
    use presence_bridge::store::LifecycleRequest;
    let missed = LifecycleRequest {
        subscription_id: "sub-1".into(),
        event: "missed".into(),
        received_at: at(5),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bridge.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .put_user(&link("alice", "swyx-1", "zoë@exämple.de"))
            .await
            .unwrap();
        store
            .put_sync_state("alice", &state(u64::MAX, "Busy"), 0)
            .await
            .unwrap();
        store
            .put_subscription(&subscription("sub-1", T0))
            .await
            .unwrap();
        store
            .put_pending(&pending("swyx-1", 3, T0, 2))
            .await
            .unwrap();
        assert!(store.claim_once("key-1", at(60_000), at(0)).await.unwrap());
        store
            .put_account(&account("sync-01", 1, "persisted"), 0)
            .await
            .unwrap();
        store.put_lifecycle_request(&missed).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.list_users().await.unwrap(),
        vec![link("alice", "swyx-1", "zoë@exämple.de")]
    );
    assert_eq!(
        store.get_sync_state("alice").await.unwrap(),
        Some(state(u64::MAX, "Busy"))
    );
    assert_eq!(
        store.list_subscriptions().await.unwrap(),
        vec![subscription("sub-1", T0)]
    );
    assert_eq!(
        store.get_pending("swyx-1").await.unwrap(),
        Some(pending("swyx-1", 3, T0, 2))
    );
    assert!(
        !store.claim_once("key-1", at(60_000), at(1)).await.unwrap(),
        "claim survived"
    );
    assert_eq!(
        store.list_accounts().await.unwrap(),
        vec![account("sync-01", 1, "persisted")]
    );
    assert_eq!(store.list_lifecycle_requests().await.unwrap(), vec![missed]);
}

/// Two handles on one file stand in for two processes (server and CLI): the IMMEDIATE
/// transactions and the busy timeout must still let only one conditional write win.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_handles_on_one_file_let_one_writer_win() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bridge.db");
    let stores = [
        SqliteStore::open(&path).unwrap(),
        SqliteStore::open(&path).unwrap(),
    ];
    for round in 0..20u64 {
        let tasks: Vec<_> = (0..4)
            .map(|w| {
                let store = stores[w % 2].clone();
                let mine = conformance::state(round + 1, &format!("writer-{w}"));
                tokio::spawn(async move {
                    store
                        .put_sync_state("alice", &mine, round)
                        .await
                        .map(|()| mine)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(written) => winners.push(written),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        assert_eq!(
            stores[1].get_sync_state("alice").await.unwrap(),
            winners.pop()
        );
    }
}

/// Another connection (the CLI, `sqlite3`) holds the write lock: writes give up within the lock
/// wait as a transient failure, all of them together rather than one after another, reads go
/// on, and once the lock is released writes succeed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_locked_file_fails_writes_in_time_and_still_answers_reads() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bridge.db");
    let wait = Duration::from_millis(400);
    let store = SqliteStore::open_with_lock_wait(&path, wait).unwrap();
    let mine = conformance::state(1, "before the lock");
    store.put_sync_state("alice", &mine, 0).await.unwrap();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("BEGIN IMMEDIATE; DELETE FROM claims;")
        .unwrap();

    let started = Instant::now();
    let writers: Vec<_> = (0..5u64)
        .map(|i| {
            let store = store.clone();
            let next = conformance::state(2 + i, "while locked");
            tokio::spawn(async move { store.put_sync_state("alice", &next, 1).await })
        })
        .collect();
    for writer in writers {
        let err = writer.await.unwrap().unwrap_err();
        assert!(err.is_transient(), "{err}");
    }
    // One after another, five writers would take five lock waits; and none gave up at once: a
    // write first tried in place (where it may not wait) goes on to wait for the lock.
    assert!(started.elapsed() < wait * 4, "{:?}", started.elapsed());
    assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
    assert_eq!(store.get_sync_state("alice").await.unwrap(), Some(mine));

    holder.execute_batch("ROLLBACK").unwrap();
    let after = conformance::state(2, "after the lock");
    store.put_sync_state("alice", &after, 1).await.unwrap();
    assert_eq!(store.get_sync_state("alice").await.unwrap(), Some(after));
}

/// A lone user's writes run in place, where SQLite's own checkpoint (inside the commit that fills
/// the log) would stall a worker: the store checkpoints on the blocking pool instead. Either way
/// the log must be copied back and reused, not grow with every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_point_writes_keep_the_log_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bridge.db");
    let store = SqliteStore::open(&path).unwrap();
    const WRITES: u64 = 4_000;
    for revision in 1..=WRITES {
        let next = conformance::state(revision, &"x".repeat(600));
        // 50 users in turn, each written over its previous revision.
        let expected = revision.saturating_sub(50);
        store
            .put_sync_state(&format!("user-{}", revision % 50), &next, expected)
            .await
            .unwrap();
    }
    let log = std::fs::metadata(dir.path().join("bridge.db-wal"))
        .unwrap()
        .len();
    // 1,000 frames of 4 KiB (and a 24-byte frame header) when checkpointed; every write adds at
    // least one frame, so without checkpoints it would hold over 4,000.
    assert!(log < 1_200 * 4_120, "the log grew to {log} bytes");
    assert_eq!(
        store.get_sync_state("user-0").await.unwrap(),
        Some(conformance::state(WRITES, &"x".repeat(600)))
    );
}

#[test]
fn sqlite_refuses_a_newer_schema_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bridge.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(err.contains("schema version 99"), "{err}");
}

#[test]
fn sqlite_reports_an_unopenable_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("bridge.db");
    let err = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("cannot open SQLite database") && err.contains("missing-dir"),
        "{err}"
    );
}

// ---- DynamoDB only ----

#[tokio::test]
async fn dynamodb_create_table_is_idempotent_and_keeps_data() {
    let store = dynamodb_store().await;
    store
        .put_user(&conformance::link("alice", "swyx-1", ""))
        .await
        .unwrap();
    store.create_table_if_missing().await.unwrap();
    assert_eq!(store.list_users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn dynamodb_missing_table_is_a_backend_error() {
    let store = DynamoStore::new(moto::client(), moto::unique_table("never-created"));
    match store.get_user("alice").await {
        Err(e @ StoreError::Backend { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("GetItem") && msg.contains("ResourceNotFound"),
                "{msg}"
            );
            assert!(!e.is_transient(), "a missing table is not worth a retry");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}
