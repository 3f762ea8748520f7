//! The page over real HTTP on loopback: the credential, the headers, the escaping.

use super::AdminCredential;
use crate::domain::Clock;
use crate::fakes::{FakeConnector, app};
use crate::store::{MemoryStore, UserLink, UserLinkStore};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::sync::Arc;

const TOKEN: &str = "0123456789abcdef-admin";
const HOSTILE: &str = "<script>alert('x')</script>\"@example.com";

async fn serve() -> String {
    let store = Arc::new(MemoryStore::new());
    store
        .put_user(&UserLink {
            entra_id: "e1".into(),
            swyx_user_id: "s1".into(),
            email: HOSTILE.into(),
            groups: vec!["Night shift".into()],
        })
        .await
        .unwrap();
    let app = Arc::new(app(
        store,
        Arc::new(FakeConnector::default()),
        Clock::system(),
    ));
    let routes = super::router(app, AdminCredential::new(TOKEN).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await });
    format!("http://{addr}/admin")
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", B64.encode(format!("{user}:{password}")))
}

#[tokio::test]
async fn without_the_credential_the_page_is_refused_and_never_cached() {
    let url = serve().await;
    let http = reqwest::Client::new();
    let wrong_length = format!("{TOKEN}x");
    let refused = [
        None,
        Some("Bearer wrong-token-of-some-length".to_string()),
        Some(format!("Bearer {wrong_length}")),
        Some(basic("admin", "0123456789abcdef-admiN")),
        Some(format!("Basic {}", B64.encode(TOKEN))), // no user:password form
        Some("Basic %%%".to_string()),
        Some(format!("Token {TOKEN}")),
    ];
    for auth in refused {
        let mut req = http.get(&url);
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{auth:?}");
        let challenges: Vec<_> = r.headers().get_all("www-authenticate").iter().collect();
        assert!(
            challenges
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("Basic ")),
            "{challenges:?}"
        );
        let body = r.text().await.unwrap();
        assert!(!body.contains("example.com"), "no data in a 401: {body}");
    }
}

#[tokio::test]
async fn with_the_credential_the_page_shows_escaped_values() {
    let url = serve().await;
    let http = reqwest::Client::new();
    for auth in [format!("Bearer {TOKEN}"), basic("anyone", TOKEN)] {
        let r = http
            .get(&url)
            .header("authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{auth}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        let body = r.text().await.unwrap();
        assert!(!body.contains("<script>alert"), "unescaped: {body}");
        assert!(
            body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;@example.com"),
            "{body}"
        );
        assert!(body.contains("<div data-total=linked><dt>linked users</dt><dd>1</dd>"));
    }
    // A hostile search text is escaped too, back in the search box.
    let r = http
        .get(format!("{url}?q=%22%3E%3Cb%3Ex"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("value=\"&quot;&gt;&lt;b&gt;x\""), "{body}");
    assert!(body.contains("<span id=shown>0 of 1</span>"), "{body}");
    // A Swyx group finds its members.
    let r = http
        .get(format!("{url}?q=night"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("<span id=shown>1 of 1</span>"), "{body}");
}

#[test]
fn a_short_token_is_refused_and_never_shown() {
    assert_eq!(
        AdminCredential::new("short\n").unwrap_err(),
        super::CredentialError::TooShort
    );
    let c = AdminCredential::new(TOKEN).unwrap();
    assert!(!format!("{c:?}").contains("0123"));
}

#[tokio::test]
async fn recent_warnings_of_the_process_are_listed_escaped() {
    use tracing_subscriber::layer::SubscriberExt;
    let url = serve().await;
    // What `telemetry::init` wires up for `serve`: warnings go to the process's ring too.
    let subscriber =
        tracing_subscriber::registry().with(crate::telemetry::recent::global().layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(swyx_user = "<b>1001</b>", "delivery failed; kept pending");
    });
    let body = reqwest::Client::new()
        .get(&url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("delivery failed; kept pending swyx_user=&lt;b&gt;1001&lt;/b&gt;"),
        "{body}"
    );
    assert!(!body.contains("<b>1001"), "unescaped: {body}");
}
