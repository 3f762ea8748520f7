//! Keeping a copy of the directory in step: `users/delta` rounds, groups with nested members,
//! and `$batch`.

use http::StatusCode;
use presence_sandbox::graph::{DirectoryUser, GraphEmulator, UserUpdate};
use serde_json::{Value, json};

use crate::support::*;

const EVENTUAL: &[(&str, &str)] = &[("ConsistencyLevel", "eventual")];

/// Follows nextLinks to the end of a delta round: (items, deltaLink, pages).
async fn round(
    graph: &GraphEmulator,
    token: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (Vec<Value>, String, usize) {
    let mut items = Vec::new();
    let mut url = url.to_owned();
    for pages in 1.. {
        let (status, page) = graph_get_with(graph, token, &url, headers).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        items.extend(page["value"].as_array().unwrap().iter().cloned());
        if let Some(delta) = page["@odata.deltaLink"].as_str() {
            assert!(page.get("@odata.nextLink").is_none());
            return (items, delta.to_owned(), pages);
        }
        url = page["@odata.nextLink"]
            .as_str()
            .expect("a nextLink or a deltaLink")
            .to_owned();
    }
    unreachable!()
}

fn by_id<'a>(items: &'a [Value], id: &str) -> Option<&'a Value> {
    items.iter().find(|i| i["id"] == id)
}

#[tokio::test]
async fn delta_reports_new_changed_disabled_and_deleted_users_since_the_last_round() {
    let graph = start().await;
    let app = app_token(&graph).await;
    let users = (0..148)
        .map(|i| DirectoryUser::new(&format!("u{i:03}"), &format!("u{i}@contoso.example"), "U"));
    graph.add_directory_users(users).unwrap();

    let first = format!(
        "{}/users/delta?$select=mail,userPrincipalName,proxyAddresses,accountEnabled",
        graph.graph_url()
    );
    let (items, delta_link, pages) = round(&graph, &app, &first, &[]).await;
    assert_eq!((items.len(), pages), (150, 2), "everyone, 100 a page");
    assert!(
        items
            .iter()
            .all(|i| i.get("displayName").is_none() && i["id"].is_string()),
        "$select kept, id always"
    );

    graph
        .add_directory_user(DirectoryUser::new("new-1", "new@contoso.example", "New"))
        .unwrap();
    graph
        .set_user_mail("u001", "renamed@contoso.example")
        .unwrap();
    graph.set_account_enabled("u002", false).unwrap();
    graph.delete_user("u003").unwrap();
    graph.purge_user("u004").unwrap();
    let rename = UserUpdate {
        display_name: Some("Not tracked".into()),
        ..UserUpdate::default()
    };
    graph.update_user("u005", &rename).unwrap();

    let (items, next_link, _) = round(&graph, &app, &delta_link, &[]).await;
    let mut ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["new-1", "u001", "u002", "u003", "u004"],
        "a displayName change is not tracked by this $select"
    );
    assert_eq!(
        by_id(&items, "u001").unwrap()["mail"],
        "renamed@contoso.example"
    );
    assert_eq!(
        by_id(&items, "u001").unwrap()["proxyAddresses"],
        json!(["SMTP:renamed@contoso.example", "smtp:u1@contoso.example"])
    );
    assert_eq!(by_id(&items, "u002").unwrap()["accountEnabled"], false);
    assert_eq!(
        by_id(&items, "u003").unwrap()["@removed"],
        json!({ "reason": "changed" }),
        "soft delete"
    );
    assert_eq!(
        by_id(&items, "u004").unwrap()["@removed"],
        json!({ "reason": "deleted" }),
        "for good"
    );

    let (items, next_link, pages) = round(&graph, &app, &next_link, &[]).await;
    assert_eq!(
        (items.len(), pages),
        (0, 1),
        "no change: an empty page and a deltaLink"
    );

    graph.restore_user("u003").unwrap();
    graph.set_user_mail("u006", "six@contoso.example").unwrap();
    let minimal = [("Prefer", "return=minimal")];
    let (items, _, _) = round(&graph, &app, &next_link, &minimal).await;
    assert_eq!(
        by_id(&items, "u003").unwrap()["userPrincipalName"],
        "u3@contoso.example",
        "restored: whole"
    );
    let six = by_id(&items, "u006").unwrap();
    assert!(
        six.get("userPrincipalName").is_none() && six["mail"] == "six@contoso.example",
        "minimal: changed only: {six}"
    );
}

