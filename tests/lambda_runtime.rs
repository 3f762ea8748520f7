//! The real Lambda binaries (`cargo lambda build` → `target/lambda/<fn>/bootstrap`) under
//! cargo-lambda's runtime emulator, on loopback: DynamoDB and Secrets Manager are moto (the
//! functions get secret ARNs, as in the SAM template), the Swyx connector is the sandbox's
//! emulator, Graph is a test sender with its own JWKS. Events arrive as they would on AWS:
//! Function URL requests (payload v2) for the webhook, an EventBridge scheduled event through the
//! Invoke API for maintenance. Effects are checked in the connector and the store.

use crate::support::graph_sender;
use crate::support::lambda_emulator;
use crate::support::moto;

use graph_sender::{APP_ID, CERT_ID, GraphSender, TENANT};
use lambda_emulator::{Emulator, Proc, put_secret, scheduled_event, with_logs};
use presence_bridge::domain::{SwyxAction, SwyxStatus, Timestamp};
use presence_bridge::store::{
    AccountStore, DynamoStore, PendingStore, SpeakingStore, SyncStateStore, UserLink, UserLinkStore,
};
use presence_sandbox::graph::GraphEmulator;
use presence_sandbox::swyx::{Outage, SwyxEmulator, TeamsStatus};
use serde_json::{Value, json};
use std::time::Duration;

const ENCRYPTION_KEY: &str = include_str!("fixtures/crypto/key2048.pkcs8.pem");
const ENCRYPTION_CERT: &str = include_str!("fixtures/crypto/key2048.cert.pem");
const JWT_KEY: &[u8] = include_bytes!("fixtures/jwt/key1.pem");
const CONNECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const EVENTS_SECRET: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const GRAPH_CLIENT_SECRET: &str = "lambda-e2e-graph-client-secret";
const SUB: &str = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07";
const CLIENT_STATE: &str = "lambda-e2e-client-state-0123456789";
const ENTRA_ID: &str = "00000000-0000-4000-8000-000000000001";
const SWYX_ID: &str = "swyx-1";

