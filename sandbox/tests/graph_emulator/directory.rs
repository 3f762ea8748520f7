//! The Entra directory for automatic user linking: listing with `$select`/`$top`/paging,
//! `$filter` by any address, Graph's advanced-query and expression limits, permissions, and the
//! per-route request counts.

use http::StatusCode;
use presence_sandbox::graph::{DirectoryUser, GraphEmulator};
use serde_json::Value;

use crate::support::*;

const EVENTUAL: &[(&str, &str)] = &[("ConsistencyLevel", "eventual")];

/// Anna: UPN, a different primary mail, an alias; Ben: disabled; Cleo: no mailbox.
fn people(graph: &GraphEmulator) {
    graph
        .add_directory_user(
            DirectoryUser::new("a-anna", "anna@contoso.example", "Anna")
                .with_mail("Anna.Karenina@Contoso.example")
                .with_alias("a.k@contoso.example"),
        )
        .unwrap();
    graph
        .add_directory_user(DirectoryUser::new("b-ben", "ben@contoso.example", "Ben").disabled())
        .unwrap();
    graph
        .add_directory_user(
            DirectoryUser::new("c-cleo", "cleo@contoso.example", "Cleo").without_mailbox(),
        )
        .unwrap();
}

/// The ids of a list answer, in order.
fn ids(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn filter(graph: &GraphEmulator, token: &str, f: &str) -> (StatusCode, Value) {
    graph_get_with(graph, token, &format!("/users?$select=id&$filter={f}"), &[]).await
}

#[tokio::test]
async fn users_come_in_pages_of_top_with_next_links_and_select() {
    let graph = start().await;
    let app = app_token(&graph).await;
    let users = (0..250).map(|i| {
        DirectoryUser::new(
            &format!("u{i:04}"),
            &format!("user{i}@contoso.example"),
            "U",
        )
    });
    assert_eq!(graph.add_directory_users(users).unwrap(), 250);

    let (status, first) = graph_get_with(&graph, &app, "/users", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        first["value"].as_array().unwrap().len(),
        100,
        "100 by default"
    );
    assert_eq!(
        first["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#users"
    );
    let keys: Vec<&String> = first["value"][0].as_object().unwrap().keys().collect();
    assert!(
        keys.iter().any(|k| *k == "userPrincipalName")
            && !keys.iter().any(|k| *k == "proxyAddresses"),
        "the default property set has no proxyAddresses: {keys:?}"
    );

    let mut seen = Vec::new();
    let mut next = Some(format!(
        "{}/users?$select=id,mail,proxyAddresses,accountEnabled&$top=120",
        graph.graph_url()
    ));
    let mut pages = 0;
    while let Some(url) = next {
        let (status, page) = graph_get_with(&graph, &app, &url, &[]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(
            page["@odata.context"],
            "https://graph.microsoft.com/v1.0/$metadata#users(id,mail,proxyAddresses,accountEnabled)"
        );
        seen.extend(ids(&page));
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
        pages += 1;
    }
    assert_eq!(
        (pages, seen.len()),
        (3, 252),
        "250 + Alice and Bob, 120 a page"
    );
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 252, "no user twice");

    let (status, body) = graph_get_with(&graph, &app, "/users?$top=1000", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "Request_UnsupportedQuery");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("between 1 and 999")
    );
    let (status, _) = graph_get_with(&graph, &app, "/users?$top=999", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn filters_find_users_by_any_of_their_addresses_ignoring_case() {
    let graph = start().await;
    people(&graph);
    let app = app_token(&graph).await;
    let cases: &[(&str, &[&str])] = &[
        ("mail eq 'anna.karenina@CONTOSO.example'", &["a-anna"]),
        ("userPrincipalName eq 'ANNA@contoso.example'", &["a-anna"]),
        (
            "proxyAddresses/any(p:p eq 'SMTP:a.k@contoso.example')",
            &["a-anna"],
        ),
        (
            "proxyAddresses/any(x:x eq 'smtp:anna@contoso.example')",
            &["a-anna"],
        ),
        (
            "proxyAddresses/any(p:p eq 'smtp:nobody@contoso.example')",
            &[],
        ),
        ("id in ('b-ben', 'c-cleo', 'nobody')", &["b-ben", "c-cleo"]),
        ("mail in ('ben@contoso.example', 'x@y.example')", &["b-ben"]),
        ("userPrincipalName in ('cleo@contoso.example')", &["c-cleo"]),
        ("accountEnabled eq false", &["b-ben"]),
        ("mail eq null", &["c-cleo"]),
        (
            "mail eq 'ben@contoso.example' or proxyAddresses/any(p:p eq 'smtp:a.k@contoso.example')",
            &["a-anna", "b-ben"],
        ),
        (
            "accountEnabled eq true and startsWith(displayName, 'c')",
            &["c-cleo"],
        ),
    ];
    for (f, want) in cases {
        let (status, body) = filter(&graph, &app, f).await;
        assert_eq!(status, StatusCode::OK, "{f}: {body}");
        assert_eq!(ids(&body), *want, "{f}");
    }
    let (status, body) = filter(&graph, &app, "jobTitle eq 'x'").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Request_UnsupportedQuery"))
    );
    let (status, body) = filter(&graph, &app, "mail eq 'unterminated").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BadRequest"))
    );

    let (status, one) = graph_get_with(
        &graph,
        &app,
        "/users/anna@contoso.example?$select=id,mail",
        &[],
    )
    .await;
    assert_eq!(
        (status, one["id"].as_str()),
        (StatusCode::OK, Some("a-anna")),
        "by UPN too"
    );
    let (status, body) = graph_get_with(&graph, &app, "/users/nobody", &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("Request_ResourceNotFound"))
    );
}

