//! Contract 1.1 (`infra/connector-openapi.yaml`): the paged user list with groups and the
//! Teams-derived status applied, reading one user's status back, the `SwyxUserId` rule, and
//! `status.changed` for statuses set by hand (never for one applied from Teams). 1.2: who is
//! speaking now (`speaking`, the `speaking=true` filter), also when call events are lost.

use presence_sandbox::swyx::{EffectiveStatus, OwnStatus};
use serde_json::{Value, json};

use crate::support::{Key, Receiver, setup, update};

fn ids(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["swyxUserId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_user_list_comes_in_pages_ordered_by_swyx_user_id() {
    let s = setup(None).await;
    for i in 0..240 {
        let groups = vec!["Sales".to_owned(), format!("Team {}", i % 3)];
        s.emu
            .try_add_user(
                &format!("2{i:03}"),
                "User",
                &format!("u{i}@contoso.example"),
                &groups,
            )
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut path = "/v1/users?limit=100".to_owned();
    let mut pages = 0;
    loop {
        let a = s.get(&path, &s.inbound).await;
        assert_eq!(a.status, 200, "{}", a.body);
        seen.extend(ids(&a.body));
        pages += 1;
        match a.body["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/users?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 242));
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "ordered by swyxUserId");

    let all = s.get("/v1/users", &s.inbound).await;
    assert_eq!(ids(&all.body).len(), 242, "500 by default");
    assert_eq!(all.body["nextCursor"], Value::Null);
    let first = &all.body["users"][2];
    assert_eq!(first["groups"], json!(["Sales", "Team 0"]));

    for bad in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "limit=-1",
        "cursor=%25%25",
        "cursor=",
    ] {
        let a = s.get(&format!("/v1/users?{bad}"), &s.inbound).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
        assert!(a.body["error"].is_string());
    }
    assert_eq!(s.get("/v1/users?limit=1000", &s.inbound).await.status, 200);
}

#[tokio::test]
async fn the_status_read_back_is_what_was_applied() {
    let s = setup(None).await;
    let read = |user: &'static str| {
        let s = &s;
        async move {
            s.get(&format!("/v1/users/{user}/teams-status"), &s.inbound)
                .await
        }
    };
    let a = read("101").await;
    assert_eq!(
        (a.status, a.body.clone()),
        (
            200,
            json!({ "swyxUserId": "101", "status": null, "revision": 0 })
        )
    );
    assert_eq!(
        s.put("101", &update("101", Some("Speaking"), 7))
            .await
            .status,
        200
    );
    assert_eq!(
        read("101").await.body,
        json!({ "swyxUserId": "101", "status": "Speaking", "revision": 7 })
    );
    assert_eq!(
        s.put("101", &update("101", Some("Away"), 6)).await.status,
        409
    );
    assert_eq!(
        read("101").await.body["status"],
        "Speaking",
        "a refused update is not applied"
    );
    assert_eq!(s.put("101", &update("101", None, 8)).await.status, 200);
    assert_eq!(
        read("101").await.body,
        json!({ "swyxUserId": "101", "status": null, "revision": 8 })
    );
    let listed = s.list_users(&s.inbound).await.body;
    assert_eq!(
        listed["users"][0]["teamsStatus"],
        json!({ "swyxUserId": "101", "status": null, "revision": 8 })
    );

    assert_eq!(read("999").await.status, 404);
    assert_eq!(
        s.get("/v1/users/101/teams-status", &Key::new(3))
            .await
            .status,
        401
    );
    assert_eq!(s.emu.stats().status_reads, 5);
}

#[tokio::test]
async fn swyx_user_ids_follow_the_contract_in_paths_and_controls() {
    let s = setup(None).await;
    let long = "x".repeat(129);
    for bad in ["a%2Fb", "tab%09", &long] {
        let a = s
            .get(&format!("/v1/users/{bad}/teams-status"), &s.inbound)
            .await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
        let a = s.put(bad, &update(bad, Some("Away"), 1)).await;
        assert_eq!(a.status, 400, "{bad}");
    }
    assert!(s.emu.try_add_user("..", "Dots", "", &[]).is_err());
    assert!(s.emu.try_add_user("a/b", "Slash", "", &[]).is_err());
    s.emu
        .try_add_user("Müller, Hans", "Hans", "hans@contoso.example", &[])
        .unwrap();
    let a = s
        .get("/v1/users/M%C3%BCller,%20Hans/teams-status", &s.inbound)
        .await;
    assert_eq!(a.status, 200, "any other character is fine: {}", a.body);
}

#[tokio::test]
async fn a_status_set_by_hand_is_announced_and_one_from_teams_never_is() {
    let bridge = Receiver::start(&Key::new(9)).await;
    let s = setup(Some(bridge.url.clone())).await;

    let sent = s
        .emu
        .change_own_status("101", OwnStatus::DoNotDisturb)
        .await
        .unwrap()
        .unwrap();
    assert!(sent.delivered);
    let (id, body) = bridge.events()[0].clone();
    assert_eq!(id, sent.webhook_id, "signed and verified by the bridge");
    assert_eq!(
        (
            body["type"].as_str(),
            body["swyxUserId"].as_str(),
            body["status"].as_str(),
            body["origin"].as_str()
        ),
        (
            Some("status.changed"),
            Some("101"),
            Some("DoNotDisturb"),
            Some("user")
        )
    );
    assert!(body["at"].is_string() && body.get("callId").is_none());
    assert_eq!(
        s.emu
            .change_own_status("101", OwnStatus::DoNotDisturb)
            .await
            .unwrap(),
        None,
        "no change, no event"
    );

    // A Teams-derived status goes into its own slot: no event, whatever it is.
    for (rev, status) in [(1, "DoNotDisturb"), (2, "Away"), (3, "Available")] {
        assert_eq!(
            s.put("102", &update("102", Some(status), rev)).await.status,
            200
        );
    }
    assert_eq!(
        s.emu.user("102").unwrap().effective_status,
        EffectiveStatus::Available
    );
    assert_eq!(
        bridge.events().len(),
        1,
        "nothing for statuses applied from Teams"
    );

    s.emu.set_status_events(false);
    assert_eq!(
        s.emu
            .change_own_status("101", OwnStatus::Away)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.emu.user("101").unwrap().own_status,
        OwnStatus::Away,
        "set, not announced"
    );
    assert_eq!(bridge.events().len(), 1);
    let stats = s.emu.stats();
    assert_eq!((stats.status_events_sent, stats.events_sent), (1, 1));
    let log = s.emu.events_log();
    assert_eq!(
        (log[0].own_status, log[0].origin.as_deref()),
        (Some(OwnStatus::DoNotDisturb), Some("user"))
    );
}

#[tokio::test]
async fn the_user_list_tells_who_is_speaking_even_when_call_events_are_lost() {
    let bridge = Receiver::start(&Key::new(9)).await;
    let s = setup(Some(bridge.url.clone())).await;
    let call = s.emu.start_call("101").await.unwrap();
    // A second, overlapping call: the speaking period keeps the id of the one that opened it.
    let second = s.emu.start_call("101").await.unwrap();
    let started = bridge.events();
    assert_eq!(started[0].1["callId"], call.as_str());

    let a = s.get("/v1/users?speaking=true", &s.inbound).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["speakingOnly"], true);
    assert_eq!(ids(&a.body), ["101"]);
    assert_eq!(a.body["users"][0]["speaking"], json!([call]));
    let all = s.get("/v1/users", &s.inbound).await;
    assert!(all.body.get("speakingOnly").is_none(), "{}", all.body);
    assert_eq!(
        all.body["users"][1]["speaking"],
        json!([]),
        "102 is not speaking"
    );
    assert_eq!(s.get("/v1/users?speaking=1", &s.inbound).await.status, 400);

    // The connector gives up on the end: the bridge never hears of it, the list tells the truth.
    s.emu.set_lose_call_events(true);
    s.emu.end_call("101", &second).await.unwrap();
    s.emu.end_call("101", &call).await.unwrap();
    assert_eq!(bridge.events().len(), 1, "the end was never sent");
    let lost = s.emu.events_log().pop().unwrap();
    assert_eq!(
        (lost.event_type.as_str(), lost.delivered),
        ("speaking.ended", false)
    );
    let a = s.get("/v1/users?speaking=true", &s.inbound).await;
    assert_eq!(a.body["users"], json!([]), "{}", a.body);
}
