//! The admin page in a real headless browser (Chromium through chromedriver), against `serve` as
//! a child process and the sandbox: the page loads behind basic auth with the totals, the search
//! box narrows the user table to the user typed, and a delivery the connector refuses during an
//! outage shows up in the pending backlog with its error. `UPDATE_SCREENSHOT=1` writes the
//! screenshot of that moment to docs/admin-page.png (referenced from the README).

use presence_bridge::demo::DemoStore;
use presence_bridge::demo::parts::{
    BridgeProcess, enroll_accounts, link_users, prepare, wait_for_subscriptions,
};
use presence_bridge::demo::script::{MAPPING_ROWS, apply};
use presence_sandbox::swyx::Outage;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::webdriver::Browser;

const USERS: usize = 12;
/// URL-safe: it travels as the basic-auth password in the address.
const TOKEN: &str = "admin-page-test-token-5f1c";
/// How often the test reloads the page while it waits for a state.
const POLL: Duration = Duration::from_millis(200);

/// Reloads `url` until `cond` holds for the text of `css`; panics with the last text at the
/// deadline.
async fn reload_until(
    browser: &Browser,
    url: &str,
    css: &str,
    within: Duration,
    cond: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        browser.goto(url).await;
        let text = browser.text(css).await;
        if cond(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{css} never matched: {text:?}");
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_in_a_browser_shows_search_and_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let stage = prepare(dir.path(), &DemoStore::Sqlite, None).await.unwrap();
    let users = link_users(&stage, USERS).await.unwrap();
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let config = std::fs::read_to_string(&stage.config_path).unwrap();
    let config = config.replacen(
        "[server]\n",
        &format!("[server]\nadmin_listen = \"{admin}\"\nadmin_token = \"{TOKEN}\"\n"),
        1,
    );
    std::fs::write(&stage.config_path, config).unwrap();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_presence-bridge"));
    let bridge = BridgeProcess::start_with_health_at(
        stage.bridge_addr,
        admin,
        &exe,
        &stage.config_path,
        &stage.bridge_env,
        &dir.path().join("bridge.log"),
    )
    .await
    .unwrap();
    enroll_accounts(&stage.sandbox, stage.store.as_ref(), &stage.sealer, 1)
        .await
        .unwrap();
    wait_for_subscriptions(&stage.sandbox, 1).await.unwrap();

    let browser = Browser::start().await;
    let page = format!("http://admin:{TOKEN}@{admin}/admin");
    // Loads, with every linked user covered by the one sync account's subscription.
    let covered = reload_until(
        &browser,
        &page,
        "[data-total=covered] dd",
        Duration::from_secs(30),
        |t| t == USERS.to_string(),
    )
    .await;
    assert_eq!(covered, USERS.to_string());
    assert_eq!(
        browser.text("[data-total=linked] dd").await,
        USERS.to_string()
    );
    assert!(browser.text("#accounts tbody").await.contains("sync1"));

    // Searching narrows the table to the user typed.
    let target = &users[3];
    browser.type_into("#search", &target.email).await;
    let shown = browser.text("#users tbody").await;
    assert!(shown.contains(&target.email), "{shown}");
    for other in users.iter().filter(|u| u.email != target.email) {
        assert!(!shown.contains(&other.email), "{} still shown", other.email);
    }
    assert_eq!(browser.text("#shown").await, format!("1 of {USERS}"));

    // The connector is down: the user's change is pending, with the connector's refusal.
    stage.sandbox.swyx.set_outage(Outage::Unavailable);
    let dnd = MAPPING_ROWS
        .iter()
        .find(|r| r.label == "Do not disturb (by hand)")
        .expect("the mapping table has the row");
    apply(&stage.sandbox.graph, &target.entra_id, dnd).unwrap();
    let pending = reload_until(
        &browser,
        &page,
        "#pending tbody",
        Duration::from_secs(30),
        |t| t.contains(&target.email) && !t.trim_end().ends_with('-'),
    )
    .await;
    assert!(pending.contains(&target.swyx_id), "{pending}");
    assert!(pending.contains("DoNotDisturb"), "{pending}");
    let errors = browser.text("#errors").await;
    assert!(
        errors.contains(&format!("delivery for {}", target.email)),
        "{errors}"
    );
    assert_ne!(browser.text("[data-total=pending] dd").await, "0");
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");
    if std::env::var("UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/admin-page.png");
        std::fs::write(&path, &png).unwrap();
        eprintln!("wrote {}", path.display());
    }

    // The outage ends: maintenance delivers it and the backlog empties.
    stage.sandbox.swyx.set_outage(Outage::None);
    reload_until(
        &browser,
        &page,
        "[data-total=pending] dd",
        Duration::from_secs(60),
        |t| t == "0",
    )
    .await;
    assert!(browser.text("#pending tbody").await.contains("none"));
    browser.quit().await;
    assert!(bridge.stop().expect("stops").success());
}