#[tokio::test]
async fn delta_tracks_chosen_users_and_refuses_other_filters_and_bad_tokens() {
    let graph = start().await;
    let app = app_token(&graph).await;
    let url = format!(
        "{}/users/delta?$filter=id eq '{ALICE}' or id eq 'nobody'",
        graph.graph_url()
    );
    let (items, delta_link, _) = round(&graph, &app, &url, &[]).await;
    assert_eq!(items.len(), 1);
    graph.set_user_mail(BOB, "robert@contoso.example").unwrap();
    graph
        .set_user_mail(ALICE, "alicia@contoso.example")
        .unwrap();
    let (items, _, _) = round(&graph, &app, &delta_link, &[]).await;
    assert_eq!(
        items
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [ALICE]
    );

    for bad in [
        "/users/delta?$filter=mail eq 'x'",
        "/users/delta?$top=5",
        "/users/delta?$deltatoken=garbage",
    ] {
        let (status, body) = graph_get_with(&graph, &app, bad, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

async fn org(graph: &GraphEmulator) {
    graph
        .add_directory_user(DirectoryUser::new(
            "c-carol",
            "carol@contoso.example",
            "Carol",
        ))
        .unwrap();
    graph.add_group("g-sales", "Sales").unwrap();
    graph.add_group("g-berlin", "Sales Berlin").unwrap();
    graph
        .set_group_members("g-berlin", &[BOB, "c-carol", "g-sales"])
        .unwrap();
    graph
        .set_group_members("g-sales", &[ALICE, "g-berlin"])
        .unwrap();
}

#[tokio::test]
async fn transitive_members_expand_nested_groups_once_and_page() {
    let graph = start().await;
    org(&graph).await;
    let app = app_token(&graph).await;
    let (status, body) =
        graph_get_with(&graph, &app, "/groups?$filter=displayName eq 'sales'", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert_eq!(body["value"][0]["id"], "g-sales");

    let (status, body) =
        graph_get_with(&graph, &app, "/groups/g-sales/transitiveMembers", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let members: Vec<(&str, &str)> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap(),
                m["@odata.type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            (ALICE, "#microsoft.graph.user"),
            (BOB, "#microsoft.graph.user"),
            ("c-carol", "#microsoft.graph.user"),
            ("g-berlin", "#microsoft.graph.group"),
        ],
        "a cycle back to Sales ends; Sales is not its own member"
    );

    let users = "/groups/g-sales/transitiveMembers/microsoft.graph.user?$select=id,mail&$top=2";
    let (status, body) = graph_get_with(&graph, &app, users, &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Request_UnsupportedQuery"))
    );
    let (status, first) =
        graph_get_with(&graph, &app, &format!("{users}&$count=true"), EVENTUAL).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["@odata.count"], 3);
    assert_eq!(first["value"].as_array().unwrap().len(), 2);
    let next = first["@odata.nextLink"].as_str().unwrap();
    let (_, second) = graph_get_with(&graph, &app, next, EVENTUAL).await;
    assert_eq!(
        second["value"],
        json!([{ "id": "c-carol", "mail": "carol@contoso.example" }])
    );

    graph.delete_user(BOB).unwrap();
    let (_, body) = graph_get_with(&graph, &app, "/groups/g-berlin/members", &[]).await;
    assert_eq!(
        body["value"].as_array().unwrap().len(),
        2,
        "a deleted user is no member: {body}"
    );
    let (status, _) = graph_get_with(&graph, &app, "/groups/nope/transitiveMembers", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    graph.set_app_permissions(&["User.Read.All"]);
    let narrow = app_token(&graph).await;
    let (status, _) =
        graph_get_with(&graph, &narrow, "/groups/g-sales/transitiveMembers", &[]).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "GroupMember.Read.All is needed"
    );
}

#[tokio::test]
async fn a_batch_runs_each_request_as_if_sent_alone() {
    let graph = start().await;
    org(&graph).await;
    let app = app_token(&graph).await;
    let batch = json!({ "requests": [
        { "id": "1", "method": "GET", "url": "/users?$select=id&$filter=mail eq 'carol@contoso.example'" },
        { "id": "2", "method": "GET", "url": "groups/g-berlin/transitiveMembers/microsoft.graph.user?$count=true",
          "headers": { "ConsistencyLevel": "eventual" } },
        { "id": "3", "method": "POST", "url": "/communications/getPresencesByUserId", "body": { "ids": [ALICE] } },
        { "id": "4", "method": "GET", "url": "/users/nobody" },
        { "id": "5", "method": "GET", "url": "/users/c-carol", "dependsOn": ["4"] },
    ]});
    let r = graph_post(&graph, &app, "/$batch", batch).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let answers: Vec<&Value> = body["responses"].as_array().unwrap().iter().collect();
    let status = |id: &str| {
        answers.iter().find(|a| a["id"] == id).unwrap()["status"]
            .as_u64()
            .unwrap()
    };
    let body_of = |id: &str| answers.iter().find(|a| a["id"] == id).unwrap()["body"].clone();
    assert_eq!(
        [
            status("1"),
            status("2"),
            status("3"),
            status("4"),
            status("5")
        ],
        [200, 200, 200, 404, 424]
    );
    assert_eq!(body_of("1")["value"], json!([{ "id": "c-carol" }]));
    assert_eq!(body_of("2")["@odata.count"], 3);
    assert_eq!(body_of("3")["value"][0]["availability"], "Offline");

    let stats = graph.stats();
    assert_eq!(stats.requests("POST /v1.0/$batch"), 1);
    assert_eq!(
        stats.requests("GET /v1.0/users"),
        1,
        "each request inside is counted under its route"
    );
    assert_eq!(
        stats.requests("POST /v1.0/communications/getPresencesByUserId"),
        1
    );

    graph.set_throttle(Some(1));
    let two = json!({ "requests": [
        { "id": "a", "method": "GET", "url": "/users?$top=1" },
        { "id": "b", "method": "GET", "url": "/users?$top=1" },
    ]});
    let body: Value = graph_post(&graph, &app, "/$batch", two)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["responses"][0]["status"], 200);
    assert_eq!(body["responses"][1]["status"], 429, "throttled one by one");
    assert!(body["responses"][1]["headers"]["retry-after"].is_string());
    graph.set_throttle(None);

    let many: Vec<Value> = (0..21)
        .map(|i| json!({ "id": i.to_string(), "method": "GET", "url": "/users" }))
        .collect();
    let r = graph_post(&graph, &app, "/$batch", json!({ "requests": many })).await;
    let (status, _, message) = error_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("20"), "{message}");
}
