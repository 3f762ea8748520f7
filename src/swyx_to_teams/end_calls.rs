//! Ending every call of a user at once: when the user is unlinked, or Swyx → Teams is switched
//! off for them. The bridge's "In a call" in Teams is then cleared (now, or by maintenance if
//! Graph does not answer).

use super::session::sync_graph;
use crate::app::App;
use crate::domain::SpeakingSettings;
use crate::store::{StoreResult, optimistic};
use std::time::Duration;

/// Ends every call of the user, and has Graph clear the session now if Swyx → Teams runs here;
/// otherwise the stored state is due and the next maintenance pass clears it.
pub async fn end_calls(app: &App, entra_id: &str, budget: Duration) -> StoreResult<()> {
    let s2t = app.swyx_to_teams.as_deref();
    let settings = s2t.map_or_else(SpeakingSettings::default, |s| s.settings);
    let now = app.clock.now();
    let store = app.store.as_ref();
    let ended = optimistic::update(
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
        move |(next, rev)| async move { store.put_speaking(entra_id, &next, rev).await },
    )
    .await?;
    if let (Some(state), Some(s2t)) = (ended, s2t) {
        sync_graph(s2t, store, entra_id, state, budget).await?;
    }
    Ok(())
}
