//! The page's HTML. Every value that reaches it from outside (user ids, e-mail addresses, error
//! texts, account names) goes through [`esc`].

use crate::domain::Timestamp;
use crate::status::{StatusReport, UserStatus, directions_text};
use crate::telemetry::recent::RecentEvent;
use std::fmt::Write as _;

/// HTML-escapes text for element content and quoted attribute values.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn when(t: Option<Timestamp>) -> String {
    t.map_or("-".to_string(), |t| {
        let s = t.to_rfc3339();
        s.get(..19).map_or(s.clone(), |p| p.replace('T', " "))
    })
}

fn opt(text: Option<&str>) -> String {
    text.map_or("-".to_string(), esc)
}

/// What the search box matches: the user's three ids and Swyx groups, lower case.
fn search_key(u: &UserStatus) -> String {
    format!(
        "{} {} {} {}",
        u.email,
        u.entra_id,
        u.swyx_user_id,
        u.groups.join(" ")
    )
    .to_lowercase()
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}\
.muted{color:#666}table{border-collapse:collapse;width:100%}\
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f4f4f4}dl{display:flex;flex-wrap:wrap;gap:.6em;margin:0}\
dl div{border:1px solid #ccc;border-radius:4px;padding:.4em .8em;min-width:7em}\
dt{color:#666;font-size:.85em}dd{margin:0;font-size:1.5em;font-weight:600}\
.bad{color:#a00}input{font-size:1em;padding:.3em;width:24em}";

/// Hides the rows whose ids do not contain the search text; the same rule as `?q=` on the server.
const SCRIPT: &str = "const box=document.getElementById('search');\
const rows=[...document.querySelectorAll('#users tbody tr')];\
function filter(){const q=box.value.trim().toLowerCase();let n=0;\
for(const r of rows){const show=r.dataset.search.includes(q);r.hidden=!show;if(show)n++;}\
document.getElementById('shown').textContent=n+' of '+rows.length;}\
box.addEventListener('input',filter);filter();";

pub(super) fn page(r: &StatusReport, recent: &[RecentEvent], query: &str) -> String {
    let mut h = String::with_capacity(8 * 1024 + r.users.len() * 512);
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width\">\
         <title>presence-bridge admin</title><style>{STYLE}</style></head><body>\
         <h1>presence-bridge</h1><p class=muted>Read-only; as of <span id=generated>{}</span> UTC. \
         Reload for the current state.</p>",
        when(Some(r.generated_at))
    );
    totals(&mut h, r);
    pending(&mut h, r);
    errors(&mut h, r);
    recent_warnings(&mut h, recent);
    accounts(&mut h, r);
    users(&mut h, r, query);
    let _ = write!(h, "<script>{SCRIPT}</script></body></html>");
    h
}

pub(super) fn unavailable() -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>presence-bridge admin</title>\
         <style>{STYLE}</style></head><body><h1>presence-bridge</h1>\
         <p class=bad>The store cannot be read right now (the cause is in the log).</p></body></html>"
    )
}

fn totals(h: &mut String, r: &StatusReport) {
    let t = &r.totals;
    h.push_str("<h2>Totals</h2><dl id=totals>");
    for (key, label, n) in [
        ("linked", "linked users", t.linked),
        ("covered", "covered", t.covered),
        ("uncovered", "not covered", t.uncovered),
        ("pending", "pending", t.pending),
        ("failing-accounts", "failing accounts", t.failing_accounts),
        ("in-a-call", "in a call", t.in_a_call),
    ] {
        let _ = write!(
            h,
            "<div data-total={key}><dt>{label}</dt><dd>{n}</dd></div>"
        );
    }
    h.push_str("</dl>");
}

fn pending(h: &mut String, r: &StatusReport) {
    h.push_str(
        "<h2>Pending deliveries to Swyx</h2><table id=pending><thead><tr><th>user</th>\
         <th>Swyx user</th><th>status</th><th>action</th><th>attempts</th><th>next attempt</th>\
         <th>last error</th></tr></thead><tbody>",
    );
    let mut any = false;
    for u in &r.users {
        let Some(p) = &u.pending else { continue };
        any = true;
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=bad>{}</td></tr>",
            esc(&u.email),
            esc(&u.swyx_user_id),
            u.swyx_status.map_or("none".to_string(), |s| s.to_string()),
            esc(&p.action),
            p.attempts,
            when(Some(p.next_attempt_at)),
            opt(p.last_error.as_deref()),
        );
    }
    if !any {
        h.push_str("<tr><td colspan=7 class=muted>none: the connector took every update</td></tr>");
    }
    h.push_str("</tbody></table>");
}

