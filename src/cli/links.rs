//! `presence-bridge users sync|link|unlink|include`: automatic linking by e-mail address and the
//! operator's word over it. `sync` prints its plan (with `--json`, all of it); `link` makes a
//! manual link (a sync never undoes it); `unlink` removes a link and keeps the Swyx user out of
//! automatic linking until `link` or `include`.

use super::users::user_of;
use crate::app::App;
use crate::config::Config;
use crate::domain::linking::{MatchedOn, Refusal, SkipReason, UnlinkReason};
use crate::store::{LinkMark, LinkMarkKind, Store, StoreError};
use crate::users_sync::{self, SyncReport, apply::unlink_user};
use std::io::Write;
use std::time::Duration;

/// A sync by hand may take its time: 10,000 users are a few seconds of Graph and the connector.
const CLI_BUDGET: Duration = Duration::from_secs(30 * 60);
/// Graph and connector time for one `users unlink`.
const UNLINK_BUDGET: Duration = Duration::from_secs(5);

/// `users sync`: plans (and unless `dry_run` carries out) and reports to `out`.
pub async fn sync(
    cfg: &Config,
    dry_run: bool,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let app = App::from_config(cfg).await?;
    let report = users_sync::sync(&app, dry_run, CLI_BUDGET).await?;
    write_report(&report, json, out)
}