#[tokio::test]
async fn advanced_queries_need_consistency_level_eventual_and_count() {
    let graph = start().await;
    people(&graph);
    let app = app_token(&graph).await;
    for f in [
        "/users?$filter=accountEnabled ne true",
        "/users?$filter=not(accountEnabled eq true)",
        "/users?$filter=endsWith(mail,'@contoso.example')",
        "/users?$filter=proxyAddresses/any(p:endsWith(p,'.example'))",
    ] {
        let (status, body) = graph_get_with(&graph, &app, f, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{f}");
        assert_eq!(body["error"]["code"], "Request_UnsupportedQuery", "{f}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ConsistencyLevel:eventual")
        );
        let (status, _) = graph_get_with(&graph, &app, f, EVENTUAL).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{f}: the header alone is not enough"
        );
        let (status, body) =
            graph_get_with(&graph, &app, &format!("{f}&$count=true"), EVENTUAL).await;
        assert_eq!(status, StatusCode::OK, "{f}: {body}");
    }
    let (_, body) = graph_get_with(
        &graph,
        &app,
        "/users?$filter=accountEnabled ne true&$count=true&$select=id",
        EVENTUAL,
    )
    .await;
    assert_eq!(
        (ids(&body), body["@odata.count"].as_u64()),
        (vec!["b-ben".to_owned()], Some(1))
    );

    let (status, body) = graph_get_with(&graph, &app, "/users?$count=true", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.get("@odata.count").is_none(),
        "ignored without the header, as documented"
    );
    let (_, body) = graph_get_with(&graph, &app, "/users?$count=true", EVENTUAL).await;
    assert_eq!(body["@odata.count"], 5);

    let search = "/users?$search=\"displayName:cle\"&$select=id";
    let (status, body) = graph_get_with(&graph, &app, search, &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Request_UnsupportedQuery"))
    );
    let (status, body) = graph_get_with(&graph, &app, search, EVENTUAL).await;
    assert_eq!(
        (status, ids(&body)),
        (StatusCode::OK, vec!["c-cleo".to_owned()])
    );
}

#[tokio::test]
async fn in_takes_fifteen_expressions_and_or_fifteen_clauses() {
    let graph = start().await;
    people(&graph);
    let app = app_token(&graph).await;
    let mails = |n: usize| {
        (0..n)
            .map(|i| format!("'x{i}@contoso.example'"))
            .collect::<Vec<_>>()
    };
    let mut fifteen = mails(14);
    fifteen.push("'ben@contoso.example'".into());
    let (status, body) = filter(&graph, &app, &format!("mail in ({})", fifteen.join(","))).await;
    assert_eq!(
        (status, ids(&body)),
        (StatusCode::OK, vec!["b-ben".to_owned()])
    );

    let (status, body) = filter(&graph, &app, &format!("mail in ({})", mails(16).join(","))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "Request_UnsupportedQuery");
    let (status, _) = filter(
        &graph,
        &app,
        &format!(
            "userPrincipalName in ({}) or mail in ({})",
            mails(8).join(","),
            mails(8).join(",")
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the 15 count the whole filter"
    );

    let ors: Vec<String> = (0..16)
        .map(|i| format!("mail eq 'x{i}@contoso.example'"))
        .collect();
    let (status, body) = filter(&graph, &app, &ors.join(" or ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Max allowed: 15")
    );

    let path = format!(
        "/users?$select=id&$count=true&$filter=mail in ({})",
        mails(40).join(",")
    );
    let (status, _) = graph_get_with(&graph, &app, &path, EVENTUAL).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "advanced queries are limited by the URL's length instead"
    );
    let path = format!(
        "/users?$count=true&$filter=mail in ({})",
        mails(120).join(",")
    );
    let (status, body) = graph_get_with(&graph, &app, &path, EVENTUAL).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("2048"));
}

#[tokio::test]
async fn reading_the_directory_needs_user_read_all() {
    let graph = start().await;
    let (_, delegated, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (status, body) = graph_get_with(&graph, &delegated, "/users", &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("Authorization_RequestDenied")),
        "a sync account consented to Presence.Read.All only"
    );
    let app = app_token(&graph).await;
    graph.set_app_permissions(&["Presence.Read.All"]);
    let (status, _) = graph_get_with(&graph, &app, "/users", &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a token keeps what it was issued with"
    );
    let narrow = app_token(&graph).await;
    for path in ["/users", "/users/delta", "/groups"] {
        let (status, _) = graph_get_with(&graph, &narrow, path, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) =
        graph_get_with(&graph, &narrow, &format!("/users/{ALICE}/presence"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(graph.app_permissions(), ["Presence.Read.All"]);
}

#[tokio::test]
async fn every_route_is_counted_and_a_presence_only_limit_throttles_presence() {
    let graph = start().await;
    people(&graph);
    let app = app_token(&graph).await;
    graph.set_presence_throttle(Some(2));
    for _ in 0..3 {
        graph_get_with(&graph, &app, "/users?$top=1", &[]).await;
        graph_get_with(&graph, &app, &format!("/users/{ALICE}/presence"), &[]).await;
    }
    let stats = graph.stats();
    assert_eq!(stats.requests("GET /v1.0/users"), 3);
    assert_eq!(stats.requests("GET /v1.0/users/{id}/presence"), 3);
    assert_eq!(
        stats
            .throttled_by_route
            .get("GET /v1.0/users/{id}/presence"),
        Some(&1)
    );
    assert_eq!(
        stats.throttled_by_route.get("GET /v1.0/users"),
        None,
        "the directory is not limited"
    );
    assert_eq!(stats.graph_requests(), 6);
}
