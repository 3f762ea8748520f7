//! The running demo: the sandbox, the bridge and the linked users, and how the demo judges them —
//! what Swyx should show for a user (the mapping of the aggregated Teams presence) against what
//! the emulated connector holds, or what the real connector last handed its writer.

use super::bridge_process::BridgeProcess;
use super::latency::{LatencySummary, summarize};
use super::writer_log::WriterLog;
use crate::domain::{MappedStatus, MappingRules, TeamsPresence};
use anyhow::Context;
use presence_sandbox::Sandbox;
use std::time::{Duration, Instant};

/// One person on both sides.
#[derive(Debug, Clone)]
pub struct DemoUser {
    pub entra_id: String,
    pub swyx_id: String,
    pub email: String,
}

impl DemoUser {
    /// The `i`-th demo user: a recognisable Entra id and Swyx ids from 1000 on.
    pub fn numbered(i: usize) -> Self {
        Self {
            entra_id: format!("d0d0d0d0-0000-4000-8000-{i:012x}"),
            swyx_id: format!("{}", 1000 + i),
            email: format!("user{i}@contoso.example"),
        }
    }
}

pub struct World {
    pub sandbox: Sandbox,
    pub bridge: BridgeProcess,
    pub users: Vec<DemoUser>,
    pub rules: MappingRules,
    pub swyx: SwyxView,
}

/// Where the demo reads what the Swyx side shows.
pub enum SwyxView {
    /// The sandbox's emulated connector.
    Emulated,
    /// The real connector's writer: what it was last handed per user.
    Writer(WriterLog),
}

/// How often the demo looks again while it waits for a condition.
const POLL: Duration = Duration::from_millis(10);
/// How long Graph's deliveries must stand still to count as done.
const QUIET: Duration = Duration::from_millis(200);
/// Asking the bridge for its pending count costs a store count (a DynamoDB query): less often.
const PENDING_POLL: Duration = Duration::from_millis(50);

impl World {
    /// What the Swyx side should show: the mapping of the user's aggregated Teams presence.
    pub fn expected(&self, user: &DemoUser) -> Option<String> {
        let p = self.sandbox.graph.presence(&user.entra_id)?;
        let presence =
            TeamsPresence::new(&p.availability, &p.activity).with_out_of_office(p.out_of_office);
        match self.rules.map(&presence) {
            MappedStatus::Swyx(s) => Some(s.to_string()),
            MappedStatus::NoSync => None,
        }
    }

    /// The Teams-derived status the Swyx side holds for the user.
    pub fn actual(&self, user: &DemoUser) -> Option<String> {
        match &self.swyx {
            SwyxView::Emulated => self.emulated_status(user),
            SwyxView::Writer(log) => WriterLog::status_of(&log.lines(), &user.swyx_id),
        }
    }

    fn emulated_status(&self, user: &DemoUser) -> Option<String> {
        self.sandbox
            .swyx
            .user(&user.swyx_id)
            .and_then(|u| u.teams)
            .and_then(|t| t.status)
            .map(|s| format!("{s:?}"))
    }

    /// How many users are consistent, and a line for each who is not.
    pub fn check(&self) -> (usize, Vec<String>) {
        // The writer's file is read once per check, not once per user.
        let written = match &self.swyx {
            SwyxView::Writer(log) => Some(log.lines()),
            SwyxView::Emulated => None,
        };
        let mut ok = 0;
        let mut bad = Vec::new();
        for user in &self.users {
            let got = match &written {
                Some(lines) => WriterLog::status_of(lines, &user.swyx_id),
                None => self.emulated_status(user),
            };
            let want = self.expected(user);
            if want == got {
                ok += 1;
            } else {
                bad.push(format!(
                    "{} ↔ {}: Teams maps to {want:?}, Swyx shows {got:?}",
                    user.entra_id, user.swyx_id
                ));
            }
        }
        (ok, bad)
    }

    /// Waits until every user is consistent or `within` has passed (the final check reports who
    /// is not).
    pub async fn wait_consistent(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.check().0 < self.users.len() && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until Graph has no notification queued for the bridge and none in flight (its count
    /// of delivery POSTs stood still for a moment), at most 10 s: whatever Teams showed until now
    /// has reached the bridge.
    pub async fn wait_graph_quiet(&self) {
        let url = self.bridge.url("/graph/notifications");
        let graph = &self.sandbox.graph;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = (graph.stats().delivery_posts, Instant::now());
        while Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
            let posts = graph.stats().delivery_posts;
            if posts != last.0 || graph.pending_notifications(&url) > 0 {
                last = (posts, Instant::now());
            } else if last.1.elapsed() >= QUIET {
                return;
            }
        }
    }

    /// The bridge's pending deliveries, from its health endpoint.
    pub async fn pending(&self) -> anyhow::Result<u64> {
        let v: serde_json::Value = reqwest::get(self.bridge.url("/healthz"))
            .await?
            .json()
            .await?;
        v["pendingDeliveries"].as_u64().context("pendingDeliveries")
    }

    /// Polls the pending count until `done` says so or `within` has passed; the last count.
    pub async fn wait_pending(&self, within: Duration, done: impl Fn(u64) -> bool) -> Option<u64> {
        let deadline = Instant::now() + within;
        loop {
            let count = self.pending().await.ok();
            if count.is_some_and(&done) || Instant::now() > deadline {
                return count;
            }
            tokio::time::sleep(PENDING_POLL).await;
        }
    }
}

/// Teams change → status applied at the connector, per user, for changes that reached Swyx as a
/// new status.
#[derive(Debug, Default)]
pub struct ChangeLatencies {
    changed_at_ms: Vec<Option<i64>>,
    samples_us: Vec<u64>,
}

impl ChangeLatencies {
    pub fn new(users: usize) -> Self {
        Self {
            changed_at_ms: vec![None; users],
            samples_us: Vec::new(),
        }
    }

    /// User `i` changed their Teams presence at `at_ms` (sandbox clock).
    pub fn changed(&mut self, i: usize, at_ms: i64) {
        self.changed_at_ms[i] = Some(at_ms);
    }

    /// Takes a sample for every user whose last change has since been applied at the connector.
    pub fn collect(&mut self, world: &World) {
        for (i, user) in world.users.iter().enumerate() {
            let Some(changed_at) = self.changed_at_ms[i].take() else {
                continue;
            };
            if let Some(applied) = world
                .sandbox
                .swyx
                .user(&user.swyx_id)
                .and_then(|u| u.teams)
                .map(|t| t.applied_at_ms)
                && applied >= changed_at
            {
                self.samples_us.push(((applied - changed_at) * 1000) as u64);
            }
        }
    }

    pub fn summary(mut self) -> LatencySummary {
        self.samples_us.sort_unstable();
        summarize(&self.samples_us)
    }
}
