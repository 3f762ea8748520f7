//! The demo's sync accounts, enrolled as an administrator would with `presence-bridge accounts
//! add`: the device-code sign-in (the administrator's approval happens in the sandbox), the
//! refresh token sealed into the bridge's store. The bridge's own maintenance then creates and
//! keeps the subscriptions.

use crate::domain::Timestamp;
use crate::graph::delegated::{DeviceCodePrompt, LoginEndpoint, SYNC_ACCOUNT_SCOPE};
use crate::graph::sealed::TokenSealer;
use crate::store::Store;
use crate::subscriptions::sync_accounts::enroll;
use anyhow::{Context, bail};
use presence_sandbox::Sandbox;
use std::time::{Duration, Instant};

/// Graph's limit of users per presence subscription.
pub const USERS_PER_SUBSCRIPTION: usize = crate::domain::sharding::USERS_PER_ACCOUNT;

/// Signs in `count` sync accounts (`sync1`, `sync2`, …) and stores them. Returns their names.
pub async fn enroll_accounts(
    sandbox: &Sandbox,
    store: &dyn Store,
    sealer: &TokenSealer,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for n in 1..=count {
        let name = format!("sync{n}");
        enroll_account(sandbox, store, sealer, &name).await?;
        names.push(name);
    }
    Ok(names)
}

/// Signs in the sync account `name` (`name@contoso.example`) and stores it.
pub async fn enroll_account(
    sandbox: &Sandbox,
    store: &dyn Store,
    sealer: &TokenSealer,
    name: &str,
) -> anyhow::Result<()> {
    let login = LoginEndpoint::new(
        reqwest::Client::new(),
        &sandbox.graph.authority_url(),
        &sandbox.tenant_id,
        &sandbox.app_id,
    );
    let upn = format!("{name}@contoso.example");
    sandbox.graph.add_sync_account(&upn);
    let graph = sandbox.graph.clone();
    let approver = upn.clone();
    // The administrator opens the page and signs in while the bridge polls.
    let tokens = login
        .device_login(SYNC_ACCOUNT_SCOPE, move |p: &DeviceCodePrompt| {
            let _ = graph.approve_device_code(&p.user_code, &approver);
        })
        .await
        .with_context(|| format!("device sign-in of {name}"))?;
    let refresh = tokens
        .refresh_token
        .context("the sign-in returned no refresh token")?;
    enroll(store, sealer, name, &refresh, Timestamp::now()).await?;
    Ok(())
}

/// Waits until the bridge's maintenance (every second in the demo) has created one subscription
/// per account; their ids.
pub async fn wait_for_subscriptions(
    sandbox: &Sandbox,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let within = Duration::from_secs(60);
    let deadline = Instant::now() + within;
    while sandbox.graph.subscriptions().len() < count {
        if Instant::now() > deadline {
            bail!(
                "the bridge did not create its subscriptions within {} s (see its log)",
                within.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(sandbox
        .graph
        .subscriptions()
        .into_iter()
        .map(|s| s.id)
        .collect())
}
