//! Before the day starts: the sandbox, the bridge's keys and configuration file (written as an
//! operator would write them), its store, and the people on both sides, linked.

use super::DemoStore;
use super::script;
use super::world::DemoUser;
use crate::graph::sealed::TokenSealer;
use crate::store::{DynamoStore, SqliteStore, Store, UserLink};
use anyhow::{Context, bail};
use presence_sandbox::graph::GraphTiming;
use presence_sandbox::{Sandbox, SandboxOptions};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

/// The certificate id the bridge's key is configured under and the subscriptions name.
const CERTIFICATE_ID: &str = "demo-cert-1";

/// Everything the bridge needs before it starts.
pub struct Stage {
    pub sandbox: Sandbox,
    /// The bridge's own store, opened here too so the demo can link users and enroll accounts.
    pub store: Arc<dyn Store>,
    pub config_path: PathBuf,
    /// Environment of the bridge process (credentials of a local DynamoDB).
    pub bridge_env: Vec<(String, String)>,
    /// Known before the bridge starts: the subscriptions' notification URL names it.
    pub bridge_addr: SocketAddr,
    /// Seals the sync accounts' refresh tokens with the key the bridge is configured with.
    pub sealer: TokenSealer,
}

/// The connector the bridge is configured for: its URL and the two shared secrets.
#[derive(Debug, Clone)]
pub struct ConnectorEndpoint {
    pub url: String,
    /// The bridge signs its requests to the connector with it.
    pub signing_secret: String,
    /// The connector signs its events to the bridge with it.
    pub event_secret: String,
}

/// The bridge's connector timeout per attempt in the demo: short, so an outage shows quickly.
const CONNECTOR_TIMEOUT: Duration = Duration::from_millis(500);

/// Starts the sandbox and writes the bridge's files into `dir`. `connector`: the real
/// connector's endpoint; `None`: the sandbox's emulated one.
pub async fn prepare(
    dir: &Path,
    store: &DemoStore,
    connector: Option<ConnectorEndpoint>,
) -> anyhow::Result<Stage> {
    prepare_for_connector_delay(dir, store, connector, Duration::ZERO).await
}

/// [`prepare`] for a connector that answers `delay` late: the bridge waits that much longer
/// per attempt, as an operator would configure it for a slow SwyxServer.
pub async fn prepare_for_connector_delay(
    dir: &Path,
    store: &DemoStore,
    connector: Option<ConnectorEndpoint>,
    delay: Duration,
) -> anyhow::Result<Stage> {
    let connector_timeout = CONNECTOR_TIMEOUT + delay;
    let sandbox = Sandbox::start(SandboxOptions::default()).await?;
    let connector = connector.unwrap_or_else(|| ConnectorEndpoint {
        url: sandbox.swyx.url(),
        signing_secret: sandbox.connector_secret.clone(),
        event_secret: sandbox.events_secret.clone(),
    });
    sandbox.graph.set_timing(GraphTiming {
        device_poll_interval: Duration::from_millis(50),
        ..GraphTiming::default()
    });
    // The bridge's notification key and certificate (Graph encrypts to the certificate).
    let (key_pem, cert_b64) = presence_sandbox::graph::crypto::make_encryption_certificate()?;
    let key_path = dir.join("notify.pem");
    std::fs::write(&key_path, key_pem)?;
    let cert_path = dir.join("notify.cer.b64");
    std::fs::write(&cert_path, &cert_b64)?;
    // The key that seals the sync accounts' refresh tokens, in a file only the operator reads.
    let token_key = TokenSealer::generate_key_text();
    let token_key_path = dir.join("token.key");
    std::fs::write(&token_key_path, &token_key)?;
    let bridge_addr = super::bridge_process::free_port()?;
    let (store, store_section, bridge_env) = open_store(dir, store).await?;
    let files = Files {
        key: &key_path,
        certificate: &cert_path,
        token_key: &token_key_path,
    };
    let config_path = dir.join("config.toml");
    std::fs::write(
        &config_path,
        config_text(
            &sandbox,
            &files,
            (&connector, connector_timeout),
            &store_section,
            bridge_addr,
        ),
    )?;
    Ok(Stage {
        sealer: TokenSealer::from_key_text(&token_key)?,
        sandbox,
        store,
        config_path,
        bridge_env,
        bridge_addr,
    })
}

/// The store, its `[store]` section, and the environment the bridge process needs for it.
async fn open_store(
    dir: &Path,
    store: &DemoStore,
) -> anyhow::Result<(Arc<dyn Store>, String, Vec<(String, String)>)> {
    match store {
        DemoStore::Sqlite => {
            let path = dir.join("bridge.db");
            let store = Arc::new(SqliteStore::open(&path)?);
            let section = format!("sqlite_path = {:?}\n", path.display().to_string());
            Ok((store, section, Vec::new()))
        }
        DemoStore::DynamoDb { endpoint, table } => {
            // A local DynamoDB-compatible server takes any credentials; the child gets the same.
            let conf = aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "local", "local", None, None, "demo",
                ))
                .endpoint_url(endpoint)
                .build();
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), table.clone());
            store.create_table_if_missing().await?;
            let env = [
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "local"),
                ("AWS_SECRET_ACCESS_KEY", "local"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let section = format!("dynamodb_table = {table:?}\ndynamodb_endpoint = {endpoint:?}\n");
            Ok((Arc::new(store), section, env))
        }
    }
}

