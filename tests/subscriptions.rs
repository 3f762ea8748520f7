//! Subscriptions that never lapse, against the sandbox on its controllable clock: sync accounts,
//! sharding, renewal, lifecycle notifications, reconciliation, outages and throttling.

#[path = "subscriptions/slow_connector.rs"]
mod slow_connector;
#[path = "subscriptions/slow_graph.rs"]
mod slow_graph;
#[path = "subscriptions/harness.rs"]
mod subscriptions_harness;

use presence_bridge::cli::accounts;
use presence_bridge::domain::Timestamp;
use presence_bridge::store::UserLink;
use std::collections::BTreeSet;
use std::time::Instant;
use subscriptions_harness::*;

fn route(b: &Bridge, key: &str) -> u64 {
    b.sandbox
        .graph
        .stats()
        .requests_by_route
        .get(key)
        .copied()
        .unwrap_or(0)
}

fn patches(b: &Bridge) -> u64 {
    b.sandbox
        .graph
        .stats()
        .requests_by_route
        .iter()
        .filter(|(k, _)| k.starts_with("PATCH"))
        .map(|(_, v)| *v)
        .sum()
}

/// The sandbox's live subscriptions cover every linked user exactly once, ≤ `per` each.
fn assert_covered_once(b: &Bridge, per: usize) {
    let subs = b.sandbox.graph.subscriptions();
    let mut seen = BTreeSet::new();
    for s in &subs {
        assert!(
            s.user_ids.len() <= per,
            "{} users in one subscription",
            s.user_ids.len()
        );
        assert!(s.include_resource_data);
        for u in &s.user_ids {
            assert!(seen.insert(u.clone()), "{u} is in two subscriptions");
        }
    }
    let linked: BTreeSet<String> = b.users.iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(seen, linked, "subscriptions cover exactly the linked users");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_users_over_sixteen_accounts_from_empty_in_one_run_then_steady_renewal() {
    let b = Bridge::start(Options {
        users: 10_000,
        users_per_account: 625,
        ..Options::default()
    })
    .await;
    b.vary_presence();
    b.add_accounts(16).await;

    let (t0, r0) = (Instant::now(), b.graph_requests());
    let run = b.maintain().await;
    let (first_run, first_requests) = (t0.elapsed(), b.graph_requests() - r0);
    assert_eq!(run.created, 16, "{run:?}");
    assert!(
        run.uncovered.is_empty() && run.failed_accounts.is_empty(),
        "{run:?}"
    );
    assert_eq!(run.reconciled_users, 10_000);
    assert!(!run.budget_exhausted);
    assert_covered_once(&b, 625);
    b.assert_all_consistent();
    // 16 × (refresh token, create) + 16 getPresencesByUserId + the app token. A bulk read is
    // idempotent, so one that timed out on a loaded machine is retried: allow a few such retries.
    let reads = route(&b, "POST /v1.0/communications/getPresencesByUserId");
    assert!((16..=19).contains(&reads), "{reads} bulk presence reads");
    eprintln!(
        "FIGURE run from empty, 10,000 users / 16 accounts: {:.1} s, {first_requests} Graph requests ({:?})",
        first_run.as_secs_f64(),
        b.sandbox.graph.stats().requests_by_route
    );

    // Steady state: 40 minutes on, every subscription is inside the renewal margin.
    b.advance(40 * MIN);
    let (t1, r1) = (Instant::now(), b.graph_requests());
    let run = b.maintain().await;
    let (steady, steady_requests) = (t1.elapsed(), b.graph_requests() - r1);
    assert_eq!(
        (run.renewed, run.created, run.recreated),
        (16, 0, 0),
        "{run:?}"
    );
    assert_eq!(run.reconciled_users, 0, "reconciliation is not due yet");
    assert_eq!(
        steady_requests, 16,
        "one PATCH per subscription, nothing else"
    );
    eprintln!(
        "FIGURE steady-state renewal run, 16 subscriptions: {:.3} s, {steady_requests} Graph requests",
        steady.as_secs_f64()
    );

    // A change still arrives by notification.
    let before = b.delivered();
    b.set_presence(7, "Busy", "Busy");
    b.wait_delivered(before, 1).await;
    assert_eq!(b.expected_and_actual(7).0, b.expected_and_actual(7).1);

    // One user more than 16 × 625: reported, nothing rebuilt.
    let extra = entra_id(10_000);
    b.sandbox
        .add_person(&extra, "99999", "extra@contoso.example", "Extra");
    b.store
        .put_user(&UserLink {
            entra_id: extra.clone(),
            swyx_user_id: "99999".into(),
            email: "extra@contoso.example".into(),
            groups: Vec::new(),
        })
        .await
        .unwrap();
    let run = b.maintain().await;
    assert_eq!(run.uncovered, vec![extra.clone()]);
    assert_eq!(run.accounts_missing, 1);
    assert_eq!((run.created, run.recreated), (0, 0));
    let now = Timestamp(b.sandbox.clock.now_ms());
    let listing = accounts::list(b.store.as_ref(), 625, now).await.unwrap();
    assert!(
        listing.contains("NOT COVERED: 1 users; add 1 more sync account(s)")
            && listing.contains(&extra),
        "{listing}"
    );

    // Unlinking one user and linking the extra one rebuilds exactly one subscription, and its
    // users are read back right after.
    b.store.delete_user(&entra_id(3)).await.unwrap();
    let run = b.maintain().await;
    assert!(run.uncovered.is_empty(), "{run:?}");
    assert_eq!((run.recreated, run.created), (1, 0), "{run:?}");
    assert_eq!(run.reconciled_users, 625);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_renewals_never_lapses_and_loses_no_change() {
    let b = Bridge::start(Options::default()).await;
    b.add_accounts(2).await;
    let first = b.maintain().await;
    assert_eq!(first.created, 2, "{first:?}");
    let ids: Vec<String> = b
        .sandbox
        .graph
        .subscriptions()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    let mut renewals = 0;
    for step in 0..144 {
        b.advance(10 * MIN);
        let run = b.maintain().await;
        assert!(run.failed_accounts.is_empty(), "step {step}: {run:?}");
        assert_eq!((run.created, run.recreated), (0, 0), "step {step}: {run:?}");
        renewals += run.renewed;
        let now = b.sandbox.clock.now_ms();
        let live = b.sandbox.graph.subscriptions();
        assert_eq!(
            live.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            ids,
            "step {step}: the same two subscriptions live on"
        );
        assert!(live.iter().all(|s| s.expiration_ms - now > 10 * 60_000));
        // Three users change (to a status they do not have); each change reaches Swyx by
        // notification.
        let before = b.delivered();
        let statuses = [
            ("Busy", "Busy"),
            ("Away", "Away"),
            ("DoNotDisturb", "DoNotDisturb"),
            ("Available", "Available"),
        ];
        for k in 0..3 {
            let i = (step * 7 + k * 233) % b.users.len();
            let now = b
                .sandbox
                .graph
                .presence(&b.users[i].0)
                .unwrap()
                .availability;
            let next = statuses
                .iter()
                .cycle()
                .skip(step + k)
                .find(|(a, _)| *a != now)
                .unwrap();
            b.set_presence(i, next.0, next.1);
        }
        b.wait_delivered(before, 3).await;
        for k in 0..3 {
            let i = (step * 7 + k * 233) % b.users.len();
            let (want, got) = b.expected_and_actual(i);
            assert_eq!(want, got, "step {step}: user {i}");
        }
    }
    // 24 h / (58 min life − 20 min margin) ≈ 38 renewals per subscription.
    assert!(renewals >= 2 * 30, "{renewals} renewals");
    b.sandbox
        .graph
        .wait_stats(WAIT, |s| {
            s.notifications_failed == 0 || s.notifications_dropped == 0
        })
        .await
        .unwrap();
    b.assert_all_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_subscription_missed_notifications_and_a_graph_outage_are_repaired() {
    let mut b = Bridge::subscribed(700, 2).await;
    let subs = b.sandbox.graph.subscriptions();
    assert_eq!(subs.len(), 2);

    // subscriptionRemoved: Graph dropped it; changes in the gap come back by reconciliation.
    let removed = subs[0].clone();
    b.lifecycle(&removed.id, "subscriptionRemoved").await;
    let victim = b
        .users
        .iter()
        .position(|(e, _)| removed.user_ids.contains(e))
        .unwrap();
    b.set_presence(victim, "DoNotDisturb", "DoNotDisturb");
    let run = b.maintain().await;
    assert_eq!(
        (run.recreated + run.created, run.lifecycle_handled),
        (1, 1),
        "{run:?}"
    );
    assert!(run.reconciled_users >= removed.user_ids.len());
    b.assert_all_consistent();

    // missed: Graph gave up delivering while the bridge was unreachable.
    b.sandbox
        .graph
        .set_timing(presence_sandbox::graph::GraphTiming {
            retry_base: std::time::Duration::from_millis(20),
            retry_cap: std::time::Duration::from_millis(50),
            retry_window: MIN,
            // Each POST to the paused bridge waits its timeout in real time: short, so Graph
            // gives up within seconds even on a busy machine.
            delivery_timeout: std::time::Duration::from_millis(300),
            retry_timeout: std::time::Duration::from_millis(500),
            ..Default::default()
        });
    b.pause();
    let dropped_before = b.sandbox.graph.stats().notifications_dropped;
    b.set_presence(victim, "Away", "Away");
    b.advance(2 * MIN);
    b.sandbox
        .graph
        .wait_stats(WAIT, |s| s.notifications_dropped > dropped_before)
        .await
        .unwrap();
    b.resume();
    let sub = b
        .sandbox
        .graph
        .subscriptions()
        .into_iter()
        .find(|s| s.user_ids.contains(&b.users[victim].0))
        .unwrap();
    b.lifecycle(&sub.id, "missed").await;
    assert_ne!(
        b.expected_and_actual(victim).0,
        b.expected_and_actual(victim).1
    );
    let run = b.maintain().await;
    assert_eq!(run.lifecycle_handled, 1, "{run:?}");
    assert!(run.repaired >= 1, "{run:?}");
    b.assert_all_consistent();

    // A Graph outage of 30 minutes across the subscriptions' expiry.
    b.advance(30 * MIN);
    b.sandbox.graph.set_outage(true);
    for _ in 0..3 {
        b.advance(10 * MIN);
        let run = b.maintain().await;
        assert_eq!(run.failed_accounts.len(), 2, "{run:?}");
    }
    assert!(
        b.sandbox.graph.subscriptions().is_empty(),
        "they lapsed during the outage"
    );
    let now = Timestamp(b.sandbox.clock.now_ms());
    let listing = accounts::list(b.store.as_ref(), 650, now).await.unwrap();
    assert!(
        listing.contains("503") || listing.contains("unavailable"),
        "{listing}"
    );
    for i in 0..20 {
        b.set_presence(i, "Busy", "Busy");
    }
    b.sandbox.graph.set_outage(false);
    let run = b.maintain().await;
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(run.created + run.recreated, 2, "{run:?}");
    assert_covered_once(&b, 650);
    b.assert_all_consistent();
    let accounts = b.store.list_accounts().await.unwrap();
    assert!(accounts.iter().all(|a| a.last_error.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_slows_maintenance_down_and_loses_nothing() {
    let b = Bridge::start(Options::default()).await;
    b.vary_presence();
    b.add_accounts(2).await;
    // Three Graph requests per 30 s: a run needs at least four (create and read per account),
    // so Graph answers 429 with Retry-After and maintenance waits or comes back next run.
    b.sandbox.graph.set_throttle(Some(3));
    let mut runs = 0;
    loop {
        runs += 1;
        let run = b.maintain().await;
        if run.failed_accounts.is_empty()
            && !run.budget_exhausted
            && b.sandbox.graph.subscriptions().len() == 2
        {
            break;
        }
        assert!(
            runs < 5,
            "maintenance did not get through the storm: {run:?}"
        );
    }
    assert!(b.sandbox.graph.stats().throttled_429 > 0);
    b.sandbox.graph.set_throttle(None);
    assert_covered_once(&b, 650);
    b.assert_all_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthorization_required_is_one_patch_and_never_twice_within_ten_minutes() {
    let b = Bridge::subscribed(20, 1).await;
    let sub = b.sandbox.graph.subscriptions().remove(0);
    let expiry = sub.expiration_ms;
    b.advance(MIN);
    // Graph may repeat itself: two in a row are still one PATCH.
    b.lifecycle(&sub.id, "reauthorizationRequired").await;
    b.lifecycle(&sub.id, "reauthorizationRequired").await;
    let run = b.maintain().await;
    assert_eq!((run.renewed, run.lifecycle_handled), (1, 1), "{run:?}");
    assert_eq!(patches(&b), 1);
    assert_eq!(route(&b, "POST /v1.0/subscriptions/{id}/reauthorize"), 0);
    assert!(b.sandbox.graph.subscriptions()[0].expiration_ms > expiry);

    b.advance(5 * MIN);
    b.lifecycle(&sub.id, "reauthorizationRequired").await;
    let run = b.maintain().await;
    assert_eq!((run.renewed, run.lifecycle_handled), (0, 1), "{run:?}");
    assert_eq!(patches(&b), 1, "renewed 5 minutes ago: no second PATCH");

    b.advance(6 * MIN);
    b.lifecycle(&sub.id, "reauthorizationRequired").await;
    b.maintain().await;
    assert_eq!(patches(&b), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_sign_in_is_reported_and_signing_in_again_heals_it() {
    let b = Bridge::subscribed(20, 1).await;
    b.sandbox.graph.revoke_sign_ins("sync01@contoso.example");
    // Past the access token's life and into the renewal margin.
    b.advance(95 * MIN);
    let run = b.maintain().await;
    assert_eq!(run.failed_accounts, vec!["sync01".to_string()]);
    let account = b.store.get_account("sync01").await.unwrap().unwrap();
    let error = account.last_error.unwrap();
    assert!(error.contains("accounts add sync01"), "{error}");
    assert!(
        !account.sealed_refresh_token.is_empty(),
        "the last token is kept"
    );

    let refresh = b
        .sandbox
        .graph
        .issue_refresh_token("sync01@contoso.example")
        .unwrap();
    let sealer = &b.app.accounts.as_ref().unwrap().sealer;
    let now = Timestamp(b.sandbox.clock.now_ms());
    presence_bridge::subscriptions::sync_accounts::enroll(
        b.store.as_ref(),
        sealer,
        "sync01",
        &refresh,
        now,
    )
    .await
    .unwrap();
    let run = b.maintain().await;
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_covered_once(&b, 650);
    b.assert_all_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_rotating_one_refresh_token_at_once_keep_a_valid_one() {
    let b = Bridge::start(Options {
        users: 5,
        ..Options::default()
    })
    .await;
    b.add_accounts(1).await;
    // A second process on the same store (another Lambda instance): no shared token cache.
    let cfg = presence_bridge::config::RawConfig::from_file(&b.config_path)
        .unwrap()
        .validate(presence_bridge::config::Origin::File)
        .unwrap();
    let clock = b.sandbox.clock.clone();
    let other = presence_bridge::app::App::from_config_with_clock(
        &cfg,
        presence_bridge::domain::Clock::from_fn(move || Timestamp(clock.now_ms())),
    )
    .await
    .unwrap();
    let (one, two) = (
        b.app.accounts.as_ref().unwrap(),
        other.accounts.as_ref().unwrap(),
    );
    let (x, y) = tokio::join!(
        one.access_token(b.store.as_ref(), "sync01"),
        two.access_token(b.store.as_ref(), "sync01")
    );
    assert!(x.is_ok() && y.is_ok(), "{x:?} {y:?}");
    // Long after the superseded tokens' grace: the stored one still works.
    b.advance(3 * 60 * MIN);
    one.forget("sync01");
    assert!(one.access_token(b.store.as_ref(), "sync01").await.is_ok());
    let account = b.store.get_account("sync01").await.unwrap().unwrap();
    assert!(account.version >= 2, "rotated and stored");
}

/// `accounts add` as an administrator runs it: prints the URL and code, polls while someone signs
/// in, stores the account; `list` shows it; `remove` deletes its subscription in Graph.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_add_list_and_remove_from_the_command_line() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let b = Bridge::start(Options {
        users: 30,
        ..Options::default()
    })
    .await;
    let upn = "sync-cli@contoso.example";
    b.sandbox.graph.add_sync_account(upn);
    let exe = env!("CARGO_BIN_EXE_presence-bridge");
    let config = b.config_path.to_str().unwrap().to_string();
    let add = |name: &str| {
        Command::new(exe)
            .args(["accounts", "add", name, "--config", &config])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // The code appears on stdout while the command polls; it is read on a blocking thread.

    // Declined: a clear message and a failure exit.
    let mut child = add("sync-declined");
    let out = child.stdout.take().unwrap();
    let code = tokio::task::spawn_blocking(move || {
        BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                l.trim()
                    .strip_prefix("enter the code ")
                    .map(|c| c.trim().to_string())
            })
    })
    .await
    .unwrap()
    .expect("the command shows a code");
    b.sandbox.graph.deny_device_code(&code).unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("declined"), "{err}");
    assert!(
        b.store
            .get_account("sync-declined")
            .await
            .unwrap()
            .is_none()
    );

    // Approved: stored, sealed (the refresh token is not in the store in clear).
    let mut child = add("sync-cli");
    let out = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(out);
        let mut seen = Vec::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            seen.push(line.trim().to_string());
            if line.contains("enter the code") {
                break;
            }
            line.clear();
        }
        (seen, reader)
    })
    .await
    .unwrap();
    let (seen, mut reader) = lines;
    let prompt = seen.join("\n");
    assert!(prompt.contains("/devicelogin"), "{prompt}");
    let code = seen
        .iter()
        .find_map(|l| l.strip_prefix("enter the code "))
        .unwrap()
        .to_string();
    b.sandbox.graph.approve_device_code(&code, upn).unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
        (child.wait().unwrap(), rest)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "{}", status.1);
    assert!(status.1.contains("is signed in"), "{}", status.1);
    let account = b.store.get_account("sync-cli").await.unwrap().unwrap();
    assert!(account.sealed_refresh_token.starts_with("v1."));

    b.maintain().await;
    assert_eq!(b.sandbox.graph.subscriptions().len(), 1);
    let list = Command::new(exe)
        .args(["accounts", "list", "--config", &config])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success());
    assert!(
        text.contains("sync-cli") && text.contains("30 linked users"),
        "{text}"
    );

    let remove = Command::new(exe)
        .args(["accounts", "remove", "sync-cli", "--config", &config])
        .output()
        .unwrap();
    assert!(
        remove.status.success(),
        "{}",
        String::from_utf8_lossy(&remove.stderr)
    );
    assert!(
        b.sandbox.graph.subscriptions().is_empty(),
        "deleted in Graph"
    );
    assert!(b.store.get_account("sync-cli").await.unwrap().is_none());
}

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
