//! Automatic user linking against the sandbox: the emulated Entra directory (Graph `/users`,
//! groups) and the emulated connector's user list (pages, e-mail addresses, groups), on SQLite.
//! One test per rule: matching, refusals, removal, manual links and exclusions, scope, the
//! maintenance schedule, and the Graph requests a sync of 10,000 users costs.

#[path = "users_sync/groups.rs"]
mod groups;
#[path = "users_sync/harness.rs"]
mod harness;
#[path = "users_sync/removal.rs"]
mod removal;
#[path = "users_sync/scope_and_scale.rs"]
mod scope_and_scale;

use harness::{Harness, eid};
use presence_bridge::cli::links;
use presence_bridge::cli::users::import;
use presence_bridge::config::UsersConfig;
use presence_bridge::domain::linking::{MatchedOn, Refusal};
use presence_bridge::maintenance;
use presence_sandbox::graph::DirectoryUser;
use std::time::Duration;

fn hourly() -> UsersConfig {
    UsersConfig {
        sync_interval: Some(Duration::from_secs(3600)),
        ..UsersConfig::default()
    }
}

fn refusal(report: &presence_bridge::users_sync::SyncReport, swyx: &str) -> Refusal {
    report
        .plan
        .refused
        .iter()
        .find(|r| r.swyx_user_id == swyx)
        .map(|r| r.refusal.clone())
        .unwrap_or_else(|| panic!("{swyx} not refused: {:?}", report.plan))
}

#[tokio::test]
async fn links_by_mail_upn_and_alias_and_a_second_run_changes_nothing() {
    let h = Harness::start(hourly()).await;
    h.entra("anna");
    let bob = DirectoryUser::new(&eid("bob"), "bob@corp.example", "Bob").without_mailbox();
    h.graph.add_directory_user(bob).unwrap();
    let carl = DirectoryUser::new(&eid("carl"), "carl@corp.example", "Carl")
        .with_alias("c.kraus@old.example");
    h.graph.add_directory_user(carl).unwrap();
    h.swyx_user("1001", "Anna@Corp.Example", &[]);
    h.swyx_user("1002", "bob@corp.example", &[]);
    h.swyx_user("1003", "C.Kraus@old.example", &[]);

    let plan = h.dry_run().await;
    assert_eq!(plan.plan.link.len(), 3, "{:?}", plan.plan);
    assert!(h.links().await.is_empty(), "a dry run changes nothing");

    let first = h.sync().await;
    let on: Vec<(&str, MatchedOn)> = first
        .plan
        .link
        .iter()
        .map(|l| (l.swyx_user_id.as_str(), l.matched_on))
        .collect();
    assert_eq!(
        on,
        [
            ("1001", MatchedOn::Mail),
            ("1002", MatchedOn::UserPrincipalName),
            ("1003", MatchedOn::ProxyAddress)
        ]
    );
    let links = h.links().await;
    assert_eq!(links["1001"], eid("anna"));
    assert_eq!(links["1002"], eid("bob"));
    assert_eq!(links["1003"], eid("carl"));

    let second = h.sync().await;
    assert!(second.plan.changes_nothing(), "{:?}", second.plan);
    assert_eq!(second.plan.unchanged.automatic, 3);
    assert_eq!(h.links().await, links);
}

