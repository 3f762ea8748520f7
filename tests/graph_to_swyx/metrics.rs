//! `/metrics` as an operator's Prometheus reads it while Graph notifications come in: parsed with
//! a text-format parser, judged by what an operator watches.

use crate::support::scrape;

use super::{env, swyx_id};
use presence_bridge::app::App;
use presence_bridge::metrics::{
    DROPPED_ITEMS, FORWARDS, NEXT_SUBSCRIPTION_EXPIRY, NOTIFICATIONS, PENDING_DELIVERIES,
    TEAMS_TO_SWYX_LATENCY,
};
use scrape::{Scrape, scrape};
use serde_json::json;
use std::sync::Arc;

/// The operator's routes of the app, on a loopback listener of their own.
struct AdminServer {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl AdminServer {
    async fn start(app: Arc<App>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let routes = presence_bridge::entry::admin::router(app);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, routes).await;
        });
        Self {
            url: format!("http://{addr}/metrics"),
            task,
        }
    }

    async fn scrape(&self) -> Scrape {
        scrape(&self.url).await
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn forwards(m: &Scrape, outcome: &str) -> Option<f64> {
    m.value(FORWARDS, Some(("outcome", outcome)))
}

fn dropped(m: &Scrape, reason: &str) -> Option<f64> {
    m.value(DROPPED_ITEMS, Some(("reason", reason)))
}

#[tokio::test]
async fn notifications_forwards_drops_and_the_backlog_show_in_the_metrics() {
    let env = env(3).await;
    let admin = AdminServer::start(Arc::clone(&env.app)).await;
    let m = admin.scrape().await;
    assert_eq!(m.value(NOTIFICATIONS, None), Some(0.0));
    assert_eq!(m.value(PENDING_DELIVERIES, None), Some(0.0));
    // The harness's subscription expires an hour after it was stored.
    let expiry = m.value(NEXT_SUBSCRIPTION_EXPIRY, None).expect("expiry");
    assert!((3_500.0..=3_600.0).contains(&expiry), "{expiry}");

    // A change reaches the connector: counted, and its latency lands in the histogram.
    let change = env.item(0, "Busy", "Busy", false, Some("1"));
    assert_eq!(env.send(vec![change.clone()]).await.0, 202);
    let m = admin.scrape().await;
    assert_eq!(m.value(NOTIFICATIONS, None), Some(1.0));
    assert_eq!(forwards(&m, "delivered"), Some(1.0));
    assert_eq!(m.observations(TEAMS_TO_SWYX_LATENCY), 1.0);
    assert!(m.sum(TEAMS_TO_SWYX_LATENCY) > 0.0);

    // Graph retries that change, someone guesses a clientState, a collection comes without
    // validation tokens: nothing reaches the connector, each is counted under its reason.
    let mut guessed = env.item(1, "Busy", "Busy", false, None);
    guessed["clientState"] = json!("guessed");
    assert_eq!(env.send(vec![change, guessed]).await.0, 202);
    let unsigned = json!({ "value": [env.item(1, "Away", "Away", false, None)] });
    assert_eq!(env.sender.post_json(&env.url(), &unsigned).await.0, 401);
    let m = admin.scrape().await;
    assert_eq!(m.value(NOTIFICATIONS, None), Some(4.0));
    assert_eq!(dropped(&m, "stale"), Some(1.0));
    assert_eq!(dropped(&m, "client_state_mismatch"), Some(1.0));
    assert_eq!(dropped(&m, "validation_token"), Some(1.0));
    assert_eq!(dropped(&m, "decrypt_failed"), Some(0.0));
    assert_eq!(forwards(&m, "delivered"), Some(1.0));
    assert_eq!(env.connector.updates().len(), 1);

    // The connector is down: the update waits, and the backlog shows.
    env.connector.fail_next(100);
    let dnd = env.item(2, "DoNotDisturb", "DoNotDisturb", false, None);
    assert_eq!(env.send(vec![dnd]).await.0, 202);
    let m = admin.scrape().await;
    assert_eq!(m.value(PENDING_DELIVERIES, None), Some(1.0));
    assert_eq!(forwards(&m, "pending"), Some(1.0));
    assert_eq!(
        m.observations(TEAMS_TO_SWYX_LATENCY),
        1.0,
        "no latency without delivery"
    );

    // It is back: the user's next change goes through and takes the waiting one's place.
    env.connector.fail_next(0);
    let available = env.item(2, "Available", "Available", false, None);
    assert_eq!(env.send(vec![available]).await.0, 202);
    assert_eq!(
        env.connector.status_of(&swyx_id(2)),
        Some(Some("Available".to_string()))
    );
    let m = admin.scrape().await;
    assert_eq!(m.value(PENDING_DELIVERIES, None), Some(0.0));
    assert_eq!(forwards(&m, "delivered"), Some(2.0));
    assert_eq!(m.observations(TEAMS_TO_SWYX_LATENCY), 2.0);
}
