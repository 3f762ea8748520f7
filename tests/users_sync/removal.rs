//! A Swyx user the connector drops, an Entra account disabled or deleted: the automatic link
//! goes, the subscription slot is freed, the bridge's "In a call" is cleared and the
//! Teams-derived Swyx status withdrawn.

use super::harness::{Harness, eid};
use super::hourly;
use presence_bridge::cli::links;
use presence_bridge::domain::linking::{Refusal, UnlinkReason};
use presence_bridge::domain::sharding::{AccountLoad, plan};
use presence_bridge::domain::{
    PresenceValue, SwyxAction, SwyxStatus, SwyxUpdate, TeamsPresence, UserSyncState,
};
use presence_bridge::maintenance;
use presence_bridge::store::prelude::*;
use presence_bridge::subscriptions::upkeep::linked_users;
use presence_bridge::teams_to_swyx::deliver::Delivered;
use std::time::Duration;

/// The bridge has set `status` on the Swyx user, as a Teams change would have.
async fn teams_status_set(h: &Harness, entra_id: &str, swyx_id: &str, status: SwyxStatus) {
    let now = h.app.clock.now();
    let state = UserSyncState {
        revision: now.millis() as u64,
        last_sequence: None,
        last_received_at: Some(now),
        last_presence: Some(TeamsPresence::new("Away", "Away")),
        teams_status: Some(status),
        echo_held: false,
    };
    h.store.put_sync_state(entra_id, &state, 0).await.unwrap();
    let update = SwyxUpdate {
        swyx_user_id: swyx_id.into(),
        entra_id: entra_id.into(),
        action: SwyxAction::Set(status),
        revision: state.revision,
        availability: PresenceValue::new("Away"),
        activity: PresenceValue::new("Away"),
        out_of_office: false,
        observed_at: now,
    };
    let sent = h
        .app
        .delivery()
        .deliver(&update, 0, Duration::from_secs(5))
        .await;
    assert_eq!(sent, Delivered::Now);
}

fn slot(h: &Harness, swyx_id: &str) -> Option<String> {
    h.swyx
        .user(swyx_id)
        .and_then(|u| u.teams)
        .and_then(|t| t.status)
        .map(|s| format!("{s:?}"))
}

#[tokio::test]
async fn removed_disabled_and_deleted_users_are_unlinked_and_cleaned_up() {
    let h = Harness::start(hourly()).await;
    for name in ["anna", "bob", "carl", "dora"] {
        h.entra(name);
    }
    for (id, name) in [
        ("1001", "anna"),
        ("1002", "bob"),
        ("1003", "carl"),
        ("1004", "dora"),
    ] {
        h.swyx_user(id, &format!("{name}@corp.example"), &[]);
    }
    assert_eq!(h.sync().await.plan.link.len(), 4);
    let covered = [eid("anna"), eid("bob"), eid("carl"), eid("dora")];
    // Bob is in a Swyx call: Teams shows "In a call". Carl has a Teams-derived Swyx status.
    h.swyx.start_call("1002").await.unwrap();
    assert!(h.in_a_call(&eid("bob")));
    teams_status_set(&h, &eid("carl"), "1003", SwyxStatus::Away).await;
    assert_eq!(slot(&h, "1003").as_deref(), Some("Away"));

    h.swyx.remove_user("1001").unwrap();
    h.graph.set_account_enabled(&eid("bob"), false).unwrap();
    h.graph.delete_user(&eid("carl")).unwrap();
    let report = h.sync().await;

    let reasons: Vec<(&str, &UnlinkReason)> = report
        .plan
        .unlink
        .iter()
        .map(|u| (u.swyx_user_id.as_str(), &u.reason))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0], ("1001", &UnlinkReason::SwyxUserRemoved));
    assert_eq!(
        reasons[1],
        (
            "1002",
            &UnlinkReason::Refused {
                refusal: Refusal::Disabled {
                    entra_id: eid("bob")
                }
            }
        )
    );
    assert!(matches!(
        reasons[2],
        (
            "1003",
            UnlinkReason::Refused {
                refusal: Refusal::NoEntraUser { .. }
            }
        )
    ));
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let links = h.links().await;
    assert_eq!(links.keys().collect::<Vec<_>>(), ["1004"]);

    // Their subscription slots are free: the account that covered all four keeps only dora.
    let linked = linked_users(h.store.as_ref()).await.unwrap();
    let account = AccountLoad {
        name: "sync1",
        assigned: &covered,
    };
    let shards = plan(&[account], &linked, 650);
    assert_eq!(shards.assigned["sync1"], [eid("dora")]);

    // Bob's "In a call" is gone at once (Graph answered); carl's Swyx status is withdrawn.
    assert!(!h.in_a_call(&eid("bob")));
    assert_eq!(slot(&h, "1003"), None);
    assert_eq!(h.store.get_sync_state(&eid("carl")).await.unwrap(), None);

    // A call event for an unlinked user changes nothing in Teams.
    h.swyx.start_call("1002").await.unwrap();
    assert!(!h.in_a_call(&eid("bob")));

    // Bob enabled again, carl restored: linked again at the next sync.
    h.graph.set_account_enabled(&eid("bob"), true).unwrap();
    h.graph.restore_user(&eid("carl")).unwrap();
    let again = h.sync().await;
    assert_eq!(again.plan.link.len(), 2, "{:?}", again.plan);
    assert_eq!(h.links().await.len(), 3);
}

