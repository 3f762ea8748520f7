//! What the demo's day showed: the figures a person checks, whether the day passed
//! ([`DemoReport::ok`]), and the closing table the `demo` command prints.

use super::latency::LatencySummary;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    /// The Swyx side was the real `swyx-connector` (with the SIP stand-in), not the emulated one.
    pub via_connector: bool,
    pub users: usize,
    pub consistent: usize,
    pub inconsistent: Vec<String>,
    pub subscriptions: usize,
    pub sync_accounts: usize,
    pub teams_changes: usize,
    pub forwarded_to_swyx: u64,
    pub pending_during_outage: u64,
    pub pending_at_end: u64,
    /// The bridge's own Teams → Swyx latency histogram, read from its `/metrics`.
    pub bridge_forward: LatencySummary,
    /// Teams change in the emulated tenant → status applied at the emulated connector.
    pub end_to_end: LatencySummary,
    pub graph_notifications_delivered: u64,
    pub graph_slow_answers: u64,
    /// The machine's 1/5/15-minute load average at the end (`/proc/loadavg`), when known.
    pub load_average: Option<String>,
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
    /// Via the connector: Teams changes that mapped to a new Swyx status, and how many of them
    /// the connector's writer was handed.
    pub writer_expected: usize,
    pub writer_seen: usize,
    pub connector_peak_rss_kib: Option<u64>,
    pub connector_stopped_cleanly: bool,
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
            && (!self.via_connector
                || (self.writer_seen == self.writer_expected && self.connector_stopped_cleanly))
    }

    pub fn table(&self) -> String {
        let mib = |kib: Option<u64>| {
            kib.map_or("n/a".to_string(), |k| {
                format!("{:.1} MiB", k as f64 / 1024.0)
            })
        };
        let yes_no = |b: bool| if b { "yes" } else { "NO" }.to_string();
        let mut rows = Vec::new();
        if self.via_connector {
            rows.push((
                "Swyx side",
                "via the real swyx-connector (SIP stand-in for SwyxServer)".to_string(),
            ));
        }
        rows.push((
            "users consistent",
            format!("{}/{}", self.consistent, self.users),
        ));
        rows.push((
            "sync accounts / subscriptions",
            format!("{} / {}", self.sync_accounts, self.subscriptions),
        ));
        rows.push(("Teams changes made", self.teams_changes.to_string()));
        rows.push((
            "Graph notifications delivered",
            format!(
                "{} ({} slow answers)",
                self.graph_notifications_delivered, self.graph_slow_answers
            ),
        ));
        if self.via_connector {
            rows.push((
                "changes handed to the connector's writer",
                self.forwarded_to_swyx.to_string(),
            ));
            rows.push((
                "Teams changes the writer saw / expected",
                format!("{}/{}", self.writer_seen, self.writer_expected),
            ));
            rows.push(("pending at the end", self.pending_at_end.to_string()));
        } else {
            rows.push((
                "changes forwarded to Swyx",
                self.forwarded_to_swyx.to_string(),
            ));
            rows.push((
                "pending during the outage → at the end",
                format!("{} → {}", self.pending_during_outage, self.pending_at_end),
            ));
        }
        rows.push((
            "Teams → Swyx, bridge (POST in → connector took it) p50 / p99",
            format!(
                "{:.2} ms / {:.2} ms  ({} samples, /metrics histogram)",
                self.bridge_forward.p50_ms, self.bridge_forward.p99_ms, self.bridge_forward.samples
            ),
        ));
        rows.push((
            if self.via_connector {
                "Teams → Swyx, end to end (Teams change → writer ran) p50 / p99"
            } else {
                "Teams → Swyx, end to end (Teams change → Swyx applied) p50 / p99"
            },
            format!(
                "{:.1} ms / {:.1} ms  ({} samples)",
                self.end_to_end.p50_ms, self.end_to_end.p99_ms, self.end_to_end.samples
            ),
        ));
        rows.push((
            if self.via_connector {
                "Swyx → Teams (SIP NOTIFY active → Teams In a call) p50 / p99"
            } else {
                "Swyx → Teams (call start → Teams In a call) p50 / p99"
            },
            format!(
                "{:.1} ms / {:.1} ms  ({} calls)",
                self.swyx_to_teams.p50_ms, self.swyx_to_teams.p99_ms, self.swyx_to_teams.samples
            ),
        ));
        rows.push((
            "calls: DND kept / echoes / cleared after the call",
            format!(
                "{} / {} / {}/{}",
                self.dnd_kept, self.echoes, self.calls_cleared, self.calls_made
            ),
        ));
        rows.push(("bridge peak RSS (serve)", mib(self.bridge_peak_rss_kib)));
        rows.push((
            "bridge stopped cleanly on SIGTERM",
            yes_no(self.bridge_stopped_cleanly),
        ));
        if self.via_connector {
            rows.push(("connector peak RSS", mib(self.connector_peak_rss_kib)));
            rows.push((
                "connector stopped cleanly on SIGTERM",
                yes_no(self.connector_stopped_cleanly),
            ));
        }
        rows.push(("elapsed", format!("{:.1} s", self.elapsed.as_secs_f64())));
        if let Some(load) = &self.load_average {
            rows.push(("machine load average (1/5/15 min)", load.clone()));
        }
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