#[tokio::test]
async fn ambiguous_disabled_and_unmatched_users_are_refused_with_the_reason() {
    let h = Harness::start(hourly()).await;
    // Entra does not keep `mail` unique: two users with one address.
    for name in ["team-a", "team-b"] {
        let u =
            DirectoryUser::new(&eid(name), &format!("{name}@corp.example"), name).without_mailbox();
        h.graph.add_directory_user(u).unwrap();
        h.graph
            .update_user(
                &eid(name),
                &presence_sandbox::graph::UserUpdate {
                    mail: Some(Some("team@corp.example".into())),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    h.entra("bob");
    let dora = DirectoryUser::new(&eid("dora"), "dora@corp.example", "Dora").disabled();
    h.graph.add_directory_user(dora).unwrap();
    h.swyx_user("1001", "team@corp.example", &[]);
    h.swyx_user("1002", "bob@corp.example", &[]);
    h.swyx_user("1003", "BOB@corp.example", &[]);
    h.swyx_user("1004", "dora@corp.example", &[]);
    h.swyx_user("1005", "nobody@corp.example", &[]);
    h.swyx_user("1006", "", &[]);

    let report = h.sync().await;
    assert!(report.plan.link.is_empty(), "{:?}", report.plan);
    assert!(h.links().await.is_empty());
    let mut both = vec![eid("team-a"), eid("team-b")];
    both.sort();
    assert_eq!(
        refusal(&report, "1001"),
        Refusal::AmbiguousAddress {
            email: "team@corp.example".into(),
            entra_ids: both
        }
    );
    assert!(matches!(
        refusal(&report, "1002"),
        Refusal::SharedAddress { ref swyx_user_ids, .. } if swyx_user_ids == &["1002", "1003"]
    ));
    assert_eq!(
        refusal(&report, "1004"),
        Refusal::Disabled {
            entra_id: eid("dora")
        }
    );
    assert!(matches!(
        refusal(&report, "1005"),
        Refusal::NoEntraUser { .. }
    ));
    assert_eq!(refusal(&report, "1006"), Refusal::NoEmail);

    // The operator reads the same by Swyx id.
    let mut text = Vec::new();
    links::write_report(&report, false, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.starts_with("users sync: 0 to link, 0 to unlink, 0 unchanged, 6 refused"),
        "{text}"
    );
    assert!(text.contains("refused  1004: Entra account"), "{text}");
    assert!(
        text.contains("refused  1005: no Entra user has the address nobody@corp.example"),
        "{text}"
    );
    let mut json = Vec::new();
    links::write_report(&report, true, &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["plan"]["refused"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn manual_links_and_exclusions_survive_every_sync() {
    let h = Harness::start(hourly()).await;
    for name in ["anna", "bob", "carl", "dora"] {
        h.entra(name);
    }
    h.swyx_user("1001", "anna@corp.example", &[]);
    h.swyx_user("1002", "bob@corp.example", &[]);
    h.swyx_user("1003", "carl@corp.example", &[]);
    h.swyx_user("1004", "dora@corp.example", &[]);
    // By hand: 1001 is bob (whatever its address says); dora's link comes from a CSV import.
    links::link(h.store.as_ref(), &eid("bob"), "1001", None)
        .await
        .unwrap();
    let csv = format!("{},1004,dora@corp.example\n", eid("dora"));
    assert_eq!(import(h.store.as_ref(), &csv).await.unwrap().imported, 1);

    let report = h.sync().await;
    let links = h.links().await;
    assert_eq!(links["1001"], eid("bob"), "the manual link stands");
    assert_eq!(links["1004"], eid("dora"));
    assert_eq!(
        links["1003"],
        eid("carl"),
        "the others are linked automatically"
    );
    assert_eq!(
        refusal(&report, "1002"),
        Refusal::LinkedManually {
            entra_id: eid("bob"),
            swyx_user_id: "1001".into()
        }
    );

    // Unlinked by hand: no sync links it again until it is included.
    let said = links::unlink_in(&h.app, "1003").await.unwrap();
    assert!(said.contains("excluded"), "{said}");
    h.sync().await;
    assert!(!h.links().await.contains_key("1003"));

    // The connector drops the manually linked users: their links stay all the same.
    h.swyx.remove_user("1001").unwrap();
    h.swyx.remove_user("1004").unwrap();
    let report = h.sync().await;
    assert!(report.plan.unlink.is_empty(), "{:?}", report.plan);
    assert_eq!(h.links().await.len(), 2);

    links::include(h.store.as_ref(), "1003").await.unwrap();
    h.sync().await;
    assert_eq!(h.links().await["1003"], eid("carl"));
}

#[tokio::test]
async fn maintenance_syncs_every_interval_and_not_before() {
    let h = Harness::start(hourly()).await;
    h.entra("anna");
    h.swyx_user("1001", "anna@corp.example", &[]);

    let first = maintenance::run(&h.app, Duration::from_secs(30)).await;
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    assert!(first.linking.ran);
    assert_eq!(first.linking.linked, 1);

    h.entra("bob");
    h.swyx_user("1002", "bob@corp.example", &[]);
    let before = h.graph_requests();
    let soon = maintenance::run(&h.app, Duration::from_secs(30)).await;
    assert!(!soon.linking.ran, "not due within the hour");
    assert_eq!(h.graph_requests(), before, "no Graph call when not due");
    assert!(!h.links().await.contains_key("1002"));

    h.bridge_later(Duration::from_secs(61 * 60));
    let due = maintenance::run(&h.app, Duration::from_secs(30)).await;
    assert!(due.linking.ran);
    assert_eq!(due.linking.linked, 1, "{:?}", due.linking);
    assert_eq!(h.links().await["1002"], eid("bob"));

    // Off when the interval is 0.
    let off = Harness::start(UsersConfig::default()).await;
    off.entra("anna");
    off.swyx_user("1001", "anna@corp.example", &[]);
    let summary = maintenance::run(&off.app, Duration::from_secs(30)).await;
    assert!(!summary.linking.ran);
    assert!(off.links().await.is_empty());
}