fn teams_status(emu: &SwyxEmulator) -> Option<TeamsStatus> {
    emu.user(SWYX_ID)
        .and_then(|u| u.teams)
        .and_then(|t| t.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_binaries_under_the_runtime_emulator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = moto::unique_table("lambda-e2e");
    let store = DynamoStore::new(moto::client(), &table);
    store.create_table_if_missing().await.expect("table");
    let key_arn = put_secret("pb/notify-key", ENCRYPTION_KEY).await;
    let connector_arn = put_secret("pb/connector-signing", CONNECTOR_SECRET).await;

    // Swyx → Teams: the sandbox's Graph emulator takes setPresence/clearPresence (app-only token).
    let (emu, graph) = alice_on_both_sides(&store).await;
    let sender = GraphSender::start(ENCRYPTION_CERT, JWT_KEY).await;
    lambda_emulator::put_subscription(&store, SUB, CLIENT_STATE).await;

    let env =
        lambda_emulator::webhook_env(&table, &sender.jwks_url, key_arn, &emu.url(), connector_arn);
    let mut s2t_env = env.clone();
    s2t_env.extend([
        (
            "GRAPH_CLIENT_SECRET".to_string(),
            put_secret("pb/graph-client-secret", GRAPH_CLIENT_SECRET).await,
        ),
        (
            "CONNECTOR_EVENT_SECRETS".to_string(),
            put_secret("pb/connector-events", EVENTS_SECRET).await,
        ),
        ("GRAPH_AUTHORITY_URL".to_string(), graph.authority_url()),
        ("GRAPH_BASE_URL".to_string(), graph.graph_url()),
    ]);

    let rt = Emulator::start(dir.path());
    // Subscription maintenance, as the template configures it: the graph-webhook Function URL as
    // notification URL, the public certificate inline, the token key from Secrets Manager.
    let token_key = presence_bridge::graph::sealed::TokenSealer::generate_key_text();
    let (_, certificate) = presence_sandbox::graph::make_encryption_certificate().expect("cert");
    let mut maint_env = s2t_env.clone();
    maint_env.extend([
        (
            "SUBSCRIPTIONS_NOTIFICATION_URL".to_string(),
            rt.function_url("graph-webhook", "/graph/notifications"),
        ),
        (
            "SUBSCRIPTIONS_LIFECYCLE_URL".to_string(),
            rt.function_url("graph-webhook", "/graph/lifecycle"),
        ),
        ("SUBSCRIPTIONS_CERTIFICATE".to_string(), certificate),
        (
            "SUBSCRIPTIONS_CERTIFICATE_ID".to_string(),
            CERT_ID.to_string(),
        ),
        (
            "ACCOUNTS_TOKEN_KEY".to_string(),
            put_secret("pb/token-key", &token_key).await,
        ),
    ]);
    let graph_fn = rt.start_function("graph-webhook", &env, dir.path());
    let maint_fn = rt.start_function("maintenance", &maint_env, dir.path());
    let swyx_fn = rt.start_function("swyx-webhook", &s2t_env, dir.path());
    let procs = [&rt.proc, &graph_fn, &maint_fn, &swyx_fn];
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // 1. Graph's validation handshake on the notification URL: the decoded token, as text/plain.
    let token =
        "Validation: Testing client application reachability for subscription Request-Id: 2f0a";
    let mut url = reqwest::Url::parse(&rt.function_url("graph-webhook", "/graph/notifications"))
        .expect("url");
    url.query_pairs_mut().append_pair("validationToken", token);
    let resp = http.post(url).send().await.expect("handshake answered");
    assert_eq!(resp.status(), 200, "{}", with_logs("handshake", &procs));
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(resp.text().await.unwrap(), token);

    // 2. A notification batch while the connector is down: Graph still gets 202 in time, the
    //    update waits in the store as pending.
    emu.set_outage(Outage::Unavailable);
    let batch = |availability: &str, activity: &str, seq: &str| {
        let p = GraphSender::presence(ENTRA_ID, availability, activity, false, Some(seq));
        sender.collection(vec![sender.item(SUB, CLIENT_STATE, &p)])
    };
    let resp = http
        .post(rt.function_url("graph-webhook", "/graph/notifications"))
        .json(&batch("Busy", "InACall", "100"))
        .send()
        .await
        .expect("batch answered");
    assert_eq!(resp.status(), 202, "{}", with_logs("batch", &procs));
    let pending = store
        .get_pending(SWYX_ID)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{}", with_logs("no pending update", &procs)));
    assert_eq!(pending.update.action, SwyxAction::Set(SwyxStatus::Speaking));
    assert_eq!(teams_status(&emu), None);
    // The invocation's metrics are in its log as EMF records, under the names `serve` exports.
    let log = std::fs::read_to_string(&graph_fn.log).unwrap_or_default();
    let emf: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record.get("_aws").is_some())
        .collect();
    assert!(
        emf.iter()
            .any(|r| r["presence_bridge_notifications_total"] == 1),
        "{}",
        with_logs("EMF", &procs)
    );
    assert!(
        emf.iter()
            .any(|r| r["presence_bridge_forwards_total"] == 1 && r["outcome"] == "pending"),
        "{}",
        with_logs("EMF", &procs)
    );

    // 3. The connector is back and the retry is due (moved to now rather than waiting 5 s):
    //    one scheduled maintenance run delivers it and reports the backlog it left.
    emu.set_outage(Outage::None);
    let mut due = pending.clone();
    due.next_attempt_at = Timestamp::now().plus_millis(-1_000);
    assert!(store.put_pending(&due).await.unwrap());
    let resp = http
        .post(rt.invoke_url("maintenance"))
        .json(&scheduled_event())
        .send()
        .await
        .expect("maintenance answered");
    assert_eq!(resp.status(), 200, "{}", with_logs("maintenance", &procs));
    let summary: Value = resp.json().await.expect("JSON summary");
    assert_eq!(
        summary["presence_bridge_pending_delivered_total"], 1,
        "{summary}"
    );
    assert_eq!(
        summary["presence_bridge_pending_deliveries"], 0,
        "{summary}"
    );
    assert_eq!(
        summary["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "PresenceBridge"
    );
    assert_eq!(teams_status(&emu), Some(TeamsStatus::Speaking));
    assert!(store.get_pending(SWYX_ID).await.unwrap().is_none());
    assert_eq!(store.count_pending().await.unwrap(), 0);

    // 4. With the connector up, the next change goes straight through the warm function.
    let resp = http
        .post(rt.function_url("graph-webhook", "/graph/notifications"))
        .json(&batch("Available", "Available", "101"))
        .send()
        .await
        .expect("batch answered");
    assert_eq!(resp.status(), 202);
    assert_eq!(teams_status(&emu), Some(TeamsStatus::Available));
    let state = store
        .get_sync_state(ENTRA_ID)
        .await
        .unwrap()
        .expect("sync state");
    assert!(state.revision >= 2, "{state:?}");
    assert_eq!(emu.stats().updates_applied, 2);

    // 5. A notification that fails validation changes nothing (the token check runs in the binary).
    let mut forged = batch("DoNotDisturb", "DoNotDisturb", "102");
    forged["validationTokens"] = json!(["not-a-jwt"]);
    let resp = http
        .post(rt.function_url("graph-webhook", "/graph/notifications"))
        .json(&forged)
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 401);
    assert_eq!(teams_status(&emu), Some(TeamsStatus::Available));

    // 6. Swyx → Teams through the swyx-webhook Function URL: a call on SwyxServer shows
    //    "In a call" in Teams; its end clears the bridge's session.
    let call = alice_calls_through_swyx_webhook(&emu, &rt, &graph, &procs).await;
    assert_eq!(graph.app_sessions(ENTRA_ID).len(), 1);
    assert!(
        store
            .get_speaking(ENTRA_ID)
            .await
            .expect("speaking state")
            .is_some()
    );
    emu.end_call(SWYX_ID, &call).await.expect("call ends");
    graph
        .wait_stats(Duration::from_secs(30), |s| s.clear_presence_calls >= 1)
        .await
        .unwrap_or_else(|e| panic!("{}", with_logs(&format!("no clearPresence: {e}"), &procs)));
    assert!(graph.app_sessions(ENTRA_ID).is_empty());
    assert_eq!(
        graph.presence(ENTRA_ID).expect("presence").activity,
        "Available"
    );
    assert!(
        emu.events_log()
            .iter()
            .all(|e| e.status.is_some_and(|s| (200..300).contains(&s))),
        "every event was accepted: {:?}",
        emu.events_log()
    );

    // 7. A sync account signs in (as `accounts add` stores it): the next scheduled run creates
    //    its subscription (Graph's handshake reaches the graph-webhook function) and reads its
    //    users back.
    graph.add_sync_account("sync1@contoso.example");
    let refresh = graph
        .issue_refresh_token("sync1@contoso.example")
        .expect("refresh token");
    let sealer = presence_bridge::graph::sealed::TokenSealer::from_key_text(&token_key).unwrap();
    presence_bridge::subscriptions::sync_accounts::enroll(
        &store,
        &sealer,
        "sync1",
        &refresh,
        Timestamp::now(),
    )
    .await
    .expect("enrol");
    let resp = http
        .post(rt.invoke_url("maintenance"))
        .json(&scheduled_event())
        .send()
        .await
        .expect("maintenance answered");
    assert_eq!(resp.status(), 200, "{}", with_logs("maintenance", &procs));
    let summary: Value = resp.json().await.expect("JSON summary");
    assert_eq!(
        summary["subscriptions_created"],
        1,
        "{summary} {}",
        with_logs("subscriptions", &procs)
    );
    assert_eq!(summary["reconciled_users"], 1, "{summary}");
    assert_eq!(summary["presence_bridge_uncovered_users"], 0, "{summary}");
    let expiry = &summary["presence_bridge_next_subscription_expiry_seconds"];
    assert!(expiry.as_i64().is_some_and(|s| s > 0), "{summary}");
    let subs = graph.subscriptions();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].user_ids, vec![ENTRA_ID.to_string()]);
    let account = store.get_account("sync1").await.unwrap().expect("account");
    assert_eq!(
        account.subscription_id.as_deref(),
        Some(subs[0].id.as_str())
    );
    assert!(account.last_error.is_none(), "{account:?}");
    let denied = moto::denied_on(&table).await;
    assert!(
        denied.is_empty(),
        "refused under the template's roles: {denied:?}"
    );
}

