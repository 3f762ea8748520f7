//! Human-readable scenario steps for `presence-sandbox scenario`, e.g. `"teams alice DoNotDisturb"`,
//! `"swyx 101 call start"`, `"connector down 60s"`, `"clock +30m"`, `"show"`. Every step is parsed
//! before any runs, so a typo in step 5 does not leave a half-played scenario.

mod directory;
mod parse;

pub use directory::DirectoryStep;
pub use parse::{DESKTOP_SESSION, STEP_HELP, Step, is_user_settable, parse_step, parse_steps};

use std::io::Write;

use super::client::ScenarioClient;
use super::types::SandboxState;

/// Runs parsed steps against a sandbox, writing one line per step (and tables for `show`).
pub async fn run_steps<W: Write>(
    client: &ScenarioClient,
    steps: &[Step],
    out: &mut W,
) -> anyhow::Result<()> {
    for (i, step) in steps.iter().enumerate() {
        let done = run_one(client, step, out)
            .await
            .map_err(|e| anyhow::anyhow!("step {} \"{step}\" failed: {e:#}", i + 1))?;
        writeln!(out, "[{}] {done}", i + 1)?;
    }
    Ok(())
}

async fn run_one<W: Write>(c: &ScenarioClient, step: &Step, out: &mut W) -> anyhow::Result<String> {
    Ok(match step {
        Step::TeamsStatus {
            user,
            availability,
            activity,
        } if is_user_settable(availability, activity) => {
            c.teams_set_presence(user, availability, activity).await?;
            format!("teams {user}: preferred presence {availability}/{activity}")
        }
        Step::TeamsStatus {
            user,
            availability,
            activity,
        } => {
            c.teams_set_session(user, DESKTOP_SESSION, availability, activity)
                .await?;
            format!("teams {user}: session {DESKTOP_SESSION} {availability}/{activity}")
        }
        Step::TeamsClear { user } => {
            c.teams_clear_presence(user).await?;
            format!("teams {user}: preferred presence cleared")
        }
        Step::TeamsSession {
            user,
            session,
            availability,
            activity,
        } => {
            c.teams_set_session(user, session, availability, activity)
                .await?;
            format!("teams {user}: session {session} {availability}/{activity}")
        }
        Step::TeamsSessionEnd { user, session } => {
            c.teams_end_session(user, session).await?;
            format!("teams {user}: session {session} ended")
        }
        Step::TeamsAdd { id, upn, name } => {
            c.teams_add_user(id, upn, name).await?;
            format!("teams: added {upn} ({id})")
        }
        Step::SwyxAdd { id, email, name } => {
            c.swyx_add_user(id, name, email).await?;
            format!("swyx: added {id} {email}")
        }
        Step::SwyxCallStart { user } => format!(
            "swyx {user}: call {} started",
            c.swyx_start_call(user).await?
        ),
        Step::SwyxCallEnd { user, call_id } => {
            let call_id = match call_id {
                Some(id) => id.clone(),
                None => {
                    let view = c.swyx_user(user).await?;
                    view.active_calls
                        .last()
                        .cloned()
                        .ok_or_else(|| anyhow::anyhow!("Swyx user {user} has no active call"))?
                }
            };
            c.swyx_end_call(user, &call_id).await?;
            format!("swyx {user}: call {call_id} ended")
        }
        Step::SwyxStatus { user, status } => {
            c.swyx_set_status(user, *status).await?;
            format!("swyx {user}: own status {status:?}")
        }
        Step::Connector { mode, lasts } => {
            c.swyx_outage(*mode, *lasts).await?;
            match lasts {
                Some(d) => format!("connector: {mode:?} for {}s", d.as_secs()),
                None => format!("connector: {mode:?}"),
            }
        }
        Step::GraphOutage { down } => {
            c.graph_outage(*down).await?;
            format!("graph: {}", if *down { "down" } else { "up" })
        }
        Step::GraphLifecycle {
            subscription_id,
            event,
        } => {
            c.graph_lifecycle(subscription_id, event).await?;
            format!("graph: {event} sent for {subscription_id}")
        }
        Step::Clock(d) => {
            c.advance_clock(*d).await?;
            format!("clock: +{}s", d.as_secs())
        }
        Step::Show => {
            out.write_all(render_state(&c.state().await?).as_bytes())?;
            "show".to_string()
        }
        Step::Stats => {
            writeln!(out, "{}", serde_json::to_string_pretty(&c.stats().await?)?)?;
            "stats".to_string()
        }
        Step::Directory(d) => directory::run(c, d).await?,
    })
}

/// One table of both sides, rows paired by Swyx e-mail = Teams UPN (how the bridge links users).
pub fn render_state(s: &SandboxState) -> String {
    let mut rows = vec![
        [
            "SWYX",
            "NAME",
            "EMAIL / UPN",
            "TEAMS PRESENCE",
            "SWYX OWN",
            "TEAMS SLOT",
            "CALLS",
            "SWYX SHOWS",
        ]
        .map(String::from),
    ];
    let presence = |p: &Option<serde_json::Value>| match p {
        Some(v) => {
            let f = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?").to_string();
            format!("{}/{}", f("availability"), f("activity"))
        }
        None => "-".into(),
    };
    let mut paired = vec![false; s.teams.len()];
    for u in &s.swyx {
        let email = u.email.clone().unwrap_or_default();
        let teams = s
            .teams
            .iter()
            .position(|t| !email.is_empty() && t.upn.eq_ignore_ascii_case(&email));
        if let Some(i) = teams {
            paired[i] = true;
        }
        let slot = match &u.teams {
            Some(t) => format!(
                "{} r{}",
                t.status.map_or("withdrawn".into(), |x| format!("{x:?}")),
                t.revision
            ),
            None => "-".into(),
        };
        rows.push([
            u.swyx_user_id.clone(),
            u.name.clone(),
            if email.is_empty() { "-".into() } else { email },
            teams.map_or("-".into(), |i| presence(&s.teams[i].presence)),
            format!("{:?}", u.own_status),
            slot,
            u.active_calls.len().to_string(),
            u.effective_status.to_string(),
        ]);
    }
    for (t, _) in s.teams.iter().zip(&paired).filter(|(_, p)| !**p) {
        let dash = || "-".to_string();
        rows.push([
            dash(),
            t.display_name.clone(),
            t.upn.clone(),
            presence(&t.presence),
            dash(),
            dash(),
            dash(),
            dash(),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "sandbox time {} | connector {:?} | graph {}\n",
        s.now,
        s.swyx_outage,
        if s.graph { "emulated" } else { "absent" }
    );
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
