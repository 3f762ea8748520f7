//! Repairs of what Swyx has wrong, against Graph's presences and against what Swyx holds.

use super::*;
use crate::fakes::FakeGraph;
use crate::teams_to_swyx::reconcile::reconcile;

#[tokio::test]
async fn reconciliation_repairs_only_the_users_swyx_has_wrong() {
    let users = [
        ("alice", "swyx-1"),
        ("bob", "swyx-2"),
        ("carol", "swyx-3"),
        ("dave", "swyx-4"),
    ];
    let w = World::new(&users).await;
    for (entra_id, availability) in [("alice", "Available"), ("bob", "Away")] {
        let Observed::Forward(update) = w
            .observe(w.judge(), entra_id, seen(availability, availability, 1))
            .await
        else {
            panic!("a first presence is forwarded");
        };
        w.delivery().deliver(&update, 0, BUDGET).await;
    }
    let graph = FakeGraph::default();
    graph.show("alice", "Available", "Available");
    graph.show("bob", "Available", "Available"); // a lost notification
    graph.show("carol", "DoNotDisturb", "DoNotDisturb"); // never notified
    // dave: Graph has nothing for him.
    let ids: Vec<String> = users.iter().map(|(id, _)| id.to_string()).collect();
    w.time.advance(Duration::from_secs(60));
    let summary = reconcile(
        &w.store,
        w.judge(),
        w.delivery(),
        &graph,
        &ids,
        w.clock.now(),
        BUDGET,
    )
    .await
    .unwrap();
    assert_eq!((summary.read, summary.repaired, summary.pending), (3, 2, 0));
    let repairs: Vec<(String, SwyxAction)> = w.connector.received()[2..]
        .iter()
        .map(|u| (u.swyx_user_id.clone(), u.action))
        .collect();
    let mut repairs = repairs;
    repairs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        repairs,
        [
            ("swyx-2".to_string(), SwyxAction::Set(SwyxStatus::Available)),
            (
                "swyx-3".to_string(),
                SwyxAction::Set(SwyxStatus::DoNotDisturb)
            ),
        ]
    );
}

/// Sends each user's presence through the whole path, so the connector holds what was decided.
async fn decided_and_delivered(w: &World, users: &[(&str, &str)]) {
    for (entra_id, availability) in users {
        let Observed::Forward(update) = w
            .observe(w.judge(), entra_id, seen(availability, availability, 1))
            .await
        else {
            panic!("{entra_id}: expected a forward");
        };
        assert_eq!(
            w.delivery().deliver(&update, 0, BUDGET).await,
            Delivered::Now
        );
    }
}

#[tokio::test]
async fn what_swyx_lost_or_holds_wrongly_is_sent_again_and_nothing_else() {
    use crate::domain::HeldStatus;
    use crate::teams_to_swyx::swyx_truth::repair_against_swyx;
    let users = [("alice", "swyx-1"), ("bob", "swyx-2"), ("carol", "swyx-3")];
    let w = World::new(&users).await;
    decided_and_delivered(&w, &[("alice", "Away"), ("bob", "Away"), ("carol", "Away")]).await;
    let sent_before = w.connector.received().len();
    let now = w.clock.now();

    // Nothing differs: nothing is sent.
    let s = repair_against_swyx(&w.store, w.delivery(), Default::default(), now, BUDGET)
        .await
        .unwrap();
    assert_eq!((s.compared, s.repaired), (3, 0));
    assert_eq!(w.connector.received().len(), sent_before);

    // The connector was restored from a backup: Bob lost his status (revision 0 there), and
    // Carol's slot says Available at a revision above the bridge's.
    w.connector.hold(
        "swyx-2",
        HeldStatus {
            status: None,
            revision: 0,
        },
    );
    let carol_rev = w
        .store
        .get_sync_state("carol")
        .await
        .unwrap()
        .unwrap()
        .revision;
    w.connector.hold(
        "swyx-3",
        HeldStatus {
            status: Some(SwyxStatus::Available),
            revision: carol_rev + 10,
        },
    );
    let s = repair_against_swyx(&w.store, w.delivery(), Default::default(), now, BUDGET)
        .await
        .unwrap();
    assert_eq!((s.compared, s.repaired, s.pending), (3, 2, 0));
    let resent: Vec<_> = w.connector.received()[sent_before..].to_vec();
    assert_eq!(resent.len(), 2, "{resent:?}");
    for update in &resent {
        assert_eq!(update.action, SwyxAction::Set(SwyxStatus::Away));
    }
    let carol = resent.iter().find(|u| u.swyx_user_id == "swyx-3").unwrap();
    assert!(
        carol.revision > carol_rev + 10,
        "above what the connector applied"
    );
    // Now both sides agree: a second comparison sends nothing.
    let s = repair_against_swyx(&w.store, w.delivery(), Default::default(), now, BUDGET)
        .await
        .unwrap();
    assert_eq!(s.repaired, 0);
}

