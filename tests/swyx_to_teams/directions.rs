//! Who and what syncs: direction switches, global (`[users]`) and per user (`users set`), and
//! per-user rules (`[[mapping.override]]`), end to end between the emulated Graph tenant and the
//! emulated SwyxServer connector.

use super::harness::*;
use presence_bridge::cli::switches::set_in;
use presence_bridge::domain::{
    DirectionSwitches, Directions, MappingRules, RuleOverride, SwitchChange,
};
use presence_bridge::graph::client::{GraphClient, GraphSettings};
use presence_bridge::graph::token::ClientSecret;
use presence_bridge::store::UserSwitches;
use presence_bridge::store::prelude::*;
use presence_bridge::teams_to_swyx::reconcile::reconcile;
use presence_sandbox::swyx::TeamsStatus;
use std::time::Duration;

const ALICE: &str = "aaaaaaaa-0000-0000-0000-00000000a11c";
const BOB: &str = "bbbbbbbb-0000-0000-0000-000000000b0b";

fn teams_slot(h: &Harness, swyx_id: &str) -> Option<TeamsStatus> {
    h.swyx
        .user(swyx_id)
        .and_then(|u| u.teams)
        .and_then(|t| t.status)
}

/// The Teams-derived revision the connector holds for the user (grows with every update it
/// applied, a withdrawal included).
fn slot_revision(h: &Harness, swyx_id: &str) -> u64 {
    h.swyx
        .user(swyx_id)
        .and_then(|u| u.teams)
        .map_or(0, |t| t.revision)
}

fn teams_to_swyx(on: Option<bool>) -> SwitchChange {
    SwitchChange {
        teams_to_swyx: Some(on),
        ..SwitchChange::default()
    }
}

fn swyx_to_teams(on: Option<bool>) -> SwitchChange {
    SwitchChange {
        swyx_to_teams: Some(on),
        ..SwitchChange::default()
    }
}

/// Alice and Bob linked and subscribed, both Available in Teams and at Swyx.
async fn both_available(h: &Harness) {
    h.link(ALICE, "1001").await;
    h.link(BOB, "1002").await;
    h.subscribe(&[ALICE, BOB]).await;
    let before = h.graph.stats().notifications_delivered;
    for user in [ALICE, BOB] {
        h.graph
            .set_client_session(user, "teams-desktop", "Available", "Available")
            .unwrap();
    }
    h.delivered(before + 2).await;
    assert_eq!(teams_slot(h, "1001"), Some(TeamsStatus::Available));
    assert_eq!(teams_slot(h, "1002"), Some(TeamsStatus::Available));
}

#[tokio::test]
async fn teams_to_swyx_switched_off_for_one_user_withdraws_sends_nothing_and_converges_when_on() {
    let h = Harness::start().await;
    both_available(&h).await;

    // By Swyx id; the Available the bridge set is taken back at once.
    let said = set_in(&h.app, "1001", teams_to_swyx(Some(false)))
        .await
        .unwrap();
    assert!(said.contains("Teams → Swyx off (own)"), "{said}");
    assert_eq!(teams_slot(&h, "1001"), None, "withdrawn: Swyx's own rules");
    let withdrawn_at = slot_revision(&h, "1001");

    // Teams changes for both: only Bob's reaches Swyx.
    let before = h.graph.stats().notifications_delivered;
    for user in [ALICE, BOB] {
        h.graph
            .set_client_session(user, "teams-desktop", "Busy", "Busy")
            .unwrap();
    }
    h.delivered(before + 2).await;
    assert_eq!(teams_slot(&h, "1002"), Some(TeamsStatus::Away));
    assert_eq!(teams_slot(&h, "1001"), None);
    assert_eq!(slot_revision(&h, "1001"), withdrawn_at, "nothing sent");
    // Nor does maintenance send anything for her (pending retries, read-back).
    h.maintenance().await;
    assert_eq!(slot_revision(&h, "1001"), withdrawn_at);
    assert_eq!(h.store.get_pending("1001").await.unwrap(), None);

    // On again (by Entra id, any case): her current Teams state reaches Swyx without waiting
    // for Teams to change.
    let said = set_in(
        &h.app,
        &ALICE.to_ascii_uppercase(),
        teams_to_swyx(Some(true)),
    )
    .await
    .unwrap();
    assert!(said.contains("Teams → Swyx on (own)"), "{said}");
    assert_eq!(teams_slot(&h, "1001"), Some(TeamsStatus::Away));
    // Back to the configuration: the record goes, the state stays on.
    set_in(&h.app, "1001", teams_to_swyx(None)).await.unwrap();
    assert_eq!(h.store.get_switches("1001").await.unwrap(), None);
    assert_eq!(teams_slot(&h, "1001"), Some(TeamsStatus::Away));
}

