//! Subscriptions repaired without losing a change: a new encryption certificate rolled out by
//! PATCH, a subscription gone in Graph or forgotten by the store, a run out of time, and a forged
//! lifecycle notification.

use super::subscriptions_harness::*;

/// A new encryption certificate: every subscription moves to it by PATCH (no rebuild, nothing
/// lost), notifications keep decrypting, and the old key is reported unused afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_encryption_certificate_is_rolled_out_by_patch_and_the_old_key_retired() {
    let mut b = Bridge::subscribed(700, 2).await;
    let (key2, cert2) = presence_sandbox::graph::make_encryption_certificate().unwrap();
    std::fs::write(b.dir.join("notify-2.pem"), key2).unwrap();
    std::fs::write(b.dir.join("notify-2.cer.b64"), cert2).unwrap();
    let dir = b.dir.display().to_string();
    b.reconfigure(|text| {
        let text = text
            .replace("notify.cer.b64", "notify-2.cer.b64")
            .replace("certificate_id = \"bridge-cert-1\"", "certificate_id = \"bridge-cert-2\"");
        text.replace(
            "[connector]",
            &format!("[[graph.encryption_keys]]\nid = \"bridge-cert-2\"\nprivate_key = \"file:{dir}/notify-2.pem\"\n\n[connector]"),
        )
    })
    .await;
    let run = b.maintain().await;
    assert_eq!(
        (run.certificate_moved, run.created, run.recreated),
        (2, 0, 0),
        "{run:?}"
    );
    assert!(
        b.sandbox
            .graph
            .subscriptions()
            .iter()
            .all(|s| s.encryption_certificate_id.as_deref() == Some("bridge-cert-2"))
    );
    assert_eq!(
        run.unused_keys,
        vec!["bridge-cert-1".to_string()],
        "no subscription uses it now"
    );
    let before = b.delivered();
    b.set_presence(5, "DoNotDisturb", "DoNotDisturb");
    b.wait_delivered(before, 1).await;
    let (want, got) = b.expected_and_actual(5);
    assert_eq!(want, got, "encrypted to the new certificate and decrypted");
}

/// A delegated access token of a sync account, as an administrator's tool would hold one.
async fn delegated_token(b: &Bridge, upn: &str) -> String {
    let refresh = b.sandbox.graph.issue_refresh_token(upn).unwrap();
    let login = presence_bridge::graph::delegated::LoginEndpoint::new(
        reqwest::Client::new(),
        &b.sandbox.graph.authority_url(),
        &b.sandbox.tenant_id,
        &b.sandbox.app_id,
    );
    login
        .refresh(
            &refresh,
            presence_bridge::graph::delegated::SYNC_ACCOUNT_SCOPE,
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap()
        .access_token
}

/// Deleted behind the bridge's back (no lifecycle notification): the renewal's 404 recreates it
/// and its users are read back. Lost from the store (a restored backup): Graph's 409 names the
/// old one, which the bridge replaces by one it knows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_gone_in_graph_or_forgotten_by_the_store_is_rebuilt() {
    let b = Bridge::subscribed(40, 1).await;
    let sub = b.sandbox.graph.subscriptions().remove(0);
    let token = delegated_token(&b, "sync01@contoso.example").await;
    let deleted = reqwest::Client::new()
        .delete(format!(
            "{}/subscriptions/{}",
            b.sandbox.graph.graph_url(),
            sub.id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    b.set_presence(3, "DoNotDisturb", "DoNotDisturb"); // nobody is told
    b.advance(45 * MIN);
    let run = b.maintain().await;
    assert_eq!((run.recreated, run.renewed), (1, 0), "{run:?}");
    assert_eq!(run.reconciled_users, 40);
    b.assert_all_consistent();

    // The store forgets the account's subscription; Graph still has it.
    let mut account = b.store.get_account("sync01").await.unwrap().unwrap();
    let known = account.subscription_id.take().unwrap();
    account.covered.clear();
    account.version += 1;
    b.store
        .put_account(&account, account.version - 1)
        .await
        .unwrap();
    b.store.delete_subscription(&known).await.unwrap();
    let run = b.maintain().await;
    assert_eq!((run.adopted, run.created), (1, 1), "{run:?}");
    let live = b.sandbox.graph.subscriptions();
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].id, known);
    let before = b.delivered();
    b.set_presence(4, "Away", "Away");
    b.wait_delivered(before, 1).await;
    b.assert_all_consistent();
}

/// A run whose budget is spent stops cleanly and the next one finishes the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_out_of_time_stops_cleanly_and_the_next_run_continues() {
    let b = Bridge::start(Options::default()).await;
    b.vary_presence();
    b.add_accounts(2).await;
    let cut = presence_bridge::subscriptions::upkeep::maintain(&b.app, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert!(cut.budget_exhausted, "{cut:?}");
    assert_eq!(cut.created, 0);
    let run = b.maintain().await;
    assert!(
        !run.budget_exhausted && run.failed_accounts.is_empty(),
        "{run:?}"
    );
    assert_eq!(run.created, 2);
    b.assert_all_consistent();
}

/// A lifecycle notification with a wrong clientState is answered but changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_lifecycle_notification_is_ignored() {
    let b = Bridge::subscribed(5, 1).await;
    let sub = b.sandbox.graph.subscriptions().remove(0);
    let forged = serde_json::json!({ "value": [{
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": sub.expiration_date_time,
        "tenantId": b.sandbox.tenant_id,
        "clientState": "guessed",
        "lifecycleEvent": "subscriptionRemoved",
    }]});
    let resp = reqwest::Client::new()
        .post(format!("http://{}/graph/lifecycle", b.addr))
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert!(b.store.list_lifecycle_requests().await.unwrap().is_empty());
    let run = b.maintain().await;
    assert_eq!(
        (run.created, run.recreated, run.lifecycle_handled),
        (0, 0, 0),
        "{run:?}"
    );
    assert_eq!(b.sandbox.graph.subscriptions()[0].id, sub.id);
}