#[tokio::test]
async fn a_connector_that_cannot_list_its_users_changes_nothing() {
    use crate::teams_to_swyx::swyx_truth::repair_against_swyx;
    let w = World::new(&[("alice", "swyx-1")]).await;
    decided_and_delivered(&w, &[("alice", "Away")]).await;
    w.connector.set_down(true);
    let now = w.clock.now();
    let s = repair_against_swyx(&w.store, w.delivery(), Default::default(), now, BUDGET)
        .await
        .unwrap();
    assert!(s.unreadable);
    assert_eq!(s.repaired, 0);
    assert_eq!(w.store.count_pending().await.unwrap(), 0);
}

#[tokio::test]
async fn an_owed_comparison_without_time_left_stays_owed_until_one_goes_through() {
    use crate::domain::HeldStatus;
    use crate::store::IdempotencyStore;
    use crate::teams_to_swyx::swyx_truth::{OWED_KEY, compare_when_owed, owe_comparison};
    let w = World::new(&[("alice", "swyx-1")]).await;
    decided_and_delivered(&w, &[("alice", "Away")]).await;
    let now = w.clock.now();
    let compare = |budget| {
        compare_when_owed(
            &w.store,
            w.delivery(),
            Default::default(),
            now,
            false,
            budget,
        )
    };

    // Nothing reconciled, nothing owed: Swyx is not asked.
    assert_eq!(compare(BUDGET).await.unwrap(), None);

    w.connector.hold(
        "swyx-1",
        HeldStatus {
            status: None,
            revision: 0,
        },
    );
    owe_comparison(&w.store, now).await.unwrap();
    let s = compare(Duration::ZERO).await.unwrap().unwrap();
    assert!(s.budget_exhausted);
    assert!(
        w.store.is_claimed(OWED_KEY, now).await.unwrap(),
        "still owed"
    );

    let s = compare(BUDGET).await.unwrap().unwrap();
    assert_eq!((s.compared, s.repaired), (1, 1));
    assert!(!w.store.is_claimed(OWED_KEY, now).await.unwrap(), "settled");
    assert_eq!(compare(BUDGET).await.unwrap(), None);
}

/// What an unlink raced by a notification of the same user leaves: the link gone, and the
/// notification's status delivered after the withdrawal, above its revision.
async fn unlinked_with_a_late_status(w: &World, entra_id: &str, swyx_user_id: &str) -> u64 {
    use crate::domain::HeldStatus;
    use crate::store::UserLinkStore;
    assert!(w.store.delete_user(entra_id).await.unwrap());
    let late = w.clock.now().millis() as u64 + 1_000;
    w.connector.hold(
        swyx_user_id,
        HeldStatus {
            status: Some(SwyxStatus::Away),
            revision: late,
        },
    );
    late
}

