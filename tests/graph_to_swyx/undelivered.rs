//! A decided update outlives a failed or cut-short delivery: it stays pending or still goes out.

use super::{env, swyx_id, user_id};
use crate::support::graph_sender::GraphSender;
use presence_bridge::domain::Timestamp;
use std::time::Duration;

#[tokio::test]
async fn an_unreachable_connector_leaves_the_update_pending_and_graph_gets_202() {
    let env = env(1).await;
    env.connector.fail_next(100);
    let (status, _) = env
        .send(vec![env.item(
            0,
            "DoNotDisturb",
            "DoNotDisturb",
            false,
            None,
        )])
        .await;
    assert_eq!(status, 202);
    let pending = env
        .store
        .get_pending(&swyx_id(0))
        .await
        .unwrap()
        .expect("pending delivery");
    let state = env
        .store
        .get_sync_state(&user_id(0))
        .await
        .unwrap()
        .expect("state");
    assert_eq!(pending.update.revision, state.revision);
    assert_eq!(pending.attempts, 1);
    assert!(pending.last_error.unwrap_or_default().contains("503"));

    // The connector is back; the next change goes through and clears the older pending entry.
    env.connector.fail_next(0);
    assert_eq!(
        env.send(vec![env.item(0, "Available", "Available", false, None)])
            .await
            .0,
        202
    );
    assert_eq!(
        env.connector.status_of(&swyx_id(0)),
        Some(Some("Available".to_string()))
    );
    assert!(env.store.get_pending(&swyx_id(0)).await.unwrap().is_none());
}

/// A process killed (or a Lambda timed out) right after deciding, before delivering: the decided
/// update is already pending, due for maintenance within the grace period, and Graph's redelivery
/// of the same notification (stale now) does not drop it.
#[tokio::test]
async fn an_update_decided_but_never_delivered_stays_pending_for_maintenance() {
    use presence_bridge::domain::Observation;
    use presence_bridge::graph::notification::PresenceResource;
    use presence_bridge::teams_to_swyx::decide::{DELIVERY_GRACE, Observed, observe};
    let env = env(1).await;
    let resource: PresenceResource = serde_json::from_value(GraphSender::presence(
        &env.users[0],
        "DoNotDisturb",
        "DoNotDisturb",
        false,
        Some("7"),
    ))
    .expect("presence");
    let observation = Observation {
        presence: resource.to_presence(),
        received_at: Timestamp::now(),
    };
    // Decided, and then the process "dies": no delivery is attempted.
    let decided = observe(
        env.app.store.as_ref(),
        env.app.judge(),
        &env.users[0],
        &observation,
    );
    let Observed::Forward(update) = decided.await.expect("observe") else {
        panic!("a new status must be forwarded");
    };
    let pending = env
        .store
        .get_pending(&swyx_id(0))
        .await
        .unwrap()
        .expect("the decided update is pending until the connector confirms it");
    assert_eq!(pending.update, update);
    let due_by = Timestamp::now().plus_millis(DELIVERY_GRACE.as_millis() as i64 + 1_000);
    assert_eq!(env.store.due_pending(due_by, 10).await.unwrap().len(), 1);
    assert!(env.connector.updates().is_empty());

    // Graph redelivers the same notification: stale, and the pending update stays.
    let item = env.item(0, "DoNotDisturb", "DoNotDisturb", false, Some("7"));
    assert_eq!(env.send(vec![item]).await.0, 202);
    assert!(env.store.get_pending(&swyx_id(0)).await.unwrap().is_some());
    assert!(env.connector.updates().is_empty());
}

/// Graph gives up waiting (its 3 s timeout) while the connector is slow: the bridge still delivers
/// what it decided; closing the connection cancels nothing.
#[tokio::test]
async fn graph_closing_the_connection_does_not_cancel_a_decided_delivery() {
    let env = env(1).await;
    env.connector.set_delay(Duration::from_millis(300));
    let body = env
        .sender
        .collection(vec![env.item(0, "Away", "Away", false, Some("1"))]);
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let answer = impatient.post(env.url()).json(&body).send().await;
    assert!(answer.is_err(), "the request must time out on Graph's side");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while env.connector.status_of(&swyx_id(0)) != Some(Some("Away".to_string())) {
        assert!(
            std::time::Instant::now() < deadline,
            "the decided update never reached the connector"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Delivered, so nothing is left pending.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while env.store.get_pending(&swyx_id(0)).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "pending entry left behind"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
