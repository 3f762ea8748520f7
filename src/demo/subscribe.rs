//! Subscribing the simple way, until subscription maintenance exists: one sync account per 650
//! users signs in with the device-code flow (approved in the sandbox), then creates one rich,
//! encrypted presence subscription for its users, and the bridge's store learns its clientState.

use crate::domain::Timestamp;
use crate::store::{Store, SubscriptionRecord};
use anyhow::{Context, bail};
use presence_sandbox::Sandbox;
use serde::Deserialize;

/// Graph's limit of users per presence subscription.
pub const USERS_PER_SUBSCRIPTION: usize = 650;

#[derive(Deserialize)]
struct DeviceCode {
    device_code: String,
    user_code: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    id: String,
    expiration_date_time: String,
}

pub struct SubscribeArgs<'a> {
    pub notification_url: &'a str,
    pub lifecycle_url: &'a str,
    pub certificate_b64: &'a str,
    pub certificate_id: &'a str,
}

/// Creates the subscriptions covering `user_ids` and records them in `store`. Returns their ids.
pub async fn subscribe_all(
    sandbox: &Sandbox,
    store: &dyn Store,
    user_ids: &[String],
    args: &SubscribeArgs<'_>,
) -> anyhow::Result<Vec<String>> {
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for (n, chunk) in user_ids.chunks(USERS_PER_SUBSCRIPTION).enumerate() {
        let upn = format!("sync{}@contoso.example", n + 1);
        sandbox.graph.add_sync_account(&upn);
        let token = sign_in(&http, sandbox, &upn).await?;
        let client_state = uuid::Uuid::new_v4().simple().to_string();
        let filter = chunk
            .iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let expires = presence_sandbox::Clock::format_ms(sandbox.clock.now_ms() + 59 * 60_000);
        let body = serde_json::json!({
            "changeType": "updated",
            "notificationUrl": args.notification_url,
            "lifecycleNotificationUrl": args.lifecycle_url,
            "resource": format!("/communications/presences?$filter=id in ({filter})"),
            "expirationDateTime": expires,
            "includeResourceData": true,
            "encryptionCertificate": args.certificate_b64,
            "encryptionCertificateId": args.certificate_id,
            "clientState": client_state,
        });
        let resp = http
            .post(format!("{}/subscriptions", sandbox.graph.graph_url()))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .context("create subscription")?;
        let status = resp.status();
        if !status.is_success() {
            bail!(
                "creating the subscription for {upn} failed: {status} {}",
                resp.text().await.unwrap_or_default()
            );
        }
        let created: Created = resp.json().await.context("subscription answer")?;
        let expires_at = Timestamp::parse_rfc3339(&created.expiration_date_time)
            .context("subscription expirationDateTime")?;
        store
            .put_subscription(&SubscriptionRecord {
                id: created.id.clone(),
                client_state,
                expires_at,
                account: Some(upn),
                resource: "/communications/presences".to_string(),
                encryption_certificate_id: Some(args.certificate_id.to_string()),
                renewed_at: None,
            })
            .await?;
        ids.push(created.id);
    }
    Ok(ids)
}

async fn sign_in(http: &reqwest::Client, sandbox: &Sandbox, upn: &str) -> anyhow::Result<String> {
    let base = format!(
        "{}/{}/oauth2/v2.0",
        sandbox.graph.authority_url(),
        sandbox.tenant_id
    );
    let scope = "https://graph.microsoft.com/Presence.Read.All offline_access";
    let code: DeviceCode = http
        .post(format!("{base}/devicecode"))
        .form(&[("client_id", sandbox.app_id.as_str()), ("scope", scope)])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    // The administrator signs in as the sync account on the verification page.
    sandbox.graph.approve_device_code(&code.user_code, upn)?;
    let token: TokenAnswer = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", sandbox.app_id.as_str()),
            ("device_code", code.device_code.as_str()),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(token.access_token)
}
