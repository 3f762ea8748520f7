//! The `graph-webhook` bootstrap killed with SIGKILL in the middle of a burst, under
//! cargo-lambda's runtime emulator (as the Lambda service ends a sandbox that timed out or ran out
//! of memory), then started again; Graph redelivers the unanswered collection and the scheduled
//! maintenance function sends whatever was decided but not delivered. Every user must end up
//! with the status Teams maps to, nothing pending.

use crate::support::graph_sender::GraphSender;
use crate::support::lambda_emulator::{self, Emulator, put_secret, scheduled_event, with_logs};
use crate::support::moto;

use presence_bridge::domain::{MappedStatus, MappingRules, TeamsPresence};
use presence_bridge::store::{DynamoStore, PendingStore, UserLink, UserLinkStore};
use std::time::{Duration, Instant};

const ENCRYPTION_KEY: &str = include_str!("fixtures/crypto/key2048.pkcs8.pem");
const ENCRYPTION_CERT: &str = include_str!("fixtures/crypto/key2048.cert.pem");
const JWT_KEY: &[u8] = include_bytes!("fixtures/jwt/key1.pem");
const CONNECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const EVENTS_SECRET: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const SUB: &str = "2b0d6a55-3f4e-4f6b-9c1e-0a5d1c2e3f40";
const CLIENT_STATE: &str = "lambda-fault-client-state-0123456789";
const USERS: usize = 48;
/// Presences Teams shows in the burst, each mapping to a different Swyx status.
const PRESENCES: [(&str, &str); 4] = [
    ("Busy", "InACall"),
    ("DoNotDisturb", "Presenting"),
    ("Away", "Away"),
    ("BeRightBack", "BeRightBack"),
];

fn entra_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_webhook_killed_mid_burst_converges_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = moto::unique_table("lambda-fault");
    let store = DynamoStore::new(moto::client(), &table);
    store.create_table_if_missing().await.expect("table");
    // Secret names are unique per table: moto's Secrets Manager is shared by every test.
    let key_arn = put_secret(&format!("{table}/notify-key"), ENCRYPTION_KEY).await;
    let connector_arn = put_secret(&format!("{table}/connector-signing"), CONNECTOR_SECRET).await;

    let emu = lambda_emulator::swyx_emulator(CONNECTOR_SECRET, EVENTS_SECRET).await;
    // A slow connector: the burst is still being delivered when the kill comes.
    emu.set_answer_delay(Duration::from_millis(150));
    let sender = GraphSender::start(ENCRYPTION_CERT, JWT_KEY).await;
    for i in 0..USERS {
        let (entra, swyx) = (entra_id(i), format!("swyx-{i}"));
        let email = format!("user{i}@contoso.example");
        emu.add_user(&swyx, &format!("User {i}"), &email);
        store
            .put_user(&UserLink {
                entra_id: entra,
                swyx_user_id: swyx,
                email,
                groups: Vec::new(),
            })
            .await
            .expect("link");
    }
    lambda_emulator::put_subscription(&store, SUB, CLIENT_STATE).await;
    let env =
        lambda_emulator::webhook_env(&table, &sender.jwks_url, key_arn, &emu.url(), connector_arn);

    let rt = Emulator::start(dir.path());
    let mut graph_fn = rt.start_function("graph-webhook", &env, dir.path());
    let maint_fn = rt.start_function("maintenance", &env, dir.path());
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    // One collection with a change for every user, as Graph batches a burst.
    let rules = MappingRules::default();
    let mut expected = Vec::new();
    let items: Vec<_> = (0..USERS)
        .map(|i| {
            let (availability, activity) = PRESENCES[i % PRESENCES.len()];
            let want = match rules.map(&TeamsPresence::new(availability, activity)) {
                MappedStatus::Swyx(s) => Some(s.to_string()),
                MappedStatus::NoSync => None,
            };
            expected.push(want);
            let p = GraphSender::presence(&entra_id(i), availability, activity, false, Some("300"));
            sender.item(SUB, CLIENT_STATE, &p)
        })
        .collect();
    let collection = sender.collection(items);
    let url = rt.function_url("graph-webhook", "/graph/notifications");

    let first = tokio::spawn({
        let (http, url, body) = (http.clone(), url.clone(), collection.clone());
        async move { http.post(url).json(&body).send().await.map(|r| r.status()) }
    });
    // Killed once the connector has applied the first update: the rest is decided, in flight or
    // not yet looked at.
    let deadline = Instant::now() + Duration::from_secs(20);
    while emu.stats().updates_applied == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    graph_fn.kill();
    let applied_at_kill = emu.stats().updates_applied;
    let answer = first.await.expect("task");
    assert!(
        !matches!(answer, Ok(s) if s == 202),
        "the killed invocation cannot have answered 202 ({answer:?}); applied {applied_at_kill}"
    );
    assert!(
        (applied_at_kill as usize) < USERS,
        "the kill came after the whole burst: {applied_at_kill}"
    );

    // A new sandbox starts; Graph redelivers the unanswered collection until it gets 202.
    let graph_fn = rt.start_function("graph-webhook", &env, dir.path());
    let procs = [&rt.proc, &graph_fn, &maint_fn];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = http
            .post(&url)
            .json(&collection)
            .send()
            .await
            .map(|r| r.status());
        if matches!(status, Ok(s) if s == 202) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            with_logs(&format!("redelivery not accepted: {status:?}"), &procs)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The schedule (compressed to once a second) sends what was decided but not delivered.
    let status_of = |i: usize| {
        emu.user(&format!("swyx-{i}"))
            .and_then(|u| u.teams)
            .and_then(|t| t.status)
            .map(|s| format!("{s:?}"))
    };
    let wrong = || -> Vec<usize> {
        (0..USERS)
            .filter(|&i| status_of(i) != expected[i])
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !wrong().is_empty() && Instant::now() < deadline {
        let resp = http
            .post(rt.invoke_url("maintenance"))
            .json(&scheduled_event())
            .send()
            .await
            .expect("maintenance answered");
        assert_eq!(resp.status(), 200, "{}", with_logs("maintenance", &procs));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let wrong: Vec<String> = wrong()
        .into_iter()
        .map(|i| {
            format!(
                "swyx-{i}: want {:?}, Swyx shows {:?}",
                expected[i],
                status_of(i)
            )
        })
        .collect();
    assert_eq!(
        wrong,
        Vec::<String>::new(),
        "killed after {applied_at_kill} updates applied\n{}",
        with_logs("", &procs)
    );
    assert_eq!(store.count_pending().await.unwrap(), 0);
    let denied = moto::denied_on(&table).await;
    assert!(
        denied.is_empty(),
        "refused under the template's roles: {denied:?}"
    );
}
