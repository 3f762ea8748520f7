//! Work that must finish even when whoever awaits it stops waiting (Graph hangs up, an answer's
//! deadline passes), run on the awaiting task itself.
//!
//! A `tokio::spawn` gives that too, but every request then hands its work to another task and
//! is woken again when it is done: on a 2-core VM that hand-off was 4 % of a lone Graph
//! notification's intake, RSA unwrap included (`cargo bench --bench intake`, single item ÷
//! unwrap 1.12 → 1.08). [`Detached`] polls the work in place and spawns only what is left of it
//! when it is dropped unfinished.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The work panicked; what it held was dropped.
#[derive(Debug)]
pub struct Panicked;

/// `work`, polled by whoever awaits this; dropped before it is done, the rest of `work` goes on
/// as a task of its own (on the current runtime).
pub fn detached<F>(work: F) -> Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Detached {
        work: Some(Box::pin(work)),
    }
}

pub struct Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    work: Option<Pin<Box<F>>>,
}

impl<F> Future for Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = Result<F::Output, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(work) = self.work.as_mut() else {
            // Polled again after its answer: there is nothing left to give.
            return Poll::Pending;
        };
        // As a task's JoinHandle reports its panic (under `panic = "abort"` there is none to catch).
        let polled = catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                self.work = None;
                Poll::Ready(Ok(output))
            }
            Err(_) => {
                self.work = None;
                Poll::Ready(Err(Panicked))
            }
        }
    }
}

impl<F> Drop for Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        let Some(work) = self.work.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(work);
            }
            // Dropped outside any runtime: its runtime is shutting down, and a spawned task
            // would have been dropped with it all the same.
            Err(_) => tracing::warn!("unfinished work dropped: no runtime to finish it on"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn work_awaited_to_its_end_gives_its_output() {
        assert_eq!(detached(async { 7 }).await.ok(), Some(7));
    }

    #[tokio::test]
    async fn work_dropped_half_way_still_finishes() {
        let (go_on, wait) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel();
        let started = Arc::new(AtomicBool::new(false));
        let mut work = Box::pin(detached({
            let started = Arc::clone(&started);
            async move {
                started.store(true, Ordering::SeqCst);
                let _ = wait.await;
                let _ = finished.send("finished");
            }
        }));
        // Run to its first wait, then stop waiting for it, as a client that hangs up does.
        let polled = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
        assert!(started.load(Ordering::SeqCst));
        drop(work);
        go_on.send(()).unwrap();
        assert_eq!(done.await, Ok("finished"));
    }

    #[tokio::test]
    async fn a_panic_is_an_error_for_the_awaiting_side() {
        let result = detached(async {
            if std::hint::black_box(true) {
                panic!("a bug");
            }
        })
        .await;
        assert!(result.is_err());
    }
}