#[tokio::test]
async fn a_status_swyx_holds_for_a_user_no_link_points_to_is_withdrawn_once() {
    use crate::domain::HeldStatus;
    use crate::teams_to_swyx::swyx_truth::repair_against_swyx;
    let w = World::new(&[("alice", "swyx-1"), ("bob", "swyx-2")]).await;
    decided_and_delivered(&w, &[("alice", "Away"), ("bob", "Away")]).await;
    let late = unlinked_with_a_late_status(&w, "bob", "swyx-2").await;
    // A Swyx user nobody links, with nothing held: nothing to withdraw.
    w.connector.hold(
        "swyx-3",
        HeldStatus {
            status: None,
            revision: 0,
        },
    );
    let sent_before = w.connector.received().len();
    let now = w.clock.now();

    let s = repair_against_swyx(&w.store, w.delivery(), Default::default(), now, BUDGET)
        .await
        .unwrap();
    assert_eq!(
        (s.compared, s.repaired, s.withdrawn_unlinked, s.pending),
        (1, 0, 1, 0),
        "Alice agrees; Bob's status is withdrawn"
    );
    let sent = w.connector.received()[sent_before..].to_vec();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].swyx_user_id, "swyx-2");
    assert_eq!(sent[0].action, SwyxAction::Withdraw);
    assert!(sent[0].revision > late, "above what the connector applied");
    assert_eq!(
        w.store.count_pending().await.unwrap(),
        0,
        "nothing stored for a user with no link"
    );

    // Swyx now holds nothing for Bob: the next comparison sends nothing.
    let s = repair_against_swyx(&w.store, w.delivery(), Default::default(), now, BUDGET)
        .await
        .unwrap();
    assert_eq!((s.withdrawn_unlinked, s.repaired), (0, 0));
    assert_eq!(w.connector.received().len(), sent_before + 1);
}

#[tokio::test]
async fn an_unlinked_users_withdrawal_the_connector_does_not_take_is_kept_pending() {
    use crate::fakes::Scripted;
    use crate::teams_to_swyx::swyx_truth::repair_against_swyx;
    let w = World::new(&[("bob", "swyx-2")]).await;
    decided_and_delivered(&w, &[("bob", "Away")]).await;
    let late = unlinked_with_a_late_status(&w, "bob", "swyx-2").await;
    w.connector
        .answer_next(Scripted::Unavailable { retry_after: None });
    let now = w.clock.now();
    let s = repair_against_swyx(&w.store, w.delivery(), Default::default(), now, BUDGET)
        .await
        .unwrap();
    assert_eq!((s.withdrawn_unlinked, s.pending), (1, 1));
    let pending = w.store.get_pending("swyx-2").await.unwrap().expect("kept");
    assert_eq!(pending.update.action, SwyxAction::Withdraw);
    assert!(pending.update.revision > late);
}

#[tokio::test]
async fn an_unlinked_users_status_is_withdrawn_even_while_teams_to_swyx_is_off() {
    use crate::domain::Directions;
    use crate::teams_to_swyx::swyx_truth::repair_against_swyx;
    let w = World::new(&[("alice", "swyx-1"), ("bob", "swyx-2")]).await;
    decided_and_delivered(&w, &[("alice", "Away"), ("bob", "Away")]).await;
    unlinked_with_a_late_status(&w, "bob", "swyx-2").await;
    let sent_before = w.connector.received().len();
    // Switched off, a direction still withdraws what the bridge set: nothing of it outlives
    // the switch, nor the link.
    let off = Directions {
        teams_to_swyx: false,
        ..Directions::default()
    };
    let now = w.clock.now();
    let s = repair_against_swyx(&w.store, w.delivery(), off, now, BUDGET)
        .await
        .unwrap();
    assert_eq!(
        (s.compared, s.withdrawn_unlinked),
        (0, 1),
        "Alice is left out"
    );
    let sent = w.connector.received()[sent_before..].to_vec();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].swyx_user_id.as_str(), sent[0].action),
        ("swyx-2", SwyxAction::Withdraw)
    );
}
