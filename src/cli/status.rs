//! `presence-bridge status [--user ID|EMAIL] [--json]`: every linked user's state from the store
//! (`crate::status`), as a table, one user in detail, or JSON for scripts.

use crate::domain::{Directions, Timestamp};
use crate::status::{StatusReport, UserStatus, Which, directions_text, read};
use crate::store::Store;
use std::fmt::Write as _;

/// Reads the report; with `--user`, fails when no linked user matches.
pub async fn run(
    store: &dyn Store,
    user: Option<&str>,
    json: bool,
    now: Timestamp,
    global: Directions,
) -> anyhow::Result<String> {
    let which = user.map_or(Which::All, |u| Which::One(u.to_string()));
    let report = read(store, &which, now, global).await?;
    if let Some(key) = user
        && report.users.is_empty()
    {
        anyhow::bail!(
            "no linked user matches {key:?} (an Entra object id, a Swyx user id or an e-mail address)"
        );
    }
    if json {
        return Ok(serde_json::to_string_pretty(&report)? + "\n");
    }
    Ok(match user {
        Some(_) => header(&report) + &report.users.iter().map(detail).collect::<String>(),
        None => header(&report) + &table(&report),
    })
}

fn header(r: &StatusReport) -> String {
    let t = &r.totals;
    let mut text = format!(
        "linked {} · covered {} · uncovered {} · pending {} · failing sync accounts {} · in a call {}\n",
        t.linked, t.covered, t.uncovered, t.pending, t.failing_accounts, t.in_a_call
    );
    for a in &r.accounts {
        let _ = writeln!(
            text,
            "sync account {:<20} {:>4} users  subscription {}  expires {}  reconciled {}{}",
            a.name,
            a.users,
            a.subscription_id.as_deref().unwrap_or("none"),
            when(a.expires_at),
            when(a.reconciled_at),
            a.last_error
                .as_deref()
                .map(|e| format!("  last error: {e}"))
                .unwrap_or_default()
        );
    }
    text.push('\n');
    text
}

fn table(r: &StatusReport) -> String {
    let mut text = format!(
        "{:<36}  {:<12}  {:<7}  {:<30}  {:<16}  {:<10}  {:<24}  {}\n",
        "entra id",
        "swyx id",
        "covered",
        "teams (seen)",
        "swyx status",
        "delivery",
        "calls",
        "syncs (* = own switch)"
    );
    for u in &r.users {
        let _ = writeln!(
            text,
            "{:<36}  {:<12}  {:<7}  {:<30}  {:<16}  {:<10}  {:<24}  {}",
            u.entra_id,
            u.swyx_user_id,
            if u.covered { "yes" } else { "NO" },
            teams(u),
            swyx(u),
            delivery(u),
            calls(u),
            syncs_short(u)
        );
    }
    text
}

/// "T→S S→T* -": the directions on, `-` for one off, `*` for the user's own switch.
fn syncs_short(u: &UserStatus) -> String {
    let (d, own) = (&u.directions, &u.own_switches);
    [
        ("T→S", d.teams_to_swyx, own.teams_to_swyx.is_some()),
        ("S→T", d.swyx_to_teams, own.swyx_to_teams.is_some()),
        (
            "DND→T",
            d.swyx_status_to_teams,
            own.swyx_status_to_teams.is_some(),
        ),
    ]
    .iter()
    .map(|(name, on, own)| {
        let name = if *on { *name } else { "-" };
        format!("{name}{}", if *own { "*" } else { "" })
    })
    .collect::<Vec<_>>()
    .join(" ")
}

fn detail(u: &UserStatus) -> String {
    let pending = u.pending.as_ref().map_or("none".to_string(), |p| {
        format!(
            "{} ({} attempts, next {}{})",
            p.action,
            p.attempts,
            when(Some(p.next_attempt_at)),
            p.last_error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        )
    });
    let rows = [
        ("Entra id", u.entra_id.clone()),
        ("Swyx user id", u.swyx_user_id.clone()),
        ("e-mail", u.email.clone()),
        (
            "Swyx groups",
            if u.groups.is_empty() {
                "-".to_string()
            } else {
                u.groups.join(", ")
            },
        ),
        ("sync account", u.account.clone().unwrap_or("none".into())),
        (
            "subscription",
            format!(
                "{} (expires {})",
                if u.covered {
                    "covers the user"
                } else {
                    "does NOT cover the user"
                },
                when(u.subscription_expires_at)
            ),
        ),
        ("Teams presence seen", teams(u)),
        ("Swyx status set", swyx(u)),
        ("delivery", delivery(u)),
        ("pending", pending),
        ("calls", calls(u)),
        ("syncs", directions_text(&u.directions, &u.own_switches)),
    ];
    let mut text = String::new();
    for (label, value) in rows {
        let _ = writeln!(text, "{label:<20} {value}");
    }
    text.push('\n');
    text
}

fn teams(u: &UserStatus) -> String {
    u.teams_seen.as_ref().map_or("never".to_string(), |t| {
        let ooo = if t.out_of_office { " OOO" } else { "" };
        format!("{}/{}{} ({})", t.availability, t.activity, ooo, when(t.at))
    })
}

fn swyx(u: &UserStatus) -> String {
    u.swyx_status.map_or("none".to_string(), |s| s.to_string())
}

fn delivery(u: &UserStatus) -> String {
    match &u.pending {
        None => "confirmed".to_string(),
        Some(p) if p.last_error.is_some() => "FAILING".to_string(),
        Some(_) => "pending".to_string(),
    }
}

fn calls(u: &UserStatus) -> String {
    let c = &u.calls;
    let mut text = match c.active {
        0 => "none".to_string(),
        n => format!("{n} active"),
    };
    if c.teams_session != "none" {
        let _ = write!(
            text,
            ", Teams session {} until {}",
            c.teams_session,
            when(c.session_expires_at)
        );
    }
    if let Some(e) = &c.graph_error {
        let _ = write!(text, ", Graph failing: {e}");
    }
    text
}

fn when(t: Option<Timestamp>) -> String {
    t.map_or("-".to_string(), |t| {
        let s = t.to_rfc3339();
        s.get(..19).map_or(s.clone(), |p| p.replace('T', " "))
    })
}
