//! The size the product is built for: 100,000 users, 154 sync accounts with one subscription of
//! 650 users each. Set-up, bulk presence reads, directory paging, subscription creation and
//! notification fan-out must each stay quick (no request walks all users). The figures are
//! printed; run with `--nocapture` to see them.

use std::time::{Duration, Instant};

use http::StatusCode;
use presence_sandbox::graph::DirectoryUser;
use serde_json::{Value, json};

use crate::support::*;

const USERS: usize = 100_000;
const PER_SUBSCRIPTION: usize = 650;

fn user_id(i: usize) -> String {
    format!("{i:08x}-0000-4000-8000-{i:012x}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_of_100_000_users_and_154_subscriptions_stays_quick() {
    let graph = start().await;
    graph.set_presence_throttle(Some(1500));
    let mut figures = Vec::new();

    let t = Instant::now();
    let users = (0..USERS).map(|i| {
        DirectoryUser::new(
            &user_id(i),
            &format!("user{i}@contoso.example"),
            &format!("User {i}"),
        )
    });
    assert_eq!(graph.add_directory_users(users).unwrap(), USERS);
    figures.push(("add 100,000 users", t.elapsed()));

    let app = app_token(&graph).await;
    let ids: Vec<String> = (0..USERS).map(user_id).collect();
    let t = Instant::now();
    let mut read = 0;
    for chunk in ids.chunks(PER_SUBSCRIPTION) {
        let r = graph_post(
            &graph,
            &app,
            "/communications/getPresencesByUserId",
            json!({ "ids": chunk }),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        read += r.json::<Value>().await.unwrap()["value"]
            .as_array()
            .unwrap()
            .len();
    }
    assert_eq!(read, USERS);
    figures.push(("read 100,000 presences (154 requests of 650)", t.elapsed()));

    let t = Instant::now();
    let (mut listed, mut pages) = (0, 0);
    let mut next = Some(format!(
        "{}/users?$select=id,mail,userPrincipalName&$top=999",
        graph.graph_url()
    ));
    while let Some(url) = next {
        let (status, page) = graph_get_with(&graph, &app, &url, &[]).await;
        assert_eq!(status, StatusCode::OK);
        listed += page["value"].as_array().unwrap().len();
        pages += 1;
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!((listed, pages), (USERS + 2, 101));
    figures.push(("list 100,002 users (101 pages of 999)", t.elapsed()));

    let hook = Receiver::start(Handshake::Echo).await;
    let (_, cert) = encryption_cert();
    let t = Instant::now();
    for (k, chunk) in ids.chunks(PER_SUBSCRIPTION).enumerate() {
        let upn = format!("sync{k}@contoso.example");
        graph.add_sync_account(&upn);
        let refresh = graph.issue_refresh_token(&upn).unwrap();
        let (status, tokens) = token_request(
            &graph,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", APP_ID),
                ("refresh_token", &refresh),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let body = subscription_body(&hook.url, &refs, &cert, 60, graph.clock());
        let r = graph_post(
            &graph,
            tokens["access_token"].as_str().unwrap(),
            "/subscriptions",
            body,
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    assert_eq!(graph.subscriptions().len(), 154);
    figures.push(("create 154 subscriptions of 650 users", t.elapsed()));

    let t = Instant::now();
    for i in (0..USERS).step_by(100) {
        graph
            .set_client_session(&user_id(i), "desktop", "Busy", "InACall")
            .unwrap();
    }
    graph
        .wait_stats(Duration::from_secs(120), |s| {
            s.notifications_delivered == 1000
        })
        .await
        .unwrap();
    figures.push((
        "change 1,000 users, deliver 1,000 rich notifications",
        t.elapsed(),
    ));

    for (what, took) in &figures {
        println!("scale: {what}: {took:.2?}");
    }
    // Bounds for a debug build on a busy two-core machine; each is several times the figure
    // measured, and far below what walking all users per request would cost.
    let bounds = [20, 20, 30, 60, 60];
    for ((what, took), bound) in figures.iter().zip(bounds) {
        assert!(*took < Duration::from_secs(bound), "{what}: {took:?}");
    }
}
