//! `presence-bridge accounts add|list|remove|new-key`: the sync accounts whose delegated sign-in
//! owns the presence subscriptions. `add` runs the device-code flow (MFA stays on, no password is
//! stored) and stores the refresh token sealed; maintenance does the rest.

use crate::app::{App, SecretResolver, open_store, token_sealer};
use crate::config::Config;
use crate::domain::Timestamp;
use crate::graph::cloud::sync_account_scope;
use crate::graph::delegated::{DeviceCodePrompt, LoginEndpoint};
use crate::store::{Store, SubscriptionRecord, SyncAccount};
use crate::subscriptions::sync_accounts::{check_name, enroll};
use crate::subscriptions::upkeep::{linked_users, plan_shards};
use anyhow::Context;
use std::io::Write;
use std::time::Duration;

/// Signs the account in with the device-code flow (the prompt goes to `out`) and stores it.
pub async fn add(cfg: &Config, name: &str, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    check_name(name).map_err(anyhow::Error::msg)?;
    let mut secrets = SecretResolver::default();
    let sealer = token_sealer(cfg, &mut secrets).await?;
    let store = open_store(&cfg.store).await?;
    let http = crate::outbound::http::client(
        Duration::from_secs(10),
        crate::outbound::http::Trust::Platform,
    )
    .context("HTTP client")?;
    let login = LoginEndpoint::new(
        http,
        &cfg.graph_authority_url,
        &cfg.tenant_id,
        &cfg.client_id,
    );
    let tokens = login
        .device_login(
            &sync_account_scope(&cfg.graph_base_url),
            |p: &DeviceCodePrompt| {
                // Shown at once: the administrator signs in while we poll.
                let _ = out.write_all(prompt_text(name, p).as_bytes());
                let _ = out.flush();
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("sign-in of sync account {name:?} failed: {e}"))?;
    let Some(refresh) = tokens.refresh_token.as_deref() else {
        anyhow::bail!("the sign-in returned no refresh token (offline_access not granted)");
    };
    let account = enroll(store.as_ref(), &sealer, name, refresh, Timestamp::now()).await?;
    writeln!(
        out,
        "Sync account {name:?} is signed in (refresh token sealed and stored, version {}). Maintenance subscribes its users at its next run.",
        account.version
    )?;
    Ok(())
}

fn prompt_text(name: &str, p: &DeviceCodePrompt) -> String {
    format!(
        "Sign in as the sync account {name:?}:\n  open {}\n  enter the code {}\n(the code expires in {} minutes; MFA stays on)\n",
        p.verification_uri,
        p.user_code,
        p.expires_in.as_secs().div_ceil(60)
    )
}

/// `accounts list` for a configuration: its store, its accounts' capacity.
pub async fn list_configured(cfg: &Config) -> anyhow::Result<String> {
    let store = open_store(&cfg.store).await?;
    let capacity = cfg
        .subscriptions
        .as_ref()
        .map_or(crate::domain::sharding::USERS_PER_ACCOUNT, |s| {
            s.users_per_account
        });
    list(store.as_ref(), capacity, Timestamp::now()).await
}

/// The accounts, what each covers, its subscription and last error, and who is not covered.
pub async fn list(store: &dyn Store, capacity: usize, now: Timestamp) -> anyhow::Result<String> {
    let accounts = store.list_accounts().await?;
    let subs: Vec<SubscriptionRecord> = store.list_subscriptions().await?;
    let linked = linked_users(store).await?;
    let mut text = format!(
        "{:<24} {:>5}  {:<36}  {:<20}  {:<20}  last error\n",
        "account", "users", "subscription", "expires", "reconciled"
    );
    for a in &accounts {
        let sub = a
            .subscription_id
            .as_ref()
            .and_then(|id| subs.iter().find(|s| &s.id == id));
        let expires = match sub {
            Some(s) if s.expires_at <= now => "expired".to_string(),
            Some(s) => format!("in {} min", (s.expires_at.millis() - now.millis()) / 60_000),
            None => "-".to_string(),
        };
        text.push_str(&format!(
            "{:<24} {:>5}  {:<36}  {:<20}  {:<20}  {}\n",
            a.name,
            a.assigned.len(),
            sub.map_or("none yet", |s| s.id.as_str()),
            expires,
            a.reconciled_at.map_or("never".to_string(), short_time),
            a.last_error.as_deref().unwrap_or("-"),
        ));
    }
    let shards = plan_shards(&accounts, &linked, capacity);
    text.push_str(&format!(
        "{} linked users, {} sync accounts ({} users each at most)\n",
        linked.len(),
        accounts.len(),
        capacity
    ));
    if !shards.uncovered.is_empty() {
        text.push_str(&format!(
            "NOT COVERED: {} users; add {} more sync account(s). First: {}\n",
            shards.uncovered.len(),
            shards.accounts_missing(),
            shards
                .uncovered
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(text)
}

fn short_time(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    s.get(..16).map_or(s.clone(), |p| p.replace('T', " "))
}

/// `accounts remove` for a configuration: the whole app, since Graph is called with the account's
/// own token.
pub async fn remove_configured(cfg: &Config, name: &str) -> anyhow::Result<String> {
    let app = App::from_config(cfg).await?;
    remove(&app, name).await
}

/// Deletes the account's subscription in Graph (with its own token; best effort: Graph deletes
/// it within the hour anyway), then the account. Its users move to other accounts at the next run.
pub async fn remove(app: &App, name: &str) -> anyhow::Result<String> {
    let store = app.store.as_ref();
    let Some(account) = store.get_account(name).await? else {
        anyhow::bail!("no sync account named {name:?}");
    };
    let mut note = String::new();
    if let Some(id) = &account.subscription_id {
        match app.accounts.as_deref() {
            Some(sa) => {
                let deleted = match sa.access_token(store, name).await {
                    Ok(token) => sa
                        .subscriptions
                        .delete_subscription(&token, id, Duration::from_secs(30))
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = deleted {
                    note = format!(
                        " (its subscription {id} could not be deleted in Graph: {e}; it lapses within the hour)"
                    );
                }
            }
            None => {
                note = format!(
                    " (subscriptions are not configured here; subscription {id} lapses within the hour)"
                )
            }
        }
        store.delete_subscription(id).await?;
    }
    store.delete_account(name).await?;
    Ok(removed_message(&account, &note))
}

fn removed_message(account: &SyncAccount, note: &str) -> String {
    format!(
        "Sync account {:?} removed{note}. Its {} users move to other accounts at the next maintenance run.",
        account.name,
        account.assigned.len()
    )
}