/// The secret files the configuration refers to.
struct Files<'a> {
    key: &'a Path,
    certificate: &'a Path,
    token_key: &'a Path,
}

/// The bridge's configuration file, pointing at the sandbox and the connector.
fn config_text(
    sandbox: &Sandbox,
    files: &Files<'_>,
    (connector, timeout): (&ConnectorEndpoint, Duration),
    store_section: &str,
    bridge_addr: SocketAddr,
) -> String {
    let file = |p: &Path| format!("file:{}", p.display());
    format!(
        "[graph]\ntenant_id = {:?}\nclient_id = {:?}\njwks_url = {:?}\nclient_secret = {:?}\nauthority_url = {:?}\nbase_url = {:?}\n\n\
         [[graph.encryption_keys]]\nid = {CERTIFICATE_ID:?}\nprivate_key = {:?}\n\n\
         [connector]\nurl = {:?}\nsigning_secret = {:?}\nevent_secrets = [{:?}]\ntimeout_ms = {}\nmax_attempts = 2\n\n\
         [store]\n{store_section}\n[server]\nmaintenance_interval_secs = 1\n\n\
         [subscriptions]\nnotification_url = \"http://{bridge_addr}/graph/notifications\"\nlifecycle_url = \"http://{bridge_addr}/graph/lifecycle\"\ncertificate = {:?}\ncertificate_id = {CERTIFICATE_ID:?}\n\n\
         [accounts]\ntoken_key = {:?}\n",
        sandbox.tenant_id,
        sandbox.app_id,
        sandbox.graph.jwks_url(),
        sandbox.client_secret,
        sandbox.graph.authority_url(),
        sandbox.graph.graph_url(),
        file(files.key),
        connector.url,
        connector.signing_secret,
        connector.event_secret,
        timeout.as_millis(),
        file(files.certificate),
        file(files.token_key),
    )
}

/// `count` people on both sides (Entra user and Swyx user with the same e-mail address), each
/// signed in to Teams and Available; not linked yet (see [`link_by_sync`]).
pub fn add_people(stage: &Stage, count: usize) -> anyhow::Result<Vec<DemoUser>> {
    let mut users = Vec::with_capacity(count);
    for i in 0..count {
        let user = DemoUser::numbered(i);
        stage.sandbox.add_person(
            &user.entra_id,
            &user.swyx_id,
            &user.email,
            &format!("User {i}"),
        );
        stage.sandbox.graph.set_client_session(
            &user.entra_id,
            script::SESSION,
            "Available",
            "Available",
        )?;
        users.push(user);
    }
    Ok(users)
}

/// `count` people on both sides, linked by hand in the store (as `users import` would): for tests
/// that need linked users and not the linking itself.
pub async fn link_users(stage: &Stage, count: usize) -> anyhow::Result<Vec<DemoUser>> {
    let users = add_people(stage, count)?;
    for user in &users {
        stage
            .store
            .put_user(&UserLink {
                entra_id: user.entra_id.clone(),
                swyx_user_id: user.swyx_id.clone(),
                email: user.email.clone(),
                groups: Vec::new(),
            })
            .await?;
    }
    Ok(users)
}

/// Links the people as an operator would: `presence-bridge users sync` (Graph's `/users` and the
/// connector's user list, matched by e-mail address), then checks every pair is linked.
pub async fn link_by_sync(
    stage: &Stage,
    exe: &Path,
    users: &[DemoUser],
    log: &Path,
) -> anyhow::Result<()> {
    let log_file = std::fs::File::create(log).context("users sync log file")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["users", "sync", "--config"])
        .arg(&stage.config_path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            log_file.try_clone().context("users sync log file")?,
        ))
        .stderr(Stdio::from(log_file));
    for (k, v) in &stage.bridge_env {
        cmd.env(k, v);
    }
    // The sandbox answers the child from this process's runtime: wait off its workers.
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await
        .context("waiting for users sync")?
        .with_context(|| format!("running {} users sync", exe.display()))?;
    if !status.success() {
        bail!("`users sync` failed ({status}); see {}", log.display());
    }
    let linked: HashMap<String, String> = stage
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|l| (l.swyx_user_id, l.entra_id))
        .collect();
    let missing = users
        .iter()
        .filter(|u| linked.get(&u.swyx_id) != Some(&u.entra_id))
        .count();
    if missing > 0 {
        bail!(
            "`users sync` left {missing} of {} people unlinked; see {}",
            users.len(),
            log.display()
        );
    }
    Ok(())
}