/// The errors standing now: each failing account's, each pending delivery's and each failing
/// Graph call's last error (the store keeps the last one of each, not a history).
fn errors(h: &mut String, r: &StatusReport) {
    h.push_str("<h2>Current errors</h2><ul id=errors>");
    let mut any = false;
    for a in &r.accounts {
        if let Some(e) = &a.last_error {
            any = true;
            let _ = write!(h, "<li>sync account {}: {}</li>", esc(&a.name), esc(e));
        }
    }
    for u in &r.users {
        if let Some(e) = u.pending.as_ref().and_then(|p| p.last_error.as_ref()) {
            any = true;
            let _ = write!(h, "<li>delivery for {}: {}</li>", esc(&u.email), esc(e));
        }
        if let Some(e) = &u.calls.graph_error {
            any = true;
            let _ = write!(h, "<li>Graph call for {}: {}</li>", esc(&u.email), esc(e));
        }
    }
    if !any {
        h.push_str("<li class=muted>none</li>");
    }
    h.push_str("</ul>");
}

/// What this process logged as a warning or error lately, newest first (its log has the rest).
fn recent_warnings(h: &mut String, recent: &[RecentEvent]) {
    let _ = write!(
        h,
        "<h2>Recent warnings <span class=muted>(this process, last {})</span></h2><ul id=recent>",
        crate::telemetry::recent::CAPACITY
    );
    for e in recent {
        let _ = write!(
            h,
            "<li><span class=muted>{} {}</span> {}: {}</li>",
            when(Some(e.at)),
            e.level,
            esc(&e.target),
            esc(&e.text)
        );
    }
    if recent.is_empty() {
        h.push_str("<li class=muted>none since the start</li>");
    }
    h.push_str("</ul>");
}

fn accounts(h: &mut String, r: &StatusReport) {
    h.push_str(
        "<h2>Sync accounts and subscriptions</h2><table id=accounts><thead><tr><th>account</th>\
         <th>users</th><th>subscription</th><th>expires</th><th>reconciled</th>\
         <th>last error</th></tr></thead><tbody>",
    );
    for a in &r.accounts {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=bad>{}</td></tr>",
            esc(&a.name),
            a.users,
            opt(a.subscription_id.as_deref()),
            when(a.expires_at),
            when(a.reconciled_at),
            opt(a.last_error.as_deref()),
        );
    }
    if r.accounts.is_empty() {
        h.push_str("<tr><td colspan=6 class=muted>no sync account</td></tr>");
    }
    h.push_str("</tbody></table>");
}

fn users(h: &mut String, r: &StatusReport, query: &str) {
    let q = query.trim().to_lowercase();
    let _ = write!(
        h,
        "<h2>Users (<span id=shown>{} of {}</span>)</h2>\
         <form method=get action=\"\"><label>Search (e-mail, Entra id or Swyx id) \
         <input id=search name=q type=search autocomplete=off value=\"{}\"></label></form>\
         <table id=users><thead><tr><th>e-mail</th><th>Entra id</th><th>Swyx id</th>\
         <th>account</th><th>Teams (last seen)</th><th>Swyx status</th><th>delivery</th>\
         <th>calls</th><th>syncs</th></tr></thead><tbody>",
        r.users
            .iter()
            .filter(|u| search_key(u).contains(&q))
            .count(),
        r.users.len(),
        esc(query),
    );
    for u in &r.users {
        let key = search_key(u);
        let hidden = if key.contains(&q) { "" } else { " hidden" };
        let teams = u.teams_seen.as_ref().map_or("never".to_string(), |t| {
            let ooo = if t.out_of_office { " OOO" } else { "" };
            format!(
                "{}/{}{} ({})",
                esc(t.availability.as_str()),
                esc(t.activity.as_str()),
                ooo,
                when(t.at)
            )
        });
        let account = match (&u.account, u.covered) {
            (Some(a), true) => esc(a),
            (Some(a), false) => format!("{} <span class=bad>(not covered)</span>", esc(a)),
            (None, _) => "<span class=bad>none</span>".to_string(),
        };
        let delivery = match &u.pending {
            None => "confirmed".to_string(),
            Some(p) if p.last_error.is_some() => "<span class=bad>failing</span>".to_string(),
            Some(_) => "pending".to_string(),
        };
        let calls = match u.calls.active {
            0 => "none".to_string(),
            n => format!("{n} active, Teams session {}", u.calls.teams_session),
        };
        let _ = write!(
            h,
            "<tr data-search=\"{}\"{hidden}><td>{}</td><td>{}</td><td>{}</td><td>{account}</td>\
             <td>{teams}</td><td>{}</td><td>{delivery}</td><td>{calls}</td><td>{}</td></tr>",
            esc(&key),
            esc(&u.email),
            esc(&u.entra_id),
            esc(&u.swyx_user_id),
            u.swyx_status.map_or("none".to_string(), |s| s.to_string()),
            esc(&directions_text(&u.directions, &u.own_switches)),
        );
    }
    h.push_str("</tbody></table>");
}
