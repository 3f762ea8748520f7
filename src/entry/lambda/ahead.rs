//! Work a Lambda function starts before its first event (its app, then its Graph token), and
//! what an event does with it when a freeze overtook it.
//!
//! Lambda freezes a process as soon as its runtime asks for an event none is waiting for: a
//! process initialised ahead of its invocations (provisioned concurrency, or Lambda starting one
//! before it is needed) is frozen with that work's requests in flight, perhaps for hours, and
//! their answers may never come. An on-demand cold start's event is waiting already, so the work
//! runs on while the runtime fetches it.

use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;

/// Work still unfinished when an event comes this long after it started was frozen mid-way: an
/// on-demand cold start hands over its event within milliseconds.
pub const STALE_AFTER: Duration = Duration::from_secs(1);

/// True when work started at `started` and unfinished at `now` was overtaken by a freeze. Wall
/// time, which goes on while a process is frozen; a clock set back counts as not stale.
pub fn is_stale(started: SystemTime, now: SystemTime) -> bool {
    now.duration_since(started)
        .is_ok_and(|since| since >= STALE_AFTER)
}

/// True when the work ahead is to be finished before the runtime asks for the first event, by
/// the initialisation type Lambda gives the process (`AWS_LAMBDA_INITIALIZATION_TYPE`):
/// provisioned concurrency initialises a process ahead of every invocation, so its start is on
/// no event's path. An on-demand process may have its first event waiting already.
pub fn finish_before_first_event(init_type: Option<&str>) -> bool {
    init_type == Some("provisioned-concurrency")
}

/// A task started ahead of the first event.
pub struct WorkAhead {
    task: JoinHandle<()>,
    started: SystemTime,
}

impl WorkAhead {
    /// Spawns `work`, which started at `started`.
    pub fn spawn(started: SystemTime, work: impl Future<Output = ()> + Send + 'static) -> Self {
        Self {
            task: tokio::spawn(work),
            started,
        }
    }

    /// Aborts the work when it is unfinished and stale at `now` ([`is_stale`]), so that the
    /// event does it itself instead of waiting on requests a freeze may have lost; true then.
    /// What the work was filling (the app's cell, the token's lock) is free again once the
    /// runtime drops the aborted task, at once.
    pub fn abandon_if_stale(&self, now: SystemTime) -> bool {
        if self.task.is_finished() || !is_stale(self.started, now) {
            return false;
        }
        self.task.abort();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::sync::OnceCell;

    /// A build that fills `cell` only when `release` is sent (a request still unanswered).
    fn build_waiting_for(
        cell: &Arc<OnceCell<u32>>,
        release: tokio::sync::oneshot::Receiver<u32>,
        started: SystemTime,
    ) -> WorkAhead {
        let cell = Arc::clone(cell);
        WorkAhead::spawn(started, async move {
            cell.get_or_init(|| async { release.await.unwrap_or(0) })
                .await;
        })
    }

    #[tokio::test]
    async fn unfinished_work_an_event_finds_long_after_its_start_is_done_anew() {
        let cell = Arc::new(OnceCell::new());
        let (_never, release) = tokio::sync::oneshot::channel();
        let started = SystemTime::now() - Duration::from_secs(3_600);
        let work = build_waiting_for(&cell, release, started);
        tokio::task::yield_now().await;

        assert!(work.abandon_if_stale(SystemTime::now()));
        // The event builds for itself instead of waiting on the frozen build.
        let built = tokio::time::timeout(Duration::from_secs(10), cell.get_or_init(|| async { 7 }))
            .await
            .expect("the abandoned build no longer holds the cell");
        assert_eq!(*built, 7);
    }

    #[tokio::test]
    async fn a_cold_starts_event_waits_for_the_work_started_just_before_it() {
        let cell = Arc::new(OnceCell::new());
        let (answer, release) = tokio::sync::oneshot::channel();
        let started = SystemTime::now();
        let work = build_waiting_for(&cell, release, started);
        tokio::task::yield_now().await;

        assert!(!work.abandon_if_stale(started + Duration::from_millis(5)));
        answer.send(42).unwrap();
        let built = tokio::time::timeout(Duration::from_secs(10), cell.get_or_init(|| async { 7 }))
            .await
            .expect("the build ahead finishes");
        assert_eq!(*built, 42, "the event used what the work ahead built");
    }

    #[tokio::test]
    async fn finished_work_is_never_abandoned() {
        let work = WorkAhead::spawn(SystemTime::UNIX_EPOCH, async {});
        while !work.task.is_finished() {
            tokio::task::yield_now().await;
        }
        assert!(!work.abandon_if_stale(SystemTime::now()));
    }

    #[test]
    fn only_provisioned_concurrency_finishes_the_work_before_the_first_event() {
        assert!(finish_before_first_event(Some("provisioned-concurrency")));
        assert!(!finish_before_first_event(Some("on-demand")));
        assert!(!finish_before_first_event(None));
    }

    #[test]
    fn only_a_second_or_more_of_wall_time_is_stale() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(!is_stale(t, t + Duration::from_millis(999)));
        assert!(is_stale(t, t + STALE_AFTER));
        // A clock set back while the work ran: not known to be stale.
        assert!(!is_stale(t, t - Duration::from_secs(5)));
    }
}
