//! Graph answering subscription creates late (it validates both notification URLs, allowing
//! each 10 s, before it answers): 3 s, then 12 s with `serve` killed while the answer is still
//! outstanding. The restarted bridge adopts the subscription it asked for (it knows the
//! clientState it sent) instead of making another: one working subscription per sync account,
//! nothing deleted or made again after the restart.

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

fn deletes(run: &super::setup::Running) -> u64 {
    let stats = run.world.sandbox.graph.stats();
    let deletes = stats.requests_by_route.iter();
    deletes
        .filter(|(route, _)| route.starts_with("DELETE"))
        .map(|(_, n)| n)
        .sum()
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
    // newcomers go to the new account (the first keeps its subscription), whose subscription
    // Graph makes at once and answers late; `serve` is killed before the answer comes.
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
    // Killed once Graph holds a subscription for all the newcomers, its answer still 12 s away.
    // A maintenance pass that ran while they were being linked makes one for those linked so
    // far; the pass after it rebuilds it for all of them (a delete and a create that are right):
    // the round is about what the restarted bridge does, so requests are counted from the kill.
    let newcomers: Vec<String> = run.world.users[FIRST_USERS..]
        .iter()
        .map(|u| u.entra_id.clone())
        .collect();
    let covers_newcomers = || {
        graph
            .subscriptions()
            .iter()
            .any(|s| newcomers.iter().all(|id| s.user_ids.contains(id)))
    };
    let deadline = Instant::now() + WITHIN;
    while !covers_newcomers() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        covers_newcomers(),
        "Graph made the second for every newcomer"
    );
    assert_eq!(graph.subscriptions().len(), 2);
    let answered_late = graph.stats().late_answers;
    let (creates, deleted) = (requests(&run, "POST /v1.0/subscriptions"), deletes(&run));
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
        creates,
        "nothing made again after the restart"
    );
    assert_eq!(deletes(&run), deleted, "nothing deleted after the restart");
    eprintln!(
        "late creates: 2 subscriptions, {answered_late} answers held back, {creates} creates and {deleted} deletes before the kill, none after"
    );
    run.stop();
}