/// A reconciliation of `users`, as maintenance runs one every `reconcile_interval`: their Teams
/// presence read in bulk (the same `sequenceNumber`s when Teams did not change) and judged.
async fn reconcile_teams(h: &Harness, users: &[&str]) {
    let settings = GraphSettings::new(
        &h.graph.graph_url(),
        &h.graph.authority_url(),
        TENANT,
        APP_ID,
        ClientSecret::new(CLIENT_SECRET),
    );
    let reader = GraphClient::new(settings, http());
    let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    let (store, now) = (h.app.store.as_ref(), h.app.clock.now());
    let budget = Duration::from_secs(5);
    reconcile(
        store,
        h.app.judge(),
        h.app.delivery(),
        &reader,
        &users,
        now,
        budget,
    )
    .await
    .unwrap();
}

/// `users set … --teams-to-swyx off` cut short after storing the switch (a kill, a store error)
/// left the Teams-derived status at Swyx. Running the command again withdraws it; so does the
/// next reconciliation, though Teams did not change.
#[tokio::test]
async fn a_switch_off_cut_short_before_its_withdrawal_still_withdraws() {
    let h = Harness::start().await;
    both_available(&h).await;
    for swyx_id in ["1001", "1002"] {
        let off = UserSwitches {
            swyx_user_id: swyx_id.into(),
            switches: DirectionSwitches {
                teams_to_swyx: Some(false),
                ..DirectionSwitches::default()
            },
        };
        h.store.put_switches(&off).await.unwrap();
    }
    assert_eq!(teams_slot(&h, "1001"), Some(TeamsStatus::Available));

    // The operator runs it again for Alice.
    let said = set_in(&h.app, "1001", teams_to_swyx(Some(false)))
        .await
        .unwrap();
    assert!(said.contains("withdrawn"), "{said}");
    assert_eq!(teams_slot(&h, "1001"), None);
    let withdrawn_at = slot_revision(&h, "1001");

    // Nobody does for Bob: the next reconciliation withdraws his, and sends nothing more for her.
    reconcile_teams(&h, &[ALICE, BOB]).await;
    assert_eq!(teams_slot(&h, "1002"), None);
    assert_eq!(slot_revision(&h, "1001"), withdrawn_at);
    assert_eq!(h.store.get_pending("1002").await.unwrap(), None);
}

#[tokio::test]
async fn teams_to_swyx_off_in_the_configuration_and_on_for_one_user() {
    let h = Harness::start_directed(Directions {
        teams_to_swyx: false,
        ..Directions::default()
    })
    .await;
    h.link(ALICE, "1001").await;
    h.link(BOB, "1002").await;
    h.subscribe(&[ALICE, BOB]).await;
    set_in(&h.app, "1002", teams_to_swyx(Some(true)))
        .await
        .unwrap();
    let before = h.graph.stats().notifications_delivered;
    for user in [ALICE, BOB] {
        h.graph
            .set_client_session(user, "teams-desktop", "DoNotDisturb", "DoNotDisturb")
            .unwrap();
    }
    h.delivered(before + 2).await;
    assert_eq!(teams_slot(&h, "1002"), Some(TeamsStatus::DoNotDisturb));
    assert_eq!(h.swyx.user("1001").unwrap().teams, None, "never sent");
}

