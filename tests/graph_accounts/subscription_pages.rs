//! `GET /subscriptions` in pages, against a local stand-in for Graph that pages its answer the
//! way Graph may (`@odata.nextLink`): every page is read, and a link leaving the Graph root is
//! not followed (it would carry the sync account's token elsewhere).

use super::*;
use axum::extract::{RawQuery, State};
use presence_bridge::graph::client::GraphError;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

fn listed(id: &str) -> Value {
    json!({
        "id": id,
        "resource": format!("/communications/presences?$filter=id in ('{ALICE}')"),
        "expirationDateTime": "2030-01-01T00:00:00Z",
        "clientState": "state",
    })
}

/// Serves `GET /v1.0/subscriptions` in two pages, the first linking on by `next_link`, and
/// records every query it was asked with.
async fn paged_graph(
    next_link: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (
    GraphClient,
    Arc<Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1.0", listener.local_addr().unwrap());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let link = next_link(&base);
    let router = axum::Router::new()
        .route(
            "/v1.0/subscriptions",
            axum::routing::get(
                |State((asked, link)): State<(Arc<Mutex<Vec<String>>>, String)>,
                 RawQuery(q): RawQuery| async move {
                    let q = q.unwrap_or_default();
                    asked.lock().unwrap().push(q.clone());
                    let page = if q.contains("skiptoken=2") {
                        json!({ "value": [listed("sub-2")] })
                    } else {
                        json!({ "value": [listed("sub-1")], "@odata.nextLink": link })
                    };
                    axum::Json(page)
                },
            ),
        )
        .with_state((Arc::clone(&asked), link));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let settings = GraphSettings::new(
        &base,
        &format!("{base}/login"),
        TENANT,
        APP_ID,
        ClientSecret::new(CLIENT_SECRET),
    );
    (GraphClient::new(settings, http()), asked, task)
}

#[tokio::test]
async fn every_page_of_the_subscription_list_is_read() {
    let (client, asked, task) =
        paged_graph(|base| format!("{base}/subscriptions?$skiptoken=2")).await;
    let listed = client.list_subscriptions("token", BUDGET).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.info.id.as_str()).collect();
    assert_eq!(ids, ["sub-1", "sub-2"], "the second page is read too");
    assert_eq!(asked.lock().unwrap().len(), 2);
    task.abort();
}

#[tokio::test]
async fn a_next_link_outside_the_graph_root_is_not_followed() {
    let (client, asked, task) =
        paged_graph(|_| "https://elsewhere.example/v1.0/subscriptions?$skiptoken=2".into()).await;
    let e = client.list_subscriptions("token", BUDGET).await.err();
    assert!(
        matches!(&e, Some(GraphError::BadAnswer { what, .. }) if what.contains("not followed")),
        "{e:?}"
    );
    assert_eq!(
        asked.lock().unwrap().len(),
        1,
        "only the first page was asked for"
    );
    task.abort();
}
