//! A typed client for the scenario API, for the CLI and for tests that drive a sandbox running as
//! another process.

use anyhow::Context as _;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;

use super::types::SandboxState;
use crate::swyx::{Outage, OwnStatus, SentEvent, SwyxUserView};

pub struct ScenarioClient {
    base: String,
    http: reqwest::Client,
}

/// Percent-encodes one path segment (user ids may hold '@', '/', spaces…).
pub(super) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ScenarioClient {
    /// `base` is the control server's URL, e.g. `http://127.0.0.1:40125`.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let base = base
            .trim()
            .trim_end_matches('/')
            .trim_end_matches("/_sandbox")
            .to_string();
        reqwest::Url::parse(&base).with_context(|| format!("bad control URL {base:?}"))?;
        let http = reqwest::Client::builder()
            .no_proxy() // loopback only
            // A call step waits for its event's delivery to the bridge (retries included).
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { base, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        let url = format!("{}/_sandbox/{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .with_context(|| format!("{method} {url}: reading the answer"))?;
        if !status.is_success() {
            let msg = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| text.chars().take(200).collect());
            anyhow::bail!("{method} /_sandbox/{path}: {} {msg}", status.as_u16());
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{method} /_sandbox/{path}: unexpected answer"))
    }

    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<()> {
        self.call::<Value>(method, path, body).await.map(|_| ())
    }

    pub async fn teams_add_user(
        &self,
        id: &str,
        upn: &str,
        display_name: &str,
    ) -> anyhow::Result<()> {
        let body = json!({ "id": id, "upn": upn, "displayName": display_name });
        self.send(Method::POST, "teams/users", Some(body)).await
    }

    /// The user sets a status by hand (preferred presence).
    pub async fn teams_set_presence(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()> {
        let body = json!({ "availability": availability, "activity": activity });
        self.send(
            Method::POST,
            &format!("teams/{}/presence", seg(user)),
            Some(body),
        )
        .await
    }

    pub async fn teams_clear_presence(&self, user: &str) -> anyhow::Result<()> {
        self.send(
            Method::DELETE,
            &format!("teams/{}/presence", seg(user)),
            None,
        )
        .await
    }

    pub async fn teams_set_session(
        &self,
        user: &str,
        session: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()> {
        let body = json!({ "availability": availability, "activity": activity });
        self.send(
            Method::POST,
            &format!("teams/{}/sessions/{}", seg(user), seg(session)),
            Some(body),
        )
        .await
    }

    pub async fn teams_end_session(&self, user: &str, session: &str) -> anyhow::Result<()> {
        self.send(
            Method::DELETE,
            &format!("teams/{}/sessions/{}", seg(user), seg(session)),
            None,
        )
        .await
    }

    /// The user's aggregated presence as Graph shows it.
    pub async fn teams_user(&self, user: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, &format!("teams/{}", seg(user)), None)
            .await
    }

    pub async fn swyx_add_user(
        &self,
        swyx_user_id: &str,
        name: &str,
        email: &str,
    ) -> anyhow::Result<()> {
        let body = json!({ "swyxUserId": swyx_user_id, "name": name, "email": email });
        self.send(Method::POST, "swyx/users", Some(body)).await
    }

    pub async fn swyx_users(&self) -> anyhow::Result<Vec<SwyxUserView>> {
        #[derive(serde::Deserialize)]
        struct Users {
            users: Vec<SwyxUserView>,
        }
        Ok(self
            .call::<Users>(Method::GET, "swyx/users", None)
            .await?
            .users)
    }

    pub async fn swyx_user(&self, user: &str) -> anyhow::Result<SwyxUserView> {
        self.call(Method::GET, &format!("swyx/{}", seg(user)), None)
            .await
    }

    /// Starts a call; returns its id once the `speaking.started` event (if any) was delivered or given up.
    pub async fn swyx_start_call(&self, user: &str) -> anyhow::Result<String> {
        let v: Value = self
            .call(Method::POST, &format!("swyx/{}/calls", seg(user)), None)
            .await?;
        v.get("callId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .context("the control API answered without a callId")
    }

    pub async fn swyx_end_call(&self, user: &str, call_id: &str) -> anyhow::Result<()> {
        self.send(
            Method::DELETE,
            &format!("swyx/{}/calls/{}", seg(user), seg(call_id)),
            None,
        )
        .await
    }

    /// The user sets their own status by hand.
    pub async fn swyx_set_status(&self, user: &str, status: OwnStatus) -> anyhow::Result<()> {
        self.swyx_change_status(user, status).await.map(|_| ())
    }

    /// The user sets their own status by hand; the `status.changed` event sent, if any.
    pub async fn swyx_change_status(
        &self,
        user: &str,
        status: OwnStatus,
    ) -> anyhow::Result<Option<SentEvent>> {
        #[derive(serde::Deserialize)]
        struct Changed {
            event: Option<SentEvent>,
        }
        let body = json!({ "status": status });
        let path = format!("swyx/{}/status", seg(user));
        Ok(self
            .call::<Changed>(Method::POST, &path, Some(body))
            .await?
            .event)
    }

    /// Adds (or renames, regroups) a Swyx user.
    pub async fn swyx_add_user_in_groups(
        &self,
        swyx_user_id: &str,
        name: &str,
        email: &str,
        groups: &[&str],
    ) -> anyhow::Result<()> {
        let body =
            json!({ "swyxUserId": swyx_user_id, "name": name, "email": email, "groups": groups });
        self.send(Method::POST, "swyx/users", Some(body)).await
    }

    /// Changes a Swyx user's e-mail (`Some(None)` removes it) and/or groups.
    pub async fn swyx_update_user(
        &self,
        user: &str,
        email: Option<Option<&str>>,
        groups: Option<&[&str]>,
    ) -> anyhow::Result<()> {
        let mut body = json!({});
        if let Some(e) = email {
            body["email"] = json!(e);
        }
        if let Some(g) = groups {
            body["groups"] = json!(g);
        }
        self.send(Method::PATCH, &format!("swyx/{}", seg(user)), Some(body))
            .await
    }

    pub async fn swyx_remove_user(&self, user: &str) -> anyhow::Result<()> {
        self.send(Method::DELETE, &format!("swyx/{}", seg(user)), None)
            .await
    }

    /// Whether statuses set by hand send `status.changed` (on by default).
    pub async fn swyx_status_events(&self, enabled: bool) -> anyhow::Result<()> {
        let body = json!({ "enabled": enabled });
        self.send(Method::POST, "swyx/status-events", Some(body))
            .await
    }

    /// Fault injection: while `lost`, call events are given up on without being sent.
    pub async fn swyx_lose_call_events(&self, lost: bool) -> anyhow::Result<()> {
        let body = json!({ "enabled": lost });
        self.send(Method::POST, "swyx/lose-call-events", Some(body))
            .await
    }

    /// `recover_after`: back to normal by itself after that long (whole seconds, at least 1).
    pub async fn swyx_outage(
        &self,
        mode: Outage,
        recover_after: Option<Duration>,
    ) -> anyhow::Result<()> {
        let body = json!({ "mode": mode, "seconds": recover_after.map(|d| d.as_secs().max(1)) });
        self.send(Method::POST, "swyx/outage", Some(body)).await
    }

    /// Where the emulated connector sends its call events.
    pub async fn swyx_set_bridge_url(&self, url: &str) -> anyhow::Result<()> {
        self.send(Method::POST, "swyx/bridge", Some(json!({ "url": url })))
            .await
    }

    pub async fn graph_outage(&self, down: bool) -> anyhow::Result<()> {
        self.send(Method::POST, "graph/outage", Some(json!({ "down": down })))
            .await
    }

    pub async fn graph_lifecycle(&self, subscription_id: &str, event: &str) -> anyhow::Result<()> {
        let body = json!({ "subscriptionId": subscription_id, "event": event });
        self.send(Method::POST, "graph/lifecycle", Some(body)).await
    }

    /// Moves the sandbox clock forward (whole seconds).
    pub async fn advance_clock(&self, by: Duration) -> anyhow::Result<()> {
        self.send(
            Method::POST,
            "clock/advance",
            Some(json!({ "seconds": by.as_secs() })),
        )
        .await
    }

    pub async fn state(&self) -> anyhow::Result<SandboxState> {
        self.call(Method::GET, "state", None).await
    }

    /// `{"swyx": SwyxStats, "graph": … | null, "swyxEvents": [SentEvent]}`.
    pub async fn stats(&self) -> anyhow::Result<Value> {
        self.call(Method::GET, "stats", None).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(super::seg("alice@contoso.com"), "alice@contoso.com");
        assert_eq!(super::seg("a/b c%"), "a%2Fb%20c%25");
    }
}