/// The app is built on the first event that needs it, not before: a secret that cannot be read
/// is then no failed cold start but an error answer to that event, named in the log, and the
/// process stays up (a later event tries again). Graph's handshake needs no secret at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_cannot_be_read_is_an_error_answer_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = moto::unique_table("lambda-missing");
    let connector_arn = put_secret("pb/missing-case-connector", CONNECTOR_SECRET).await;
    let missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pb/never-created-AbCdEf";
    let env: Vec<(String, String)> = [
        ("AWS_REGION", "eu-west-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_ENDPOINT_URL", moto::endpoint().to_string()),
        ("RUST_LOG", "info".to_string()),
        ("TABLE_NAME", table),
        ("GRAPH_TENANT_ID", TENANT.to_string()),
        ("GRAPH_CLIENT_ID", APP_ID.to_string()),
        (
            "GRAPH_ENCRYPTION_KEYS",
            json!([{ "id": CERT_ID, "private_key": missing }]).to_string(),
        ),
        ("CONNECTOR_URL", "http://127.0.0.1:9/".to_string()),
        ("CONNECTOR_SIGNING_SECRET", connector_arn),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let rt = Emulator::start(dir.path());
    let graph_fn = rt.start_function("graph-webhook", &env, dir.path());
    let procs = [&rt.proc, &graph_fn];
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let mut url = reqwest::Url::parse(&rt.function_url("graph-webhook", "/graph/notifications"))
        .expect("url");
    url.query_pairs_mut()
        .append_pair("validationToken", "hello");
    let resp = http.post(url).send().await.expect("handshake answered");
    assert_eq!(resp.status(), 200, "{}", with_logs("handshake", &procs));

    for attempt in ["first", "second"] {
        let resp = http
            .post(rt.function_url("graph-webhook", "/graph/notifications"))
            .json(&json!({ "value": [] }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{attempt} notification not answered: {e}"));
        assert_eq!(resp.status(), 500, "{}", with_logs(attempt, &procs));
        let body = resp.text().await.unwrap_or_default();
        assert!(!body.contains(missing), "the ARN stays in the log: {body}");
    }
    let log = std::fs::read_to_string(&graph_fn.log).unwrap_or_default();
    assert!(
        log.contains("could not start") && log.contains("graph.encryption_keys"),
        "{}",
        with_logs("the log names the setting", &procs)
    );
    assert!(!log.contains("panicked"), "{log}");
}

/// swyx-webhook needs its secrets for every event, so it reads them from its start, while the
/// runtime fetches the first event: a secret that cannot be read is named in the log before any
/// event comes (an administrator sees a wrong ARN as soon as the function starts). The event is
/// then answered as an error, without the ARN, and tries the read again; the process stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swyx_webhook_names_an_unreadable_secret_before_its_first_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = moto::unique_table("lambda-early-missing");
    let missing =
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pb/never-created-events-AbCdEf";
    let env = swyx_webhook_env(&table, "http://127.0.0.1:9/", missing.to_string(), None).await;
    let rt = Emulator::start(dir.path());
    let swyx_fn = rt.start_function("swyx-webhook", &env, dir.path());
    let procs = [&rt.proc, &swyx_fn];
    let failures = || {
        std::fs::read_to_string(&swyx_fn.log)
            .unwrap_or_default()
            .matches("could not start")
            .count()
    };

    crate::support::eventually(
        Duration::from_secs(20),
        "the unreadable secret named in the log, with no event sent",
        || failures() >= 1,
    )
    .await;
    let log = std::fs::read_to_string(&swyx_fn.log).unwrap_or_default();
    assert!(log.contains("connector.event_secrets"), "{log}");

    let before = failures();
    let resp = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
        .post(rt.function_url("swyx-webhook", "/swyx/events"))
        .json(&json!({ "type": "speaking.started" }))
        .send()
        .await
        .expect("event answered");
    assert_eq!(resp.status(), 500, "{}", with_logs("event", &procs));
    let body = resp.text().await.unwrap_or_default();
    assert!(!body.contains(missing), "the ARN stays in the log: {body}");
    assert!(
        failures() > before,
        "the event tried the read again: {}",
        with_logs("retry", &procs)
    );
    let log = std::fs::read_to_string(&swyx_fn.log).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}

/// Alice on both sides, linked in `store`: the Swyx emulator with her Swyx user (the connector's
/// secrets are `CONNECTOR_SECRET` and `EVENTS_SECRET`), and the Graph emulator with her Teams
/// client Available.
async fn alice_on_both_sides(store: &DynamoStore) -> (SwyxEmulator, GraphEmulator) {
    store
        .put_user(&UserLink {
            entra_id: ENTRA_ID.to_string(),
            swyx_user_id: SWYX_ID.to_string(),
            email: "alice@contoso.example".to_string(),
            groups: Vec::new(),
        })
        .await
        .expect("link");
    let emu = lambda_emulator::swyx_emulator(CONNECTOR_SECRET, EVENTS_SECRET).await;
    emu.add_user(SWYX_ID, "Alice Example", "alice@contoso.example");
    let graph = lambda_emulator::graph_emulator(GRAPH_CLIENT_SECRET).await;
    graph.add_user(ENTRA_ID, "alice@contoso.example", "Alice Example");
    graph
        .set_client_session(ENTRA_ID, "teams-desktop", "Available", "Available")
        .expect("teams session");
    (emu, graph)
}

/// Alice starts a call on SwyxServer, whose events go to the swyx-webhook function; returns the
/// call once Teams shows her "In a call".
async fn alice_calls_through_swyx_webhook(
    emu: &SwyxEmulator,
    rt: &Emulator,
    graph: &GraphEmulator,
    procs: &[&Proc],
) -> String {
    emu.set_bridge_events_url(&rt.function_url("swyx-webhook", "/swyx/events"));
    let call = emu.start_call(SWYX_ID).await.expect("call starts");
    graph
        .wait_stats(Duration::from_secs(30), |s| s.set_presence_calls >= 1)
        .await
        .unwrap_or_else(|e| panic!("{}", with_logs(&format!("no setPresence: {e}"), procs)));
    let shown = graph.presence(ENTRA_ID).expect("presence");
    assert_eq!(
        (shown.availability.as_str(), shown.activity.as_str()),
        ("Busy", "InACall")
    );
    call
}

/// swyx-webhook's environment as the template gives it, on loopback: the webhook's settings, the
/// connector at `connector_url`, its event secret (`events`: an ARN) and the Graph client
/// secret, Graph at `graph` when given.
async fn swyx_webhook_env(
    table: &str,
    connector_url: &str,
    events: String,
    graph: Option<&GraphEmulator>,
) -> Vec<(String, String)> {
    let mut env = lambda_emulator::webhook_env(
        table,
        "http://127.0.0.1:9/keys",
        put_secret("pb/swyx-env-key", ENCRYPTION_KEY).await,
        connector_url,
        put_secret("pb/swyx-env-connector", CONNECTOR_SECRET).await,
    );
    env.extend([
        ("CONNECTOR_EVENT_SECRETS".to_string(), events),
        (
            "GRAPH_CLIENT_SECRET".to_string(),
            put_secret("pb/swyx-env-graph", GRAPH_CLIENT_SECRET).await,
        ),
    ]);
    if let Some(graph) = graph {
        env.extend([
            ("GRAPH_AUTHORITY_URL".to_string(), graph.authority_url()),
            ("GRAPH_BASE_URL".to_string(), graph.graph_url()),
        ]);
    }
    env
}

/// A new swyx-webhook process fetches its app-only Graph token as it starts, before any event:
/// the first call of a linked user shows "In a call" in Teams without a round trip to Entra
/// after the event came (the token request counted by the emulated tenant stays at one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swyx_webhook_has_its_graph_token_before_its_first_event() {
    token_before_the_first_event(None).await;
}