#[tokio::test]
async fn an_empty_directory_unlinks_nobody() {
    let h = Harness::start(hourly()).await;
    h.entra("anna");
    h.swyx_user("1001", "anna@corp.example", &[]);
    h.sync().await;
    h.swyx.remove_user("1001").unwrap();
    let err = presence_bridge::users_sync::sync(&h.app, false, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("listed no users"), "{err}");
    assert_eq!(h.links().await.len(), 1);
}

/// An unlink cut short after its link went leaves the automatic mark behind: the next sync
/// reports it and drops it, so no mark outlives its link.
#[tokio::test]
async fn a_mark_left_by_an_unlink_cut_short_is_dropped_by_the_next_sync() {
    let h = Harness::start(hourly()).await;
    h.entra("anna");
    h.swyx_user("1001", "anna@corp.example", &[]);
    let report = h.sync().await;
    assert_eq!(report.plan.link.len(), 1);
    assert_eq!(h.links().await["1001"], eid("anna"));
    assert_eq!(h.store.list_link_marks().await.unwrap().len(), 1);
    // The unlink's first write (the link) happened, its last (the mark) did not.
    assert!(h.store.delete_user(&eid("anna")).await.unwrap());
    // Meanwhile the Swyx user's address changed: it matches nobody now.
    h.swyx.remove_user("1001").unwrap();
    h.swyx_user("1001", "front-desk@corp.example", &[]);
    let report = h.sync().await;
    assert_eq!(report.plan.stale_marks, ["1001"]);
    assert!(report.plan.link.is_empty(), "{:?}", report.plan);
    assert!(h.store.list_link_marks().await.unwrap().is_empty());
    // Nothing left to do: the sync after changes nothing.
    assert!(h.sync().await.plan.changes_nothing());
}

/// `users unlink` of a user in a call and of one with a Teams-derived Swyx status, each killed
/// right after its link went (before Graph or the connector heard of it): after the restart,
/// maintenance clears the "In a call", withdraws the status, and no sync links them again.
#[tokio::test]
async fn an_unlink_killed_after_its_link_went_is_finished_by_maintenance() {
    let h = Harness::start_on_file(hourly()).await;
    for (name, swyx_id) in [("anna", "1001"), ("bob", "1002")] {
        h.entra(name);
        h.swyx_user(swyx_id, &format!("{name}@corp.example"), &[]);
    }
    assert_eq!(h.sync().await.plan.link.len(), 2);
    teams_status_set(&h, &eid("anna"), "1001", SwyxStatus::Away).await;
    h.swyx.start_call("1002").await.unwrap();
    assert!(h.in_a_call(&eid("bob")));

    h.kill_after_unlinking();
    for swyx_id in ["1001", "1002"] {
        // Killed: whatever it answers is nobody's to read.
        let _ = links::unlink_in(&h.app, swyx_id).await;
    }
    assert!(
        h.links().await.is_empty(),
        "both links went before the kill"
    );
    assert_eq!(slot(&h, "1001").as_deref(), Some("Away"));
    assert!(h.in_a_call(&eid("bob")));

    h.restart();
    h.bridge_later(Duration::from_secs(60));
    let summary = maintenance::run(&h.app, Duration::from_secs(30)).await;
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert!(!h.in_a_call(&eid("bob")), "In a call cleared");
    assert_eq!(slot(&h, "1001"), None, "Swyx's own status rules again");
    h.sync().await;
    assert!(h.links().await.is_empty(), "still excluded");
}

/// A call the bridge holds for a user whose link is gone (an unlink cut short before it ended
/// the calls, or a call event that raced it): maintenance ends it when the session is due for
/// renewal, instead of keeping "In a call" up until the maximum call length.
#[tokio::test]
async fn a_call_held_for_a_user_no_longer_linked_is_cleared_by_maintenance() {
    let h = Harness::start(hourly()).await;
    h.entra("bob");
    h.swyx_user("1002", "bob@corp.example", &[]);
    h.sync().await;
    h.swyx.start_call("1002").await.unwrap();
    assert!(h.in_a_call(&eid("bob")));
    // Bob's account is disabled; the link goes, nothing else.
    h.graph.set_account_enabled(&eid("bob"), false).unwrap();
    assert!(h.store.delete_user(&eid("bob")).await.unwrap());

    h.bridge_later(Duration::from_secs(3 * 60));
    let summary = maintenance::run(&h.app, Duration::from_secs(30)).await;
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert!(!h.in_a_call(&eid("bob")));
}
