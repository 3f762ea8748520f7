//! A collection of many items: the RSA unwraps on every core, the store in batches.
//!
//! Per item, the unwrap is the only cost that must remain; a store call per item (several
//! hand-offs to SQLite's blocking pool or DynamoDB round trips each) would cost a large share
//! of it. So the items are checked in chunks, one task per chunk on the runtime's workers, and
//! as each chunk is done its presences are judged and stored in one batch
//! ([`observe_many`]) while the later chunks are still being unwrapped. Each forward starts as
//! soon as its decision is stored, [`MAX_CONCURRENT_ITEMS`] at a time; the delivered updates'
//! pending entries are cleared together at the end, in one store call.

use super::record_lifecycle;
use super::{ItemError, ItemOutcome, ItemReport, TaskFailed, forward_leaving_pending};
use crate::app::App;
use crate::domain::{Observation, Timestamp};
use crate::graph::notification::{ChangeNotification, LifecycleEvent};
use crate::teams_to_swyx::authenticate::{Authentic, VouchedTenants, authenticate};
use crate::teams_to_swyx::decide::Observed;
use crate::teams_to_swyx::decide_many::observe_many;
use crate::teams_to_swyx::intake::MAX_CONCURRENT_ITEMS;
use crate::teams_to_swyx::known_subscriptions::Subscriptions;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;

/// Items checked per task: spawning is negligible next to this many unwraps, and the first
/// chunk's store batch overlaps the unwraps of the later ones.
const CHUNK: usize = 50;

/// One item after its authenticity checks, with nothing borrowed from the collection.
enum Checked {
    Presence(String, Observation),
    Lifecycle(String, LifecycleEvent),
    Dropped(ItemError),
}

/// The items of one collection a lone check would not be worth a task for; every screened
/// item gets one report (or one [`TaskFailed`]).
pub(super) async fn process_many(
    app: &Arc<App>,
    items: Arc<Vec<ChangeNotification>>,
    screened: Vec<usize>,
    known: Subscriptions,
    vouched: Arc<VouchedTenants>,
    received_at: Timestamp,
    started: Instant,
) -> Vec<Result<ItemReport, TaskFailed>> {
    let mut checks = JoinSet::new();
    let mut chunk_len = HashMap::new();
    for chunk in screened.chunks(CHUNK) {
        let chunk = chunk.to_vec();
        let len = chunk.len();
        let (app, items, known, vouched) = (
            Arc::clone(app),
            Arc::clone(&items),
            Arc::clone(&known),
            Arc::clone(&vouched),
        );
        let task = checks.spawn(async move {
            let mut checked = Vec::with_capacity(chunk.len());
            for index in chunk {
                let at = received_at.plus_millis(index as i64);
                checked.push(check(&app, &items[index], &known, &vouched, at));
                // A chunk is many unwraps: let other requests have the worker in between.
                tokio::task::yield_now().await;
            }
            checked
        });
        chunk_len.insert(task.id(), len);
    }
    let mut reports = Vec::with_capacity(screened.len());
    let mut deliveries = JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_ITEMS));
    while let Some(joined) = checks.join_next_with_id().await {
        let checked = match joined {
            Ok((_, checked)) => checked,
            Err(e) => {
                let lost = chunk_len.get(&e.id()).copied().unwrap_or(0);
                reports.extend((0..lost).map(|_| Err(TaskFailed)));
                continue;
            }
        };
        let mut presences = Vec::new();
        for item in checked {
            match item {
                Checked::Presence(entra_id, observation) => presences.push((entra_id, observation)),
                Checked::Lifecycle(subscription_id, event) => {
                    let result = record_lifecycle(app, &subscription_id, event, received_at).await;
                    reports.push(Ok(ItemReport {
                        result,
                        delivery: None,
                    }));
                }
                Checked::Dropped(e) => reports.push(Ok(ItemReport::dropped(e))),
            }
        }
        for round in rounds(presences) {
            for decided in decide(app, &round).await {
                let result = match decided {
                    Ok(Observed::Forward(update)) => {
                        let (app, limit) = (Arc::clone(app), Arc::clone(&limit));
                        deliveries.spawn(async move {
                            // Never closed: the semaphore lives as long as this function.
                            let _permit = limit.acquire_owned().await.ok();
                            let delivery = forward_leaving_pending(&app, &update, started).await;
                            ItemReport {
                                result: Ok(ItemOutcome::Forward(update)),
                                delivery: Some(delivery),
                            }
                        });
                        continue;
                    }
                    Ok(Observed::Recorded) => Ok(ItemOutcome::Recorded),
                    Ok(Observed::Stale) => Ok(ItemOutcome::Stale),
                    Ok(Observed::UnlinkedUser) => Ok(ItemOutcome::UnlinkedUser),
                    Err(e) => Err(e),
                };
                reports.push(Ok(ItemReport {
                    result,
                    delivery: None,
                }));
            }
        }
    }
    let mut delivered = Vec::new();
    while let Some(joined) = deliveries.join_next().await {
        if let Ok(ItemReport {
            result: Ok(ItemOutcome::Forward(update)),
            delivery: Some(Ok(())),
        }) = &joined
        {
            delivered.push((update.swyx_user_id.clone(), update.revision));
        }
        reports.push(joined.map_err(|_| TaskFailed));
    }
    // Before the answer: a collection Graph sees accepted has its delivered updates cleared.
    if delivered.is_empty() {
        return reports;
    }
    if let Err(e) = app.store.delete_pendings(&delivered).await {
        tracing::warn!(updates = delivered.len(), error = %e, "delivered, but the pending entries could not be cleared; the connector will see those revisions again and ignore them");
    }
    reports
}

/// The checks of [`authenticate`], RSA unwrap included, for one item.
fn check(
    app: &App,
    item: &ChangeNotification,
    known: &Subscriptions,
    vouched: &VouchedTenants,
    received_at: Timestamp,
) -> Checked {
    match authenticate(item, known, &app.settings.tenant_id, vouched, &app.keys) {
        Err(e) => Checked::Dropped(e.into()),
        Ok(Authentic::Lifecycle {
            subscription_id,
            event,
        }) => Checked::Lifecycle(subscription_id.to_string(), event),
        Ok(Authentic::Presence(resource)) => Checked::Presence(
            resource.id.to_ascii_lowercase(),
            Observation {
                presence: resource.to_presence(),
                received_at,
            },
        ),
    }
}

/// The presences split so that no user is in one batch twice (a batch judges each user against
/// the state read before it); a user's later items go to later batches, in order.
fn rounds(presences: Vec<(String, Observation)>) -> Vec<Vec<(String, Observation)>> {
    let mut rounds: Vec<Vec<(String, Observation)>> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (entra_id, observation) in presences {
        let round = seen.entry(entra_id.clone()).or_default();
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push((entra_id, observation));
        *round += 1;
    }
    rounds
}

/// Judges and stores one round in one batch: each user's outcome. A failed batch fails each of
/// its items (Graph then redelivers the collection).
async fn decide(app: &App, round: &[(String, Observation)]) -> Vec<Result<Observed, ItemError>> {
    match observe_many(app.store.as_ref(), app.judge(), round).await {
        Ok(decided) => decided
            .into_iter()
            .map(|(_, observed)| observed.map_err(|e| ItemError::Store(Arc::new(e))))
            .collect(),
        Err(e) => {
            let e = Arc::new(e);
            round
                .iter()
                .map(|_| Err(ItemError::Store(Arc::clone(&e))))
                .collect()
        }
    }
}
