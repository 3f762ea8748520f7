//! Scope (an Entra group, transitively, and a Swyx group) and what a sync of 10,000 users costs
//! in Graph requests.

use super::harness::{Harness, eid};
use presence_bridge::config::UsersConfig;
use presence_bridge::domain::linking::{SkipReason, UnlinkReason};
use presence_sandbox::graph::{DirectoryUser, UserUpdate};
use std::time::{Duration, Instant};

const GROUP: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";
const NESTED: &str = "1f0e0d0c-0b0a-4908-8706-050403020100";

#[tokio::test]
async fn only_members_of_both_groups_are_linked_and_leavers_are_unlinked() {
    let h = Harness::start(UsersConfig {
        sync_interval: Some(Duration::from_secs(3600)),
        entra_group: Some(GROUP.into()),
        swyx_group: Some("Sales".into()),
        ..UsersConfig::default()
    })
    .await;
    for name in ["anna", "bob", "carl", "dora"] {
        h.entra(name);
    }
    // Anna is in the group through a nested one, bob directly; carl is in neither.
    h.graph.add_group(NESTED, "Sales Berlin").unwrap();
    h.graph.set_group_members(NESTED, &[&eid("anna")]).unwrap();
    h.graph.add_group(GROUP, "Sales").unwrap();
    h.graph
        .set_group_members(GROUP, &[NESTED, &eid("bob"), &eid("dora")])
        .unwrap();
    h.swyx_user("1001", "anna@corp.example", &["Sales", "Berlin"]);
    h.swyx_user("1002", "bob@corp.example", &["sales"]);
    h.swyx_user("1003", "carl@corp.example", &["Sales"]);
    h.swyx_user("1004", "dora@corp.example", &["Support"]);

    let report = h.sync().await;
    let linked: Vec<&str> = report
        .plan
        .link
        .iter()
        .map(|l| l.swyx_user_id.as_str())
        .collect();
    assert_eq!(linked, ["1001", "1002"]);
    let skipped: Vec<(&str, &SkipReason)> = report
        .plan
        .skipped
        .iter()
        .map(|s| (s.swyx_user_id.as_str(), &s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            ("1003", &SkipReason::OutOfScope),
            ("1004", &SkipReason::OutOfScope)
        ]
    );

    // Bob leaves the Entra group, anna the Swyx group: both are unlinked.
    h.graph.set_group_members(GROUP, &[NESTED]).unwrap();
    h.swyx
        .update_user("1001", None, None, Some(&["Berlin".to_string()][..]))
        .unwrap();
    let report = h.sync().await;
    let unlinked: Vec<(&str, &UnlinkReason)> = report
        .plan
        .unlink
        .iter()
        .map(|u| (u.swyx_user_id.as_str(), &u.reason))
        .collect();
    assert_eq!(
        unlinked,
        [
            ("1001", &UnlinkReason::OutOfScope),
            ("1002", &UnlinkReason::OutOfScope)
        ]
    );
    assert!(h.links().await.is_empty());
}

/// `cargo test --workspace --test users_sync -- graph_requests --nocapture` prints the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_requests_for_ten_thousand_users_from_empty_and_after_ten_changes() {
    const USERS: usize = 10_000;
    let h = Harness::start(super::hourly()).await;
    let users = (0..USERS).map(|i| {
        let upn = format!("user{i:05}@corp.example");
        DirectoryUser::new(&format!("{i:08x}-0000-4000-8000-000000000000"), &upn, &upn)
    });
    assert_eq!(h.graph.add_directory_users(users).unwrap(), USERS);
    for i in 0..USERS {
        h.swyx_user(
            &format!("{}", 100_000 + i),
            &format!("User{i:05}@corp.example"),
            &[],
        );
    }

    let before = h.graph_requests();
    let started = Instant::now();
    let first = h.sync().await;
    let from_empty = h.graph_requests() - before;
    let first_took = started.elapsed();
    assert_eq!(first.plan.link.len(), USERS);
    assert!(first.failed.is_empty() && !first.unfinished);
    // One listing of every user, 999 per page: nothing per user.
    assert_eq!(from_empty as usize, USERS.div_ceil(999));

    // Ten changes: five Swyx addresses changed to nobody's, five Entra accounts disabled.
    for i in 0..5 {
        h.swyx
            .update_user(
                &format!("{}", 100_000 + i),
                None,
                Some(Some(&format!("gone{i}@corp.example"))),
                None,
            )
            .unwrap();
        let disable = UserUpdate {
            account_enabled: Some(false),
            ..UserUpdate::default()
        };
        h.graph
            .update_user(
                &format!("{:08x}-0000-4000-8000-000000000000", 100 + i),
                &disable,
            )
            .unwrap();
    }
    let before = h.graph_requests();
    let started = Instant::now();
    let rerun = h.sync().await;
    let after_changes = h.graph_requests() - before;
    assert_eq!(rerun.plan.unlink.len(), 10, "{:?}", rerun.plan.unlink);
    assert_eq!(rerun.plan.unchanged.automatic, USERS - 10);
    assert_eq!(after_changes, from_empty);
    println!(
        "users sync, {USERS} users: {from_empty} Graph requests from empty ({first_took:.1?}), \
         {after_changes} after 10 changes ({:.1?}); token requests not counted",
        started.elapsed()
    );
}
