//! What the demo's day showed: the figures a person checks, whether the day passed
//! ([`DemoReport::ok`]), and the closing table the `demo` command prints.

use crate::metrics::{LatencySummary, MetricsSnapshot};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    pub users: usize,
    pub consistent: usize,
    pub inconsistent: Vec<String>,
    pub subscriptions: usize,
    pub sync_accounts: usize,
    pub teams_changes: usize,
    pub forwarded_to_swyx: u64,
    pub pending_during_outage: u64,
    pub pending_at_end: u64,
    pub bridge: MetricsSnapshot,
    /// Teams change in the emulated tenant → status applied at the emulated connector.
    pub end_to_end: LatencySummary,
    pub graph_notifications_delivered: u64,
    pub graph_slow_answers: u64,
    /// Swyx call started → Teams shows In a call (Busy/InACall) in the emulated tenant.
    pub swyx_to_teams: LatencySummary,
    pub calls_made: usize,
    /// Callers who had set Do not disturb by hand and still show it during the call.
    pub dnd_kept: usize,
    /// Swyx slots that turned Speaking because of the bridge's own "In a call" (must be 0).
    pub echoes: usize,
    /// Callers whose "In a call" was cleared after the call.
    pub calls_cleared: usize,
    pub bridge_peak_rss_kib: Option<u64>,
    pub bridge_stopped_cleanly: bool,
    pub elapsed: Duration,
    /// `presence-bridge accounts list` at the end of the day.
    pub accounts_listing: String,
}

impl DemoReport {
    pub fn ok(&self) -> bool {
        self.consistent == self.users
            && self.pending_at_end == 0
            && self.bridge_stopped_cleanly
            && self.echoes == 0
            && self.calls_cleared == self.calls_made
            && self.swyx_to_teams.samples + self.dnd_kept == self.calls_made
    }

    pub fn table(&self) -> String {
        let rss = self.bridge_peak_rss_kib.map_or("n/a".to_string(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        });
        let rows = [
            (
                "users consistent",
                format!("{}/{}", self.consistent, self.users),
            ),
            (
                "sync accounts / subscriptions",
                format!("{} / {}", self.sync_accounts, self.subscriptions),
            ),
            ("Teams changes made", self.teams_changes.to_string()),
            (
                "Graph notifications delivered",
                format!(
                    "{} ({} slow answers)",
                    self.graph_notifications_delivered, self.graph_slow_answers
                ),
            ),
            (
                "changes forwarded to Swyx",
                self.forwarded_to_swyx.to_string(),
            ),
            (
                "pending during the outage → at the end",
                format!("{} → {}", self.pending_during_outage, self.pending_at_end),
            ),
            (
                "Teams → Swyx, bridge (POST in → connector request) p50 / p99",
                format!(
                    "{:.2} ms / {:.2} ms  ({} samples)",
                    self.bridge.forward_latency.p50_ms,
                    self.bridge.forward_latency.p99_ms,
                    self.bridge.forward_latency.samples
                ),
            ),
            (
                "Teams → Swyx, end to end (Teams change → Swyx applied) p50 / p99",
                format!(
                    "{:.1} ms / {:.1} ms  ({} samples)",
                    self.end_to_end.p50_ms, self.end_to_end.p99_ms, self.end_to_end.samples
                ),
            ),
            (
                "Swyx → Teams (call start → Teams In a call) p50 / p99",
                format!(
                    "{:.1} ms / {:.1} ms  ({} calls)",
                    self.swyx_to_teams.p50_ms,
                    self.swyx_to_teams.p99_ms,
                    self.swyx_to_teams.samples
                ),
            ),
            (
                "calls: DND kept / echoes / cleared after the call",
                format!(
                    "{} / {} / {}/{}",
                    self.dnd_kept, self.echoes, self.calls_cleared, self.calls_made
                ),
            ),
            ("bridge peak RSS (serve)", rss),
            (
                "bridge stopped cleanly on SIGTERM",
                if self.bridge_stopped_cleanly {
                    "yes"
                } else {
                    "NO"
                }
                .to_string(),
            ),
            ("elapsed", format!("{:.1} s", self.elapsed.as_secs_f64())),
        ];
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            out.push_str(&format!("{k:<width$}  {v}\n"));
        }
        for who in self.inconsistent.iter().take(10) {
            out.push_str(&format!("INCONSISTENT: {who}\n"));
        }
        if !self.accounts_listing.is_empty() {
            out.push_str("\nSync accounts and subscriptions (presence-bridge accounts list):\n");
            out.push_str(&self.accounts_listing);
        }
        out
    }
}
