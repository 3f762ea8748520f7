//! Graph answering subscription creates late (it validates both notification URLs, allowing
//! each 10 s, before it answers): 3 s, then 12 s with `serve` killed while the answer is still
//! outstanding. The restarted bridge adopts the subscription it asked for (it knows the
//! clientState it sent) instead of making another: one working subscription per sync account,
//! none deleted, none made twice.

use super::setup::{shared_dynamodb, start_consistent_with};
use presence_bridge::demo::DemoStore;
use presence_bridge::demo::parts::{DemoUser, enroll_account};
use presence_bridge::demo::script::SESSION;
use presence_bridge::store::UserLink;
use std::time::{Duration, Instant};

const FIRST_USERS: usize = 40;
const LATER_USERS: usize = 20;
const WITHIN: Duration = Duration::from_secs(60);

fn requests(run: &super::setup::Running, route: &str) -> u64 {
    let stats = run.world.sandbox.graph.stats();
    stats.requests_by_route.get(route).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_creates_across_a_restart_leave_one_subscription_per_account_on_sqlite() {
    late_creates_across_a_restart(DemoStore::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_creates_across_a_restart_leave_one_subscription_per_account_on_dynamodb() {
    late_creates_across_a_restart(shared_dynamodb("late")).await;
}

async fn late_creates_across_a_restart(store: DemoStore) {
    let run = start_consistent_with(store, FIRST_USERS, |sandbox| {
        sandbox
            .graph
            .set_subscription_answer_delay(Some(Duration::from_secs(3)));
    })
    .await;
    assert_eq!(requests(&run, "POST /v1.0/subscriptions"), 1);

    // Twelve seconds late from now on. A second sync account, then people linked for it: the
    // newcomers go to the account with room, whose subscription Graph makes at once and answers
    // late; `serve` is killed before the answer comes.
    let mut run = run;
    let graph = run.world.sandbox.graph.clone();
    graph.set_subscription_answer_delay(Some(Duration::from_secs(12)));
    enroll_account(&run.world.sandbox, run.store.as_ref(), &run.sealer, "sync2")
        .await
        .unwrap();
    for i in FIRST_USERS..FIRST_USERS + LATER_USERS {
        let user = DemoUser::numbered(i);
        let name = format!("User {i}");
        let sandbox = &run.world.sandbox;
        sandbox.add_person(&user.entra_id, &user.swyx_id, &user.email, &name);
        graph
            .set_client_session(&user.entra_id, SESSION, "Available", "Available")
            .unwrap();
        let link = UserLink {
            entra_id: user.entra_id.clone(),
            swyx_user_id: user.swyx_id.clone(),
            email: user.email.clone(),
            groups: Vec::new(),
        };
        run.store.put_user(&link).await.unwrap();
        run.world.users.push(user);
    }
    let deadline = Instant::now() + WITHIN;
    while graph.subscriptions().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(graph.subscriptions().len(), 2, "Graph made the second");
    let answered_late = graph.stats().late_answers;
    let run = run.kill_and_restart(1).await;

    // The restarted bridge finds it and covers the newcomers through it.
    run.burst(1);
    run.assert_converges(1, "killed while a create was unanswered")
        .await;
    let subscriptions = graph.subscriptions();
    assert_eq!(subscriptions.len(), 2, "{subscriptions:?}");
    for name in ["sync1", "sync2"] {
        let account = run.store.get_account(name).await.unwrap().unwrap();
        assert_eq!(account.last_error, None, "{name}");
        let id = account.subscription_id.unwrap_or_default();
        assert!(
            subscriptions.iter().any(|s| s.id == id),
            "{name}'s subscription {id} is not in Graph: {subscriptions:?}"
        );
    }
    assert_eq!(
        requests(&run, "POST /v1.0/subscriptions"),
        2,
        "each made once"
    );
    let deleted: u64 = run
        .world
        .sandbox
        .graph
        .stats()
        .requests_by_route
        .iter()
        .filter(|(route, _)| route.starts_with("DELETE"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(deleted, 0, "nothing deleted");
    eprintln!("late creates: 2 subscriptions, {answered_late} answers held back, none made twice");
    run.stop();
}
