//! A collection of many items: the RSA unwraps on every core, the store in batches.
//!
//! Per item, the unwrap is the only cost that must remain; a store call per item (several
//! hand-offs to SQLite's blocking pool or DynamoDB round trips each) would cost a large share
//! of it. So one checker per runtime worker takes the items a chunk at a time, in the
//! collection's order, and as each chunk is done its presences are judged and stored in one
//! batch ([`observe_many`]) while the later chunks are still being unwrapped: the first forwards
//! start after one chunk, not after the whole collection. Each forward starts as soon as its
//! decision is stored, [`MAX_CONCURRENT_ITEMS`] at a time; the delivered updates' pending
//! entries are cleared together at the end, in one store call.

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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Most items a checker takes at once: enough that taking is negligible next to the unwraps, few
/// enough that the first decisions are stored (and their forwards started) early.
const CHUNK: usize = 50;

/// How long a checker keeps a worker before letting other tasks (other requests, the
/// forwards of this one) have it: a few unwraps.
const YIELD_EVERY: Duration = Duration::from_millis(1);

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
    let total = screened.len();
    let checkers = tokio::runtime::Handle::current()
        .metrics()
        .num_workers()
        .clamp(1, total.max(1));
    let mut checked_chunks = spawn_checkers(Arc::new(Checking {
        app: Arc::clone(app),
        items,
        known,
        vouched,
        received_at,
        unchecked: Unchecked::new(screened, checkers),
    }));
    let mut reports = Vec::with_capacity(total);
    let mut deliveries = JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_ITEMS));
    let mut handled = 0;
    while let Some(checked) = checked_chunks.recv().await {
        handled += checked.len();
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
    // A checker that failed lost the chunk it held: each of those items fails as a task.
    reports.extend((handled..total).map(|_| Err(TaskFailed)));
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

/// The screened items left to check, taken a chunk at a time by the checkers: whole chunks while
/// many are left, smaller ones towards the end, so that the cores finish within an item of each
/// other.
struct Unchecked {
    screened: Vec<usize>,
    next: AtomicUsize,
    checkers: usize,
}

impl Unchecked {
    fn new(screened: Vec<usize>, checkers: usize) -> Self {
        Self {
            screened,
            next: AtomicUsize::new(0),
            checkers,
        }
    }

    fn take(&self) -> Option<&[usize]> {
        let total = self.screened.len();
        let len = |next: usize| ((total - next) / (2 * self.checkers)).clamp(1, CHUNK);
        let start = self
            .next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |next| {
                (next < total).then(|| next + len(next))
            })
            .ok()?;
        self.screened.get(start..start + len(start))
    }
}

/// What every checker of one collection reads.
struct Checking {
    app: Arc<App>,
    items: Arc<Vec<ChangeNotification>>,
    known: Subscriptions,
    vouched: Arc<VouchedTenants>,
    received_at: Timestamp,
    unchecked: Unchecked,
}

/// One checker per runtime worker (as `unchecked` counts them), each taking chunks until none
/// are left and sending each chunk's outcomes as it is done; the receiver ends when every
/// checker has.
fn spawn_checkers(checking: Arc<Checking>) -> mpsc::UnboundedReceiver<Vec<Checked>> {
    let (done, checked_chunks) = mpsc::unbounded_channel();
    for _ in 0..checking.unchecked.checkers {
        let (c, done) = (Arc::clone(&checking), done.clone());
        tokio::spawn(async move {
            let mut held_since = Instant::now();
            while let Some(chunk) = c.unchecked.take() {
                let mut checked = Vec::with_capacity(chunk.len());
                for &index in chunk {
                    let at = c.received_at.plus_millis(index as i64);
                    checked.push(check(&c.app, &c.items[index], &c.known, &c.vouched, at));
                    if held_since.elapsed() >= YIELD_EVERY {
                        tokio::task::yield_now().await;
                        held_since = Instant::now();
                    }
                }
                if done.send(checked).is_err() {
                    return;
                }
            }
        });
    }
    checked_chunks
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(items: usize, checkers: usize) -> Vec<Vec<usize>> {
        let unchecked = Unchecked::new((0..items).collect(), checkers);
        std::iter::from_fn(|| unchecked.take().map(<[usize]>::to_vec)).collect()
    }

    #[test]
    fn every_item_is_handed_out_once_in_the_collections_order() {
        for (items, checkers) in [(1, 1), (2, 2), (99, 2), (1_000, 2), (1_000, 8), (7, 16)] {
            let handed: Vec<usize> = chunks(items, checkers).concat();
            assert_eq!(handed, (0..items).collect::<Vec<_>>(), "{items} items");
        }
    }

    #[test]
    fn chunks_are_whole_while_many_are_left_and_single_items_at_the_end() {
        let handed = chunks(1_000, 2);
        assert_eq!(
            handed[0].len(),
            CHUNK,
            "the first decisions come after one chunk"
        );
        assert!(handed.iter().all(|c| (1..=CHUNK).contains(&c.len())));
        let lens: Vec<usize> = handed.iter().map(Vec::len).collect();
        assert!(
            lens.windows(2).all(|w| w[0] >= w[1]),
            "sizes only shrink: {lens:?}"
        );
        // The cores finish within an item of each other: the last chunks are single items.
        assert_eq!(&lens[lens.len() - 2..], &[1, 1]);
        // A collection of a hundred (the sandbox's batches) is decided in quarters first.
        assert_eq!(chunks(100, 2)[0].len(), 25);
    }
}
