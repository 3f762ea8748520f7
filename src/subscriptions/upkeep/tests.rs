use super::*;
use crate::graph::sealed::TokenSealer;
use crate::store::MemoryStore;
use crate::subscriptions::sync_accounts::enroll;

fn sealer() -> TokenSealer {
    TokenSealer::from_key_text(&TokenSealer::generate_key_text()).unwrap()
}

fn users(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

#[tokio::test]
async fn a_token_rotation_meanwhile_does_not_postpone_a_new_users_assignment() {
    let (store, sealer) = (MemoryStore::new(), sealer());
    let t0 = Timestamp(0);
    enroll(&store, &sealer, "sync1", "refresh-1", t0)
        .await
        .unwrap();
    let listed = store.list_accounts().await.unwrap();
    // Another process rotates the account's refresh token after maintenance listed it.
    enroll(&store, &sealer, "sync1", "refresh-2", t0)
        .await
        .unwrap();

    let shards = plan_shards(&listed, &users(&["alice"]), 650);
    let saved = save_assignments(&store, listed, shards.assigned, &shards.changed)
        .await
        .unwrap();

    assert_eq!(saved[0].assigned, ["alice"]);
    let stored = store.get_account("sync1").await.unwrap().unwrap();
    assert_eq!(stored, saved[0]);
    let token = sealer.open(&stored.sealed_refresh_token, "sync1").unwrap();
    assert_eq!(token, "refresh-2", "the rotated token is kept");
}

#[tokio::test]
async fn an_assignment_another_run_wrote_meanwhile_stands_until_the_next_run() {
    let (store, sealer) = (MemoryStore::new(), sealer());
    enroll(&store, &sealer, "sync1", "refresh-1", Timestamp(0))
        .await
        .unwrap();
    let listed = store.list_accounts().await.unwrap();
    let mut other_run = listed[0].clone();
    other_run.assigned = vec!["bob".into()];
    other_run.version += 1;
    store
        .put_account(&other_run, listed[0].version)
        .await
        .unwrap();

    let shards = plan_shards(&listed, &users(&["alice"]), 650);
    let saved = save_assignments(&store, listed, shards.assigned, &shards.changed)
        .await
        .unwrap();

    assert_eq!(saved, vec![other_run.clone()]);
    let stored = store.get_account("sync1").await.unwrap();
    assert_eq!(stored, Some(other_run));
}
