//! What `swyx-connector status` and `GET /status` report: registration, subscriptions (active and
//! failing, with the reason), the outbox backlog, the directory and the last writer and delivery
//! errors. Components write their part; nothing here is secret.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Errors kept per kind: enough to see a pattern, bounded memory.
const KEEP_ERRORS: usize = 10;

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// `disabled`, `starting`, `registered` or `failing`.
    pub state: String,
    pub registered_until: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Watch {
    pub uri: String,
    /// `pending`, `active` or `failing`.
    pub state: String,
    /// Why it is failing (403: no status signalling right; 404: unknown to SwyxServer, …).
    pub reason: Option<String>,
    /// The last `<userstatus>` seen.
    pub presence: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEntry {
    pub at: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub registration: Registration,
    pub subscriptions_active: usize,
    pub subscriptions_failing: usize,
    pub subscriptions_pending: usize,
    pub watches: BTreeMap<String, Watch>,
    pub outbox_backlog: u64,
    pub directory_users: usize,
    pub directory_error: Option<String>,
    pub writer: String,
    pub writer_errors: VecDeque<ErrorEntry>,
    pub delivery_errors: VecDeque<ErrorEntry>,
    pub unknown_presence_values: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct StatusBoard {
    view: Mutex<StatusView>,
}

fn now_text() -> String {
    swyx_contract::wire::rfc3339_from_millis(crate::clock::now_ms())
}

fn push(list: &mut VecDeque<ErrorEntry>, message: String) {
    if list.len() == KEEP_ERRORS {
        list.pop_front();
    }
    list.push_back(ErrorEntry {
        at: now_text(),
        message,
    });
}

impl StatusBoard {
    pub fn update(&self, f: impl FnOnce(&mut StatusView)) {
        let mut v = self.view.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut v);
    }

    pub fn snapshot(&self) -> StatusView {
        let mut v = self.view.lock().unwrap_or_else(|e| e.into_inner()).clone();
        v.subscriptions_active = v.watches.values().filter(|w| w.state == "active").count();
        v.subscriptions_failing = v.watches.values().filter(|w| w.state == "failing").count();
        v.subscriptions_pending = v.watches.values().filter(|w| w.state == "pending").count();
        v
    }

    pub fn writer_error(&self, message: String) {
        self.update(|v| push(&mut v.writer_errors, message));
    }

    pub fn delivery_error(&self, message: String) {
        self.update(|v| push(&mut v.delivery_errors, message));
    }
}

/// `swyx-connector status`: reads `/status` from a running connector's admin listener.
pub async fn fetch_summary(admin: std::net::SocketAddr, raw_json: bool) -> anyhow::Result<String> {
    let host = if admin.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], admin.port()))
    } else {
        admin
    };
    let url = format!("http://{host}/status");
    let resp = reqwest::Client::new()
        .get(&url)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("no connector answers at {url} (is it running?): {e}"))?;
    let text = resp.text().await?;
    if raw_json {
        return Ok(format!("{text}\n"));
    }
    let v: serde_json::Value = serde_json::from_str(&text)?;
    Ok(summary(&v))
}

fn summary(v: &serde_json::Value) -> String {
    let s = |p: &str| {
        v.pointer(p).map_or("-".to_string(), |x| match x {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "-".into(),
            other => other.to_string(),
        })
    };
    let mut out = format!(
        "registration:   {} (until {}) {}\n\
         subscriptions:  {} active, {} failing, {} pending\n\
         outbox backlog: {}\n\
         directory:      {} users {}\n\
         writer:         {}\n",
        s("/registration/state"),
        s("/registration/registeredUntil"),
        s("/registration/lastError"),
        s("/subscriptionsActive"),
        s("/subscriptionsFailing"),
        s("/subscriptionsPending"),
        s("/outboxBacklog"),
        s("/directoryUsers"),
        s("/directoryError"),
        s("/writer"),
    );
    if let Some(w) = v.get("watches").and_then(|w| w.as_object()) {
        for (user, watch) in w.iter().filter(|(_, w)| w["state"] == "failing") {
            out.push_str(&format!(
                "  cannot watch {user} ({}): {}\n",
                watch["uri"].as_str().unwrap_or(""),
                watch["reason"].as_str().unwrap_or("")
            ));
        }
    }
    for (title, key) in [
        ("last writer errors", "writerErrors"),
        ("last delivery errors", "deliveryErrors"),
    ] {
        if let Some(list) = v
            .get(key)
            .and_then(|l| l.as_array())
            .filter(|l| !l.is_empty())
        {
            out.push_str(&format!("{title}:\n"));
            for e in list {
                out.push_str(&format!(
                    "  {} {}\n",
                    e["at"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                ));
            }
        }
    }
    out
}
