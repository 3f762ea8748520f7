//! `presence-bridge users set ID --teams-to-swyx on|off|default …`: a user's own direction
//! switches. The change shows at once where it can: Teams → Swyx judges the user's last seen
//! Teams presence again (switched off: the Teams-derived status the bridge set at Swyx is
//! withdrawn; on again: the mapped status is sent), Swyx → Teams switched off ends the user's
//! calls (the bridge's "In a call" is cleared). Then the user's sync account is asked for a
//! reconciliation, so the next maintenance pass reads Teams afresh and converges. The switch is
//! stored first; a run cut short after that is finished by running the command again, or by the
//! user's next Teams change or reconciliation (`domain::sync` judges the same presence again
//! while a status the bridge set is still held with Teams → Swyx off).

use crate::app::App;
use crate::config::Config;
use crate::domain::SwitchChange;
use crate::status::directions_text;
use crate::store::{Store, UserLink, UserSwitches};
use crate::subscriptions::sync_accounts::request_reconciliation_of;
use crate::swyx_to_teams::end_calls::end_calls;
use crate::teams_to_swyx::decide::{Observed, observe_again};
use std::time::Duration;

/// Graph and the connector get this long; what does not fit stays pending for maintenance.
const BUDGET: Duration = Duration::from_secs(5);

/// `users set` on the app of a configuration file.
pub async fn set(cfg: &Config, id: &str, change: SwitchChange) -> anyhow::Result<String> {
    set_in(&App::from_config(cfg).await?, id, change).await
}

/// [`set`] on a built app.
pub async fn set_in(app: &App, id: &str, change: SwitchChange) -> anyhow::Result<String> {
    let store = app.store.as_ref();
    let Some(link) = find_user(store, id).await? else {
        anyhow::bail!("no linked user has the Swyx id, Entra id or e-mail address {id:?}");
    };
    let old = store
        .get_switches(&link.swyx_user_id)
        .await?
        .map(|s| s.switches)
        .unwrap_or_default();
    let new = old.changed_by(&change);
    store
        .put_switches(&UserSwitches {
            swyx_user_id: link.swyx_user_id.clone(),
            switches: new,
        })
        .await?;
    let after = app.directions.for_user(&new);
    let mut done = Vec::new();
    // A direction the command names is applied even when the stored switch already said so: a
    // run cut short after storing it (a kill, a store error) is finished by running it again.
    if change.teams_to_swyx.is_some() {
        let now = app.clock.now();
        if let Observed::Forward(update) =
            observe_again(store, app.judge(), &link.entra_id, now).await?
        {
            app.delivery().deliver(&update, 0, BUDGET).await;
            done.push(if after.teams_to_swyx {
                "the mapped Teams status is sent to Swyx"
            } else {
                "the Teams-derived Swyx status is withdrawn"
            });
        }
        if request_reconciliation_of(store, &link.entra_id).await? {
            done.push("the next maintenance pass reads Teams again");
        }
    }
    if change.swyx_to_teams.is_some() && !after.swyx_to_teams {
        end_calls(app, &link.entra_id, BUDGET).await?;
        done.push("any \"In a call\" the bridge set is cleared");
    }
    let mut out = format!(
        "Swyx user {} (Entra user {}): {}",
        link.swyx_user_id,
        link.entra_id,
        directions_text(&after, &new)
    );
    if !done.is_empty() {
        out.push_str("; ");
        out.push_str(&done.join(", "));
    }
    Ok(out)
}

/// The linked user with this Swyx id, Entra id or e-mail address (ids exactly as stored, any
/// case for the Entra id and the address).
async fn find_user(store: &dyn Store, id: &str) -> anyhow::Result<Option<UserLink>> {
    let id = id.trim();
    if let Some(link) = store.get_user_by_swyx_id(id).await? {
        return Ok(Some(link));
    }
    if let Some(link) = store.get_user(&id.to_ascii_lowercase()).await? {
        return Ok(Some(link));
    }
    Ok(store
        .list_users()
        .await?
        .into_iter()
        .find(|l| !l.email.is_empty() && l.email.eq_ignore_ascii_case(id)))
}
