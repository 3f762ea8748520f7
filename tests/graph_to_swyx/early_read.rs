//! A graph-webhook cold start reads a lone notification's subscriptions and its user's decision
//! inputs while it reads its secrets, before anything is checked: the user's inputs decide only
//! that very user's item once it is authenticated, and a forged item read early changes nothing.

use super::{Env, env, swyx_id, user_id};
use bytes::Bytes;
use presence_bridge::domain::Timestamp;
use presence_bridge::store::Store;
use presence_bridge::teams_to_swyx::intake::{self, EarlyRead};
use serde_json::Value;
use std::sync::Arc;

const INPUTS: &str = "get_decision_inputs";
const SUBSCRIPTIONS: &str = "list_subscriptions";

fn request(env: &Env, items: Vec<Value>) -> http::Request<Bytes> {
    let body = env.sender.collection(items).to_string();
    http::Request::builder()
        .method("POST")
        .uri("/graph/notifications")
        .body(Bytes::from(body))
        .expect("request")
}

fn counted(env: &Env, method: &str) -> u64 {
    env.counting.counts().get(method).copied().unwrap_or(0)
}

async fn read_early(env: &Env, req: &http::Request<Bytes>) -> Option<EarlyRead> {
    let store: Arc<dyn Store> = Arc::clone(&env.store);
    intake::read_early(store, req, Timestamp::now())
        .expect("a POST may be a collection")
        .await
}

#[tokio::test]
async fn a_lone_notification_is_decided_on_what_the_cold_start_read_early() {
    let env = env(1).await;
    let req = request(&env, vec![env.item(0, "Busy", "InAMeeting", false, None)]);
    let early = read_early(&env, &req).await;
    assert!(early.is_some());
    assert_eq!(
        (counted(&env, SUBSCRIPTIONS), counted(&env, INPUTS)),
        (1, 1)
    );

    let resp = intake::handle_with(&env.app, req, early).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(
        env.received(0).len(),
        1,
        "the connector got the user's status"
    );
    assert_eq!(
        (counted(&env, SUBSCRIPTIONS), counted(&env, INPUTS)),
        (1, 1),
        "the checked item read neither its subscription nor its user again"
    );
    let state = env.store.get_sync_state(&user_id(0)).await.unwrap();
    assert!(state.is_some_and(|s| s.last_presence.is_some()));
}

#[tokio::test]
async fn what_was_read_early_for_one_user_decides_no_other() {
    let env = env(2).await;
    let for_user_0 = request(&env, vec![env.item(0, "Busy", "InAMeeting", false, None)]);
    let early = read_early(&env, &for_user_0).await;

    let for_user_1 = request(&env, vec![env.item(1, "Away", "Away", false, None)]);
    let resp = intake::handle_with(&env.app, for_user_1, early).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(
        env.received(1).len(),
        1,
        "user 1 decided on their own inputs"
    );
    assert!(env.received(0).is_empty());
    assert_eq!(
        counted(&env, INPUTS),
        2,
        "user 1's inputs were read for them"
    );
    assert!(
        env.store
            .get_sync_state(&user_id(0))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_forged_item_read_early_changes_nothing() {
    let env = env(2).await;
    // User 0's encrypted presence, claiming to be user 1's in the clear.
    let mut forged = env.item(0, "DoNotDisturb", "Presenting", false, None);
    forged["resourceData"]["id"] = user_id(1).into();
    let req = request(&env, vec![forged]);
    let early = read_early(&env, &req).await;
    assert_eq!(
        counted(&env, INPUTS),
        1,
        "the named user was read, nothing more"
    );

    let resp = intake::handle_with(&env.app, req, early).await;
    assert_eq!(resp.status(), 202, "an unauthentic item is dropped alone");
    assert!(env.received(0).is_empty() && env.received(1).is_empty());
    for user in [user_id(0), user_id(1)] {
        assert!(env.store.get_sync_state(&user).await.unwrap().is_none());
    }
    assert!(env.store.get_pending(&swyx_id(1)).await.unwrap().is_none());
}
