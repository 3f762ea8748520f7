//! Ending every call of a user at once: when the user is unlinked, or Swyx → Teams is switched
//! off for them. The bridge's "In a call" in Teams is then cleared (now, or by maintenance if
//! Graph does not answer).

use super::session::sync_graph;
use crate::app::App;
use crate::domain::{SpeakingSettings, SpeakingState};
use crate::store::{StoreResult, optimistic};
use std::time::Duration;

/// Ends every call of the user, and has Graph clear the session now if Swyx → Teams runs here;
/// otherwise the stored state is due and the next maintenance pass clears it.
pub async fn end_calls(app: &App, entra_id: &str, budget: Duration) -> StoreResult<()> {
    match store_calls_ended(app, entra_id).await? {
        Some(ended) => clear_now(app, entra_id, ended, budget).await,
        None => Ok(()),
    }
}

/// The first half of [`end_calls`]: stores every call of the user as ended, its clear due for
/// maintenance. The ended state, or `None` when there was nothing to end.
pub async fn store_calls_ended(app: &App, entra_id: &str) -> StoreResult<Option<SpeakingState>> {
    let s2t = app.swyx_to_teams.as_deref();
    let settings = s2t.map_or_else(SpeakingSettings::default, |s| s.settings);
    let now = app.clock.now();
    let store = app.store.as_ref();
    optimistic::update(
        || format!("speaking state of {entra_id}"),
        move || store.get_speaking(entra_id),
        |current| {
            let next = current.and_then(|c| {
                let rev = c.revision;
                c.end_all_calls(now, &settings).map(|n| (n, rev))
            });
            match next {
                None => optimistic::Step::Done(None),
                Some((next, rev)) => optimistic::Step::Write((next.clone(), rev), Some(next)),
            }
        },
        move |(next, expected)| async move { store.put_speaking(entra_id, &next, expected).await },
    )
    .await
}

/// The second half of [`end_calls`]: has Graph clear the `ended` state's session now, if Swyx →
/// Teams runs here.
pub async fn clear_now(
    app: &App,
    entra_id: &str,
    ended: SpeakingState,
    budget: Duration,
) -> StoreResult<()> {
    if let Some(s2t) = app.swyx_to_teams.as_deref() {
        sync_graph(s2t, app.store.as_ref(), entra_id, ended, budget).await?;
    }
    Ok(())
}
