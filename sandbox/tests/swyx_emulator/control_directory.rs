//! The scenario API's directory controls against the real emulators: Teams users with their
//! addresses, disabling, deleting and restoring, groups with members named like anywhere else,
//! Graph's late answers, throttles and permissions, Swyx users' addresses and groups, and the
//! `status.changed` switch — through the typed client and through scenario steps.

use super::support::{Key, Receiver, setup};
use presence_sandbox::Clock;
use presence_sandbox::control::scenario::{parse_steps, run_steps};
use presence_sandbox::control::{GraphHandleLike, ScenarioClient, serve_control};
use presence_sandbox::graph::{DirectoryUser, GraphEmulator, GraphOptions, UserUpdate};
use presence_sandbox::swyx::OwnStatus;
use std::sync::Arc;
use std::time::Duration;

async fn graph() -> GraphEmulator {
    GraphEmulator::start(GraphOptions {
        tenant_id: "9f4ebab6-520d-49c0-85cc-7b25c78d4a93".into(),
        app_id: "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0".into(),
        client_secret: "secret".into(),
        throttle_per_30s: None,
        clock: Clock::new(),
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn teams_users_addresses_and_groups_through_the_client() {
    let s = setup(None).await;
    let g = graph().await;
    let handle: GraphHandleLike = Arc::new(g.clone());
    let server = serve_control(Some(handle), s.emu.clone()).await.unwrap();
    let c = ScenarioClient::new(&server.url()).unwrap();

    c.teams_add_directory_user(
        "id-anna",
        "anna@contoso.example",
        "Anna",
        Some("a.k@contoso.example"),
        &["anna.k@contoso.example"],
    )
    .await
    .unwrap();
    let anna = c.teams_directory_user("anna").await.unwrap();
    assert_eq!(anna.mail.as_deref(), Some("a.k@contoso.example"));
    assert_eq!(
        anna.proxy_addresses,
        [
            "SMTP:a.k@contoso.example",
            "smtp:anna@contoso.example",
            "smtp:anna.k@contoso.example"
        ]
    );
    let clash = c
        .teams_add_directory_user(
            "id-x",
            "x@contoso.example",
            "X",
            Some("anna.k@contoso.example"),
            &[],
        )
        .await;
    assert!(clash.unwrap_err().to_string().contains("proxyAddresses"));

    c.teams_set_mail("a.k@contoso.example", "karenina@contoso.example")
        .await
        .unwrap();
    c.teams_add_alias("id-anna", "ak@contoso.example")
        .await
        .unwrap();
    let anna = g.directory_user("id-anna").unwrap();
    assert_eq!(anna.mail.as_deref(), Some("karenina@contoso.example"));
    assert!(
        anna.proxy_addresses
            .contains(&"smtp:ak@contoso.example".to_owned())
    );
    c.teams_set_enabled("anna", false).await.unwrap();
    assert!(!g.directory_user("id-anna").unwrap().account_enabled);
    let rename = UserUpdate {
        display_name: Some("Anna K.".into()),
        account_enabled: Some(true),
        ..UserUpdate::default()
    };
    c.teams_update_user("id-anna", &rename).await.unwrap();
    assert_eq!(g.directory_user("id-anna").unwrap().display_name, "Anna K.");

    let added = c
        .teams_add_users(&[
            DirectoryUser::new("id-ben", "ben@contoso.example", "Ben"),
            DirectoryUser::new("id-cleo", "cleo@contoso.example", "Cleo"),
        ])
        .await
        .unwrap();
    assert_eq!(added, 2);
    c.teams_put_group("g-nested", "Nested", &["cleo"])
        .await
        .unwrap();
    c.teams_put_group(
        "g-sales",
        "Sales",
        &["anna", "ben@contoso.example", "g-nested"],
    )
    .await
    .unwrap();
    let groups = c.teams_groups().await.unwrap();
    let sales = groups.iter().find(|g| g.id == "g-sales").unwrap();
    assert_eq!(
        sales.members,
        ["g-nested", "id-anna", "id-ben"],
        "names resolved to ids"
    );
    assert!(
        c.teams_put_group("g-bad", "Bad", &["nobody"])
            .await
            .unwrap_err()
            .to_string()
            .contains("404")
    );

    c.teams_delete_user("ben", false).await.unwrap();
    assert!(g.directory_user("id-ben").is_none());
    c.teams_restore_user("id-ben").await.unwrap();
    assert!(g.directory_user("id-ben").is_some());
    c.teams_delete_user("ben", true).await.unwrap();
    assert!(
        c.teams_restore_user("id-ben").await.is_err(),
        "purged for good"
    );
    assert_eq!(
        g.group("g-sales").unwrap().members,
        ["g-nested", "id-anna"],
        "and out of its groups"
    );

    c.graph_late_answers(Some(Duration::from_secs(3)))
        .await
        .unwrap();
    c.graph_throttle(None, Some(1500)).await.unwrap();
    c.graph_permissions(&["Presence.Read.All"]).await.unwrap();
    assert_eq!(g.app_permissions(), ["Presence.Read.All"]);
}

#[tokio::test]
async fn swyx_users_groups_and_status_events_through_steps() {
    let bridge = Receiver::start(&Key::new(9)).await;
    let s = setup(Some(bridge.url.clone())).await;
    let g = graph().await;
    g.add_user("id-alice", "alice@contoso.com", "Alice");
    let handle: GraphHandleLike = Arc::new(g.clone());
    let server = serve_control(Some(handle), s.emu.clone()).await.unwrap();
    let c = ScenarioClient::new(&server.url()).unwrap();

    let steps = parse_steps(&[
        "swyx 101 groups Sales Berlin",
        "swyx 102 email bob@contoso.com",
        "swyx 101 status Away",
        "swyx events off",
        "swyx 101 status DoNotDisturb",
        "teams alice mail alice.x@contoso.com",
        "teams alice alias ali@contoso.com",
        "teams group sales alice",
        "teams alice disable",
        "graph late 12",
        "swyx 102 remove",
    ])
    .unwrap();
    let mut out = Vec::new();
    run_steps(&c, &steps, &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("[11] swyx 102 remove"), "{out}");

    let alice = s.emu.user("101").unwrap();
    assert_eq!(
        (alice.groups, alice.own_status),
        (
            vec!["Sales".to_owned(), "Berlin".to_owned()],
            OwnStatus::DoNotDisturb
        )
    );
    assert!(s.emu.user("102").is_none());
    let events = bridge.events();
    assert_eq!(
        events.len(),
        1,
        "the second status came after events were switched off"
    );
    assert_eq!(events[0].1["status"], "Away");

    let teams = g.directory_user("id-alice").unwrap();
    assert_eq!(teams.mail.as_deref(), Some("alice.x@contoso.com"));
    assert!(
        teams
            .proxy_addresses
            .contains(&"smtp:ali@contoso.com".to_owned())
    );
    assert!(!teams.account_enabled);
    assert_eq!(g.group("sales").unwrap().members, ["id-alice"]);

    let changed = c
        .swyx_change_status("101", OwnStatus::Available)
        .await
        .unwrap();
    assert_eq!(changed, None, "still switched off");
    c.swyx_status_events(true).await.unwrap();
    let changed = c
        .swyx_change_status("101", OwnStatus::Away)
        .await
        .unwrap()
        .unwrap();
    assert!(changed.delivered && changed.origin.as_deref() == Some("user"));
    c.swyx_add_user_in_groups("103", "Carol", "carol@contoso.com", &["Support"])
        .await
        .unwrap();
    c.swyx_update_user("103", Some(None), None).await.unwrap();
    let carol = c.swyx_user("103").await.unwrap();
    assert_eq!(
        (carol.email, carol.groups),
        (None, vec!["Support".to_owned()])
    );
}
