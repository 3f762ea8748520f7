//! Sync accounts from the administrator's side: a revoked sign-in reported and healed, two
//! processes rotating one refresh token, and `accounts add` / `list` / `remove` on the command line.

use super::assert_covered_once;
use super::subscriptions_harness::*;
use presence_bridge::domain::Timestamp;

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
