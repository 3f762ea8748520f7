//! Automatic user linking (`presence-bridge users sync`, and maintenance every
//! `users.sync_interval_minutes`): read both directories — the Swyx users with their addresses
//! and groups from the connector, the Entra users from Graph (and the configured group's members)
//! — and the links and marks the store holds, let `domain::linking` decide, then carry the plan
//! out ([`apply`]): unlinks first (each frees its subscription slot, clears the bridge's "In a
//! call" and withdraws the Teams-derived Swyx status), then links.
//!
//! Graph cost: one listing of every user (999 per page, `$select`ed to five properties), plus one
//! of the group's transitive members when a group is configured; nothing per user. The listing is
//! looked at page by page and only users holding a Swyx address are kept, so memory follows the
//! Swyx site, not the tenant.

pub mod apply;
mod ports;
pub mod upkeep;

pub use ports::{EntraDirectory, SwyxDirectory};

use crate::app::App;
use crate::config::UsersConfig;
use crate::domain::linking::{
    self, AutomaticMarks, CurrentLink, EntraCandidate, EntraMatches, HeldLinks, LinkPlan,
    SwyxCandidate, SwyxUsers,
};
use crate::store::{LinkMarkKind, StoreError};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Marks or links read from the store at once while planning.
const PAGE: usize = 1_000;

/// What automatic linking needs beyond the shared app: present when Graph's app-only token is
/// configured (`graph.client_secret`).
pub struct UsersSync {
    pub graph: Arc<dyn EntraDirectory>,
    pub connector: Arc<dyn SwyxDirectory>,
    pub settings: UsersConfig,
}

impl fmt::Debug for UsersSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsersSync")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why a sync did not get as far as a plan.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("automatic linking needs graph.client_secret (Graph's app-only token reads the users)")]
    NotConfigured,
    #[error("reading the Entra users from Graph: {0}")]
    Graph(#[source] crate::graph::client::GraphError),
    #[error("reading the Swyx users from the connector: {0}")]
    Connector(#[source] crate::swyx::client::ConnectorError),
    #[error(
        "the {side} listed no users; {links} automatic links are kept rather than all unlinked"
    )]
    EmptyDirectory { side: &'static str, links: usize },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    TooLarge(#[from] linking::TooLargeToPlan),
}

impl SyncError {
    /// Worth another try at the next run (the next maintenance pass, or by hand).
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Store(e) => e.is_transient(),
            SyncError::Connector(e) => e.is_transient(),
            SyncError::Graph(e) => matches!(e, crate::graph::client::GraphError::Unavailable(_)),
            _ => false,
        }
    }
}

/// A sync's plan and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub plan: LinkPlan,
    /// Nothing was changed (`--dry-run`).
    pub dry_run: bool,
    /// The budget ran out before the whole plan was carried out; the next run finishes it.
    pub unfinished: bool,
    /// Steps that failed (Swyx id: why); the next run tries them again.
    pub failed: Vec<String>,
}

