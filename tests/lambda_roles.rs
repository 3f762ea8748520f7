//! The Lambda functions under the IAM roles template.yaml gives them. The tests' moto applies each
//! function's policy to its requests (scripts/iam_check.py; a function started by
//! `lambda_emulator` signs with its name as access key id), as AWS would: an action or item type
//! the code needs and the role lacks is refused here, not first on AWS.

use crate::support::lambda_emulator::{self, Emulator, put_secret, scheduled_event, with_logs};
use crate::support::moto;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use presence_bridge::store::{DynamoStore, UserLink, UserLinkStore};
use serde_json::Value;
use std::time::Duration;

const ENCRYPTION_KEY: &str = include_str!("fixtures/crypto/key2048.pkcs8.pem");
const CONNECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const EVENTS_SECRET: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const GRAPH_CLIENT_SECRET: &str = "lambda-roles-graph-client-secret";
const ALICE: &str = "00000000-0000-4000-8000-0000000000a1";
const BOB: &str = "00000000-0000-4000-8000-0000000000b2";

/// A DynamoDB client signing as `function` does under the emulator.
fn client_of(function: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(function, "test", None, None, "static"))
        .endpoint_url(moto::endpoint())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The check is live: graph-webhook may write sync states but not a Swyx-id link, which only the
/// users sync (maintenance) and the CLI write; the refusal is AWS's AccessDeniedException.
#[tokio::test]
async fn a_write_outside_a_functions_role_is_refused_as_aws_would() {
    let table = moto::unique_table("roles-live");
    DynamoStore::new(moto::client(), &table)
        .create_table_if_missing()
        .await
        .expect("table");
    let put = |pk: &str| {
        client_of("graph-webhook")
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(pk.to_string()))
            .item("sk", AttributeValue::S("X".to_string()))
    };
    put("STATE#someone")
        .send()
        .await
        .expect("its role allows sync states");
    let refused = put("SWYX#someone")
        .send()
        .await
        .expect_err("not its item type");
    let code = refused
        .into_service_error()
        .meta()
        .code()
        .map(str::to_string);
    assert_eq!(code.as_deref(), Some("AccessDeniedException"));
    let denied = moto::denied_on(&table).await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0].function, "graph-webhook");
    assert_eq!(denied[0].action, "dynamodb:PutItem");
    assert_eq!(denied[0].leading_keys, ["SWYX#someone"]);
}

/// The maintenance function's users sync under its role: Bob, on both sides and not linked,
/// is linked by his e-mail address (his link, Swyx-id link and link mark written in one
/// transaction, under the sync's claim), and nothing the function asked for was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_links_users_under_its_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = moto::unique_table("roles-maint");
    let store = DynamoStore::new(moto::client(), &table);
    store.create_table_if_missing().await.expect("table");
    store
        .put_user(&UserLink {
            entra_id: ALICE.to_string(),
            swyx_user_id: "swyx-alice".to_string(),
            email: "alice@contoso.example".to_string(),
            groups: Vec::new(),
        })
        .await
        .expect("alice linked");
    let emu = lambda_emulator::swyx_emulator(CONNECTOR_SECRET, EVENTS_SECRET).await;
    emu.add_user("swyx-alice", "Alice Example", "alice@contoso.example");
    emu.add_user("swyx-bob", "Bob Example", "bob@contoso.example");
    let graph = lambda_emulator::graph_emulator(GRAPH_CLIENT_SECRET).await;
    graph.add_user(ALICE, "alice@contoso.example", "Alice Example");
    graph.add_user(BOB, "bob@contoso.example", "Bob Example");

    // As the template's globals give it, plus maintenance's own Graph and connector settings.
    let mut env = lambda_emulator::webhook_env(
        &table,
        "http://127.0.0.1:9/keys",
        put_secret(&format!("{table}/key"), ENCRYPTION_KEY).await,
        &emu.url(),
        put_secret(&format!("{table}/connector"), CONNECTOR_SECRET).await,
    );
    env.extend([
        ("GRAPH_AUTHORITY_URL".to_string(), graph.authority_url()),
        ("GRAPH_BASE_URL".to_string(), graph.graph_url()),
        (
            "GRAPH_CLIENT_SECRET".to_string(),
            put_secret(&format!("{table}/graph"), GRAPH_CLIENT_SECRET).await,
        ),
        (
            "CONNECTOR_EVENT_SECRETS".to_string(),
            put_secret(&format!("{table}/events"), EVENTS_SECRET).await,
        ),
    ]);
    let rt = Emulator::start(dir.path());
    let maint_fn = rt.start_function("maintenance", &env, dir.path());
    let procs = [&rt.proc, &maint_fn];
    let resp = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
        .post(rt.invoke_url("maintenance"))
        .json(&scheduled_event())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", with_logs("maintenance", &procs)));
    assert_eq!(resp.status(), 200, "{}", with_logs("maintenance", &procs));
    let summary: Value = resp.json().await.expect("JSON summary");

    let bob = store.get_user(BOB).await.expect("store read");
    assert_eq!(
        bob.map(|l| l.swyx_user_id).as_deref(),
        Some("swyx-bob"),
        "{summary} {}",
        with_logs("bob not linked", &procs)
    );
    let denied = moto::denied_on(&table).await;
    assert!(
        denied.is_empty(),
        "refused under the template's role: {denied:?} {}",
        with_logs("maintenance", &procs)
    );
}