/// The same with provisioned concurrency, where the process finishes its app and token before
/// it asks the runtime for an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_provisioned_concurrency_swyx_webhook_is_ready_before_its_first_event() {
    token_before_the_first_event(Some("provisioned-concurrency")).await;
}

async fn token_before_the_first_event(init_type: Option<&str>) {
    const TOKEN_ROUTE: &str = "POST /{tenant}/oauth2/v2.0/token";
    let dir = tempfile::tempdir().expect("tempdir");
    let table = moto::unique_table("lambda-token-ahead");
    let store = DynamoStore::new(moto::client(), &table);
    store.create_table_if_missing().await.expect("table");
    let (emu, graph) = alice_on_both_sides(&store).await;
    let events = put_secret("pb/token-ahead-events", EVENTS_SECRET).await;
    let mut env = swyx_webhook_env(&table, &emu.url(), events, Some(&graph)).await;
    if let Some(init_type) = init_type {
        env.push((
            "AWS_LAMBDA_INITIALIZATION_TYPE".to_string(),
            init_type.to_string(),
        ));
    }
    let rt = Emulator::start(dir.path());
    let swyx_fn = rt.start_function("swyx-webhook", &env, dir.path());
    let procs = [&rt.proc, &swyx_fn];

    crate::support::eventually(
        Duration::from_secs(20),
        "the app-only token fetched, with no event sent",
        || graph.stats().requests(TOKEN_ROUTE) >= 1,
    )
    .await;
    alice_calls_through_swyx_webhook(&emu, &rt, &graph, &procs).await;
    assert_eq!(
        graph.stats().requests(TOKEN_ROUTE),
        1,
        "the call went out on the token fetched at start: {}",
        with_logs("token requests", &procs)
    );
    let denied = moto::denied_on(&table).await;
    assert!(
        denied.is_empty(),
        "refused under the template's roles: {denied:?}"
    );
}