#[tokio::test]
async fn swyx_to_teams_switched_off_clears_in_a_call_and_later_calls_stay_out_of_teams() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    h.link(BOB, "1002").await;
    h.swyx.start_call("1001").await.unwrap();
    assert!(h.in_a_call(ALICE));

    let said = set_in(&h.app, "1001", swyx_to_teams(Some(false)))
        .await
        .unwrap();
    assert!(said.contains("Swyx → Teams off (own)"), "{said}");
    assert!(h.graph.app_sessions(ALICE).is_empty(), "In a call cleared");

    let sets = h.graph.stats().set_presence_calls;
    h.swyx.start_call("1001").await.unwrap();
    assert!(h.graph.app_sessions(ALICE).is_empty());
    assert_eq!(h.graph.stats().set_presence_calls, sets, "nothing sent");
    h.clock.advance(3 * MIN);
    h.maintenance().await;
    assert!(h.graph.app_sessions(ALICE).is_empty());
    assert_eq!(h.graph.stats().set_presence_calls, sets);

    // Bob follows the configuration (on).
    h.swyx.start_call("1002").await.unwrap();
    assert!(h.in_a_call(BOB));
}

#[tokio::test]
async fn swyx_to_teams_off_in_the_configuration_and_on_for_one_user() {
    let h = Harness::start_directed(Directions {
        swyx_to_teams: false,
        ..Directions::default()
    })
    .await;
    h.link(ALICE, "1001").await;
    let call = h.swyx.start_call("1001").await.unwrap();
    assert!(h.graph.app_sessions(ALICE).is_empty(), "off for everyone");
    h.swyx.end_call("1001", &call).await.unwrap();
    assert_eq!(h.graph.stats().set_presence_calls, 0);
    // On for her alone.
    set_in(&h.app, ALICE, swyx_to_teams(Some(true)))
        .await
        .unwrap();
    h.swyx.start_call("1001").await.unwrap();
    assert!(h.in_a_call(ALICE));
}

/// Alice and Bob in a meeting, Bob judged by the sales team's file (a meeting is "Do not
/// disturb" for them, not "Away") because `named` names him or a group he is in: the Swyx
/// statuses they get.
async fn in_a_meeting_with_sales_rules(
    named: RuleOverride,
    bob_groups: &[&str],
) -> (Option<TeamsStatus>, Option<TeamsStatus>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sales.toml");
    std::fs::write(
        &file,
        "[[rule]]\navailability = \"Busy\"\nactivity = \"InAMeeting\"\nstatus = \"DoNotDisturb\"\n\n\
         [[rule]]\navailability = \"*\"\nactivity = \"*\"\nstatus = \"Available\"\n",
    )
    .unwrap();
    let h = Harness::start_with_overrides(vec![RuleOverride {
        rules: MappingRules::load(&file).unwrap(),
        source: file.display().to_string(),
        ..named
    }])
    .await;
    h.link(ALICE, "1001").await;
    h.link(BOB, "1002").await;
    // The groups a users sync would have stored with Bob's link.
    let mut bob = h.store.get_user(BOB).await.unwrap().unwrap();
    bob.groups = bob_groups.iter().map(|g| g.to_string()).collect();
    h.store.put_user(&bob).await.unwrap();
    h.subscribe(&[ALICE, BOB]).await;
    let before = h.graph.stats().notifications_delivered;
    for user in [ALICE, BOB] {
        h.graph
            .set_client_session(user, "teams-desktop", "Busy", "InAMeeting")
            .unwrap();
    }
    h.delivered(before + 2).await;
    (teams_slot(&h, "1001"), teams_slot(&h, "1002"))
}

fn naming(users: &[&str], swyx_groups: &[&str]) -> RuleOverride {
    RuleOverride {
        users: users.iter().map(|u| u.to_string()).collect(),
        swyx_groups: swyx_groups.iter().map(|g| g.to_string()).collect(),
        rules: MappingRules::default(),
        source: String::new(),
    }
}

#[tokio::test]
async fn a_user_with_rules_of_their_own_gets_another_swyx_status_for_the_same_presence() {
    let (alice, bob) = in_a_meeting_with_sales_rules(naming(&["1002"], &[]), &[]).await;
    assert_eq!(alice, Some(TeamsStatus::Away), "default table");
    assert_eq!(bob, Some(TeamsStatus::DoNotDisturb), "Bob's own rules");
}

#[tokio::test]
async fn a_swyx_group_with_rules_of_its_own_judges_its_members() {
    let (alice, bob) =
        in_a_meeting_with_sales_rules(naming(&[], &["sales"]), &["Berlin", "Sales"]).await;
    assert_eq!(alice, Some(TeamsStatus::Away), "in no group: default table");
    assert_eq!(
        bob,
        Some(TeamsStatus::DoNotDisturb),
        "the Sales group's rules"
    );
}
