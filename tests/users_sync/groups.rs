//! The Swyx groups each link carries (per-group rules pick by them): written with the link,
//! brought up to date by the next sync, and a sync with nothing changed changes nothing.

use super::harness::{Harness, eid};
use presence_bridge::config::UsersConfig;
use presence_bridge::store::prelude::*;
use std::time::Duration;

#[tokio::test]
async fn links_carry_the_swyx_groups_and_a_changed_group_is_one_change() {
    let h = Harness::start(UsersConfig {
        sync_interval: Some(Duration::from_secs(3600)),
        ..UsersConfig::default()
    })
    .await;
    h.entra("anna");
    h.entra("bob");
    h.swyx_user("1001", "anna@corp.example", &[" Sales", "Berlin", "sales"]);
    h.swyx_user("1002", "bob@corp.example", &[]);
    let first = h.sync().await;
    assert_eq!(first.plan.link.len(), 2);
    let groups = |entra: &str| {
        let store = h.store.clone();
        let id = eid(entra);
        async move { store.get_user(&id).await.unwrap().unwrap().groups }
    };
    assert_eq!(
        groups("anna").await,
        ["Berlin", "Sales"],
        "trimmed, once, sorted"
    );
    assert!(groups("bob").await.is_empty());
    assert!(h.sync().await.plan.changes_nothing(), "nothing changed");

    // Bob joins Support: a dry run shows it and changes nothing; the sync regroups him only.
    h.swyx
        .update_user("1002", None, None, Some(&["Support".to_string()][..]))
        .unwrap();
    let dry = h.dry_run().await;
    assert_eq!(dry.plan.regroup.len(), 1);
    assert_eq!(dry.plan.regroup[0].swyx_user_id, "1002");
    assert!(
        dry.plan.summary().ends_with("1 with new Swyx groups"),
        "{}",
        dry.plan.summary()
    );
    assert!(groups("bob").await.is_empty(), "a dry run changes nothing");
    let report = h.sync().await;
    assert!(report.plan.link.is_empty() && report.plan.unlink.is_empty());
    assert_eq!(groups("bob").await, ["Support"]);
    assert_eq!(groups("anna").await, ["Berlin", "Sales"]);
    assert!(h.sync().await.plan.changes_nothing());
}
