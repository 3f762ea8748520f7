//! The scenario API: drives both emulated sides over HTTP on loopback (routes under `/_sandbox/`,
//! JSON in and out, errors as `{"error": "..."}`), plus a typed client ([`ScenarioClient`]) and the
//! human-readable scenario steps of the CLI ([`scenario`]).
//!
//! The Graph side is reached through the small [`GraphControl`] trait so this module does not
//! depend on how the Graph emulator is built.

mod client;
mod routes;
pub mod scenario;

pub use client::ScenarioClient;
pub use routes::control_router;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::swyx::{Outage, SwyxUserView};

/// What the scenario API needs from the Graph emulator.
pub trait GraphControl: Send + Sync + 'static {
    fn add_user(&self, id: &str, upn: &str, display_name: &str);
    /// A user setting a status by hand (setUserPreferredPresence semantics).
    fn set_preferred_presence(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()>;
    fn clear_preferred_presence(&self, user: &str) -> anyhow::Result<()>;
    /// A Teams client or meeting session (e.g. "teams-desktop" Busy/InACall).
    fn set_client_session(
        &self,
        user: &str,
        session_id: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()>;
    fn end_client_session(&self, user: &str, session_id: &str) -> anyhow::Result<()>;
    /// The aggregated presence as Graph's `GET /users/{id}/presence` would return it.
    fn presence_json(&self, user: &str) -> Option<serde_json::Value>;
    fn send_lifecycle(&self, subscription_id: &str, event: &str) -> anyhow::Result<()>;
    fn set_outage(&self, down: bool);
    /// Advances the sandbox clock (shared with the Swyx emulator) and lets Graph react to it.
    fn advance_clock(&self, by: std::time::Duration);
    fn stats_json(&self) -> serde_json::Value;
    /// The tenant's users, for `GET state`, `show` and resolving short names like "alice".
    /// The default (none known) passes user names through unresolved.
    fn users(&self) -> Vec<GraphUserRef> {
        Vec::new()
    }
}

/// The Graph emulator as the control API holds it.
pub type GraphHandleLike = Arc<dyn GraphControl>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUserRef {
    pub id: String,
    pub upn: String,
    pub display_name: String,
}

/// `GET /_sandbox/state`: both sides, all users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxState {
    /// Sandbox-clock time, RFC 3339.
    pub now: String,
    pub clock_offset_secs: u64,
    /// False when the sandbox runs without a Graph emulator.
    pub graph: bool,
    pub teams: Vec<TeamsUserState>,
    pub swyx: Vec<SwyxUserView>,
    pub swyx_outage: Outage,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsUserState {
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub presence: Option<serde_json::Value>,
}

/// A running control API; dropping it stops the server.
pub struct ControlServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl ControlServer {
    /// Base URL, e.g. `http://127.0.0.1:40125` (routes are under `/_sandbox/`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the scenario API on 127.0.0.1 with a free port. `graph` and `swyx` are expected to share
/// one [`crate::Clock`], as `presence-sandbox run` builds them.
pub async fn serve_control(
    graph: Option<GraphHandleLike>,
    swyx: crate::swyx::SwyxEmulator,
) -> anyhow::Result<ControlServer> {
    serve_control_on(graph, swyx, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

pub async fn serve_control_on(
    graph: Option<GraphHandleLike>,
    swyx: crate::swyx::SwyxEmulator,
    addr: SocketAddr,
) -> anyhow::Result<ControlServer> {
    use anyhow::Context as _;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the control API to {addr}"))?;
    let addr = listener.local_addr()?;
    let app = control_router(graph, swyx);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "control API stopped");
        }
    });
    Ok(ControlServer { addr, task })
}

/// Finds the one entry that `name` means: an exact id, else an exact e-mail/UPN (any case), else
/// a UPN that starts with `name` up to the `@` or beyond it ("alice", "alice@contoso").
pub(crate) fn resolve<'a>(
    name: &str,
    entries: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> Resolved {
    let entries: Vec<_> = entries.collect();
    if entries.iter().any(|(id, _)| *id == name) {
        return Resolved::One(name.to_string());
    }
    let lname = name.to_lowercase();
    let exact: Vec<_> = entries
        .iter()
        .filter(|(_, mail)| mail.is_some_and(|m| m.to_lowercase() == lname))
        .collect();
    if let [(id, _)] = exact.as_slice() {
        return Resolved::One(id.to_string());
    }
    let prefix: Vec<_> = entries
        .iter()
        .filter(|(_, mail)| {
            mail.is_some_and(|m| {
                let m = m.to_lowercase();
                m.starts_with(&lname) && (lname.contains('@') || m[lname.len()..].starts_with('@'))
            })
        })
        .collect();
    match prefix.as_slice() {
        [(id, _)] => Resolved::One(id.to_string()),
        [] => Resolved::None,
        many => Resolved::Ambiguous(many.iter().map(|(id, _)| id.to_string()).collect()),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    One(String),
    None,
    Ambiguous(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_ids_mail_and_short_names() {
        let users = [
            ("u1", Some("alice@contoso.com")),
            ("u2", Some("alicia@contoso.com")),
            ("u3", None),
        ];
        let r = |n: &str| resolve(n, users.iter().map(|(a, b)| (*a, *b)));
        assert_eq!(r("u3"), Resolved::One("u3".into()));
        assert_eq!(r("ALICE@contoso.com"), Resolved::One("u1".into()));
        assert_eq!(
            r("alice"),
            Resolved::One("u1".into()),
            "local part up to the @"
        );
        assert_eq!(r("alice@contoso"), Resolved::One("u1".into()));
        assert_eq!(
            r("ali"),
            Resolved::None,
            "a bare prefix of the local part is not enough"
        );
        assert_eq!(r("al"), Resolved::None);
        let dup = [("a", Some("x@one.com")), ("b", Some("x@two.com"))];
        assert_eq!(
            resolve("x", dup.iter().map(|(a, b)| (*a, *b))),
            Resolved::Ambiguous(vec!["a".into(), "b".into()])
        );
    }
}