/// The summary line and one line per link, unlink and refusal; or the whole report as JSON.
pub fn write_report(report: &SyncReport, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if json {
        let v = serde_json::json!({
            "dryRun": report.dry_run,
            "unfinished": report.unfinished,
            "failed": report.failed,
            "plan": report.plan,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let p = &report.plan;
    let mode = if report.dry_run {
        "users sync (dry run, nothing changed)"
    } else {
        "users sync"
    };
    writeln!(out, "{mode}: {}", p.summary())?;
    for l in &p.link {
        let on = match l.matched_on {
            MatchedOn::Mail => "mail",
            MatchedOn::UserPrincipalName => "userPrincipalName",
            MatchedOn::ProxyAddress => "proxyAddresses",
        };
        writeln!(
            out,
            "link     {} → {} ({} on {on})",
            l.swyx_user_id, l.entra_id, l.email
        )?;
    }
    for u in &p.unlink {
        writeln!(
            out,
            "unlink   {} → {}: {}",
            u.swyx_user_id,
            u.entra_id,
            unlink_reason(&u.reason)
        )?;
    }
    for r in &p.refused {
        writeln!(out, "refused  {}: {}", r.swyx_user_id, refusal(&r.refusal))?;
    }
    let excluded = p
        .skipped
        .iter()
        .filter(|s| s.reason == SkipReason::Excluded)
        .count();
    if !p.skipped.is_empty() {
        writeln!(
            out,
            "skipped  {excluded} excluded, {} out of scope",
            p.skipped.len() - excluded
        )?;
    }
    if report.unfinished {
        writeln!(out, "unfinished: the time ran out; run it again to finish")?;
    }
    for f in &report.failed {
        writeln!(out, "failed   {f}")?;
    }
    Ok(())
}

fn refusal(r: &Refusal) -> String {
    match r {
        Refusal::NoEmail => "no e-mail address in Swyx".into(),
        Refusal::InvalidSwyxId { problem } => problem.clone(),
        Refusal::NoEntraUser { email } => format!("no Entra user has the address {email}"),
        Refusal::AmbiguousAddress { email, entra_ids } => format!(
            "ambiguous: {email} belongs to several Entra users ({})",
            entra_ids.join(", ")
        ),
        Refusal::SharedAddress {
            email,
            swyx_user_ids,
        } => format!(
            "ambiguous: Swyx users {} share the address {email}",
            swyx_user_ids.join(", ")
        ),
        Refusal::SharedEntraUser {
            entra_id,
            swyx_user_ids,
        } => format!(
            "ambiguous: Swyx users {} all match Entra user {entra_id}",
            swyx_user_ids.join(", ")
        ),
        Refusal::Disabled { entra_id } => format!("Entra account {entra_id} is disabled"),
        Refusal::LinkedManually {
            entra_id,
            swyx_user_id,
        } => format!("Entra user {entra_id} is linked by hand to Swyx user {swyx_user_id}"),
    }
}

fn unlink_reason(r: &UnlinkReason) -> String {
    match r {
        UnlinkReason::SwyxUserRemoved => "the connector no longer lists the Swyx user".into(),
        UnlinkReason::Excluded => "excluded".into(),
        UnlinkReason::OutOfScope => "out of scope".into(),
        UnlinkReason::Rematched { entra_id } => format!("now matches Entra user {entra_id}"),
        UnlinkReason::Refused { refusal: r } => refusal(r),
    }
}

/// `users link ENTRA_ID SWYX_ID [--email]`: a manual link; lifts an exclusion of the Swyx user.
pub async fn link(
    store: &dyn Store,
    entra_id: &str,
    swyx_user_id: &str,
    email: Option<&str>,
) -> anyhow::Result<String> {
    let fields = [entra_id, swyx_user_id, email.unwrap_or("")].map(str::to_string);
    let link = user_of(&fields).map_err(anyhow::Error::msg)?;
    if let Some(held) = store.get_user_by_swyx_id(&link.swyx_user_id).await?
        && held.entra_id != link.entra_id
    {
        anyhow::bail!(
            "Swyx user {:?} is linked to {}; `users unlink {}` first",
            link.swyx_user_id,
            held.entra_id,
            link.swyx_user_id
        );
    }
    // The mark goes first: a crash in between leaves the link as it was or manual, never a
    // manual link that looks automatic.
    store.delete_link_mark(&link.swyx_user_id).await?;
    match store.put_user(&link).await {
        Ok(()) => Ok(format!(
            "linked Swyx user {} to Entra user {} by hand; a sync never undoes it",
            link.swyx_user_id, link.entra_id
        )),
        Err(StoreError::Conflict { .. }) => anyhow::bail!(
            "Swyx user {:?} was linked meanwhile; see `users list`",
            link.swyx_user_id
        ),
        Err(e) => Err(e.into()),
    }
}

/// `users unlink SWYX_ID`: removes the Swyx user's link (slot freed, "In a call" cleared, the
/// Teams-derived status withdrawn) and keeps it out of automatic linking.
pub async fn unlink(cfg: &Config, swyx_user_id: &str) -> anyhow::Result<String> {
    unlink_in(&App::from_config(cfg).await?, swyx_user_id).await
}

/// [`unlink`] on a built app.
pub async fn unlink_in(app: &App, swyx_user_id: &str) -> anyhow::Result<String> {
    let store = app.store.as_ref();
    // The exclusion first: a command stopped after it leaves the link as a manual one (run it
    // again), never a user the next sync links again.
    store
        .put_link_mark(&LinkMark {
            swyx_user_id: swyx_user_id.to_string(),
            kind: LinkMarkKind::Excluded,
            at: app.clock.now(),
        })
        .await?;
    let linked = store.get_user_by_swyx_id(swyx_user_id).await?;
    let unlinked = match &linked {
        Some(l) => unlink_user(app, &l.entra_id, swyx_user_id, true, UNLINK_BUDGET).await?,
        None => false,
    };
    Ok(match (linked, unlinked) {
        (Some(l), true) => format!(
            "unlinked Swyx user {swyx_user_id} from Entra user {}; excluded from automatic linking (`users include` lifts it)",
            l.entra_id
        ),
        _ => format!(
            "Swyx user {swyx_user_id} was not linked; excluded from automatic linking (`users include` lifts it)"
        ),
    })
}

/// `users include SWYX_ID`: lifts an exclusion, so the next sync may link the user again.
pub async fn include(store: &dyn Store, swyx_user_id: &str) -> anyhow::Result<String> {
    let excluded = store
        .list_link_marks()
        .await?
        .into_iter()
        .any(|m| m.swyx_user_id == swyx_user_id && m.kind == LinkMarkKind::Excluded);
    if !excluded {
        return Ok(format!("Swyx user {swyx_user_id} is not excluded"));
    }
    store.delete_link_mark(swyx_user_id).await?;
    Ok(format!(
        "Swyx user {swyx_user_id} may be linked automatically again (at the next sync)"
    ))
}