/// Reads both directories and the store, and decides. Changes nothing.
///
/// Memory follows the Swyx site, not the tenant: the Swyx users are kept as matching needs them
/// (page by page), then the Entra directory is read a page at a time and only the users holding
/// a Swyx user's address are kept ([`EntraMatches`]).
pub async fn plan(app: &App, budget: Duration) -> Result<LinkPlan, SyncError> {
    let us = app.users_sync.as_deref().ok_or(SyncError::NotConfigured)?;
    let started = Instant::now();
    let group = us.settings.entra_group.as_deref();
    let swyx_group = us.settings.swyx_group.as_deref();
    let mut swyx = SwyxUsers::default();
    let mut too_large = Ok(());
    let mut take_swyx = |page: Vec<crate::swyx::client::SwyxDirectoryUser>| {
        for u in page {
            let candidate = SwyxCandidate {
                in_scope: swyx_group.is_none_or(|g| u.groups.iter().any(|x| same_group(x, g))),
                id_problem: swyx_contract::wire::check_swyx_user_id(&u.swyx_user_id)
                    .err()
                    .map(|e| e.to_string().into()),
                groups: linking::normalize_groups(&u.groups).into(),
                swyx_user_id: u.swyx_user_id.into(),
                email: u.email.map(Into::into),
            };
            if too_large.is_ok() {
                too_large = swyx.push(candidate);
            }
        }
    };
    let (listed, members) = tokio::join!(us.connector.visit_users(budget, &mut take_swyx), async {
        match group {
            Some(g) => us.graph.group_user_ids(g, budget).await.map(Some),
            None => Ok(None),
        }
    });
    listed.map_err(SyncError::Connector)?;
    too_large?;
    swyx.shrink_to_fit();
    let members = members.map_err(SyncError::Graph)?;
    let mut matches = EntraMatches::for_swyx(&swyx);
    let mut take_entra = |page: Vec<crate::graph::directory::DirectoryUser>| {
        for u in page {
            // Links keep Entra ids lower-case (Graph compares them without case).
            let id = u.id.to_ascii_lowercase();
            matches.observe(&EntraCandidate {
                in_scope: members.as_ref().is_none_or(|m| m.contains(&id)),
                id,
                mail: u.mail,
                user_principal_name: u.user_principal_name,
                proxy_addresses: u.proxy_addresses,
                enabled: u.account_enabled,
            });
        }
    };
    let left = budget.saturating_sub(started.elapsed());
    us.graph
        .visit_users(left, &mut take_entra)
        .await
        .map_err(SyncError::Graph)?;
    matches.shrink_to_fit();
    // The marks and then the links a page at a time, each kept column by column: at 100,000
    // users the whole list of `LinkMark`s was 14 MB and that of `UserLink`s 21 MB.
    let mut automatic = AutomaticMarks::default();
    let mut excluded: BTreeSet<String> = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .store
            .list_link_marks_after(after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.swyx_user_id.clone());
        for m in page {
            match m.kind {
                LinkMarkKind::Automatic { entra_id } => {
                    automatic.push(&m.swyx_user_id, &entra_id)?;
                }
                LinkMarkKind::Excluded => {
                    excluded.insert(m.swyx_user_id);
                }
            }
        }
    }
    automatic.shrink_to_fit();
    let mut current = HeldLinks::default();
    let mut after: Option<String> = None;
    loop {
        let page = app.store.list_users_after(after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.entra_id.clone());
        for l in page {
            current.push(CurrentLink {
                // Only a mark naming this very link makes it automatic; anything else is manual.
                automatic: automatic.take(&l.swyx_user_id, &l.entra_id),
                entra_id: l.entra_id.into(),
                swyx_user_id: l.swyx_user_id.into(),
                groups: l.groups.into(),
            })?;
        }
    }
    current.shrink_to_fit();
    let auto_links = current.iter().filter(|l| l.automatic).count();
    // An empty list from a misconfigured directory must not unlink everyone.
    for (side, empty) in [
        ("connector", swyx.is_empty()),
        ("Graph", matches.users_seen() == 0),
    ] {
        if empty && auto_links > 0 {
            return Err(SyncError::EmptyDirectory {
                side,
                links: auto_links,
            });
        }
    }
    let plan = linking::plan_matched(&swyx, &matches, &current, &excluded);
    let mut plan = linking::with_groups(plan, &swyx, &current);
    plan.stale_marks = automatic.unused().map(str::to_string).collect();
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        entra_users = matches.users_seen(),
        entra_users_kept = matches.users_kept(),
        "users sync planned"
    );
    Ok(plan)
}

/// Swyx group names compare trimmed and without case.
fn same_group(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Plans and, unless `dry_run`, carries the plan out within `budget`.
pub async fn sync(app: &App, dry_run: bool, budget: Duration) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let plan = plan(app, budget).await?;
    if dry_run {
        return Ok(SyncReport {
            plan,
            dry_run: true,
            ..SyncReport::default()
        });
    }
    let left = budget.saturating_sub(started.elapsed());
    let outcome = apply::carry_out(app, &plan, left).await?;
    let report = SyncReport {
        plan,
        dry_run: false,
        unfinished: outcome.unfinished,
        failed: outcome.failed,
    };
    tracing::info!(
        linked = report.plan.link.len(),
        unlinked = report.plan.unlink.len(),
        unchanged = report.plan.unchanged.total(),
        refused = report.plan.refused.len(),
        skipped = report.plan.skipped.len(),
        failed = report.failed.len(),
        unfinished = report.unfinished,
        "users sync"
    );
    Ok(report)
}
