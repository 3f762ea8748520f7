use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

const POLICY: RetryPolicy = RetryPolicy::new(4, Duration::from_millis(100), Duration::from_secs(1));
const ALL_KINDS: [FailureKind; 7] = [
    FailureKind::NoTime,
    FailureKind::Connect,
    FailureKind::Throttled,
    FailureKind::Server(503),
    FailureKind::Timeout,
    FailureKind::Interrupted,
    FailureKind::TooLarge { limit: 1 },
];

fn failure(kind: FailureKind) -> Failure {
    Failure::new(kind)
}

#[test]
fn a_non_idempotent_request_is_repeated_only_when_it_provably_had_no_effect() {
    use FailureKind::*;
    for kind in ALL_KINDS {
        let idempotent = kind.is_retryable(Idempotency::Idempotent);
        let not = kind.is_retryable(Idempotency::NotIdempotent);
        let (want_idempotent, want_not) = match kind {
            NoTime | TooLarge { .. } => (false, false),
            Connect | Throttled => (true, true),
            Server(_) | Timeout | Interrupted => (true, false),
        };
        assert_eq!((idempotent, not), (want_idempotent, want_not), "{kind:?}");
        // Never repeated blindly: whatever a non-idempotent request may repeat had no effect.
        assert!(!not || !kind.may_have_taken_effect(), "{kind:?}");
    }
}

#[test]
fn the_stop_names_why() {
    let left = Duration::from_secs(10);
    let next = |kind, idem| POLICY.after_failure(&failure(kind), 1, idem, left);
    assert_eq!(
        next(FailureKind::Timeout, Idempotency::NotIdempotent),
        Next::Stop(Stop::MayHaveTakenEffect)
    );
    assert_eq!(
        next(FailureKind::Server(502), Idempotency::NotIdempotent),
        Next::Stop(Stop::MayHaveTakenEffect)
    );
    assert_eq!(
        next(FailureKind::TooLarge { limit: 9 }, Idempotency::Idempotent),
        Next::Stop(Stop::NotRetryable)
    );
    assert_eq!(
        next(FailureKind::NoTime, Idempotency::Idempotent),
        Next::Stop(Stop::BudgetSpent)
    );
    assert!(matches!(
        next(FailureKind::Connect, Idempotency::NotIdempotent),
        Next::Wait(_)
    ));
    assert_eq!(
        POLICY.after_failure(
            &failure(FailureKind::Connect),
            4,
            Idempotency::Idempotent,
            left
        ),
        Next::Stop(Stop::AttemptsUsed),
        "four attempts at most"
    );
}

#[test]
fn retry_after_is_obeyed_exactly_and_stops_a_call_it_does_not_fit() {
    let mut throttled = failure(FailureKind::Throttled);
    throttled.retry_after = Some(Duration::from_secs(3));
    let at = |left| POLICY.after_failure(&throttled, 1, Idempotency::Idempotent, left);
    assert_eq!(
        at(Duration::from_secs(10)),
        Next::Wait(Duration::from_secs(3))
    );
    assert_eq!(at(Duration::from_secs(3)), Next::Stop(Stop::BudgetSpent));
    // Without Retry-After the wait is the jittered backoff, which must fit too.
    let plain = failure(FailureKind::Server(500));
    assert_eq!(
        POLICY.after_failure(&plain, 3, Idempotency::Idempotent, Duration::ZERO),
        Next::Stop(Stop::BudgetSpent)
    );
}

#[test]
fn backoff_doubles_to_its_cap_with_full_jitter() {
    assert_eq!(POLICY.backoff_ceiling(1), Duration::from_millis(100));
    assert_eq!(POLICY.backoff_ceiling(2), Duration::from_millis(200));
    assert_eq!(POLICY.backoff_ceiling(4), Duration::from_millis(800));
    assert_eq!(POLICY.backoff_ceiling(5), Duration::from_secs(1));
    assert_eq!(POLICY.backoff_ceiling(u32::MAX), Duration::from_secs(1));
    let waits: Vec<Duration> = (0..200).map(|_| POLICY.backoff(3)).collect();
    assert!(waits.iter().all(|w| *w <= Duration::from_millis(400)));
    // Full jitter spreads over the whole range, down to nearly nothing.
    assert!(waits.iter().any(|w| *w < Duration::from_millis(100)));
    assert!(waits.iter().any(|w| *w > Duration::from_millis(300)));
}

#[test]
fn a_retry_after_longer_than_ten_minutes_waits_ten_minutes() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let wait = |v| parse_retry_after(v, now);
    assert_eq!(MAX_RETRY_AFTER, Duration::from_secs(600));
    assert_eq!(wait("600"), Some(MAX_RETRY_AFTER));
    for far in [
        "601",
        "999999999",
        "18446744073709551615",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        assert_eq!(wait(far), Some(MAX_RETRY_AFTER), "{far}");
    }
    assert_eq!(
        wait("59"),
        Some(Duration::from_secs(59)),
        "shorter waits as given"
    );
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_until_an_answer_comes() {
    let calls = AtomicU32::new(0);
    let got = POLICY
        .run(
            "test",
            Idempotency::Idempotent,
            Duration::from_secs(10),
            |_| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(failure(FailureKind::Server(503))),
                    1 => Err(failure(FailureKind::Timeout)),
                    n => Ok(n),
                }
            },
        )
        .await
        .unwrap();
    assert_eq!(got, 2);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_non_idempotent_request_is_not_repeated() {
    let calls = AtomicU32::new(0);
    let err = POLICY
        .run(
            "create",
            Idempotency::NotIdempotent,
            Duration::from_secs(10),
            |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(failure(FailureKind::Timeout))
            },
        )
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(err.stop, Stop::MayHaveTakenEffect);
    assert!(err.may_have_taken_effect);
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn an_attempt_still_running_at_the_end_of_the_budget_is_cut_off() {
    let started = Instant::now();
    let err = POLICY
        .run(
            "hang",
            Idempotency::Idempotent,
            Duration::from_secs(2),
            |left| async move {
                assert!(left <= Duration::from_secs(2));
                std::future::pending::<Result<(), Failure>>().await
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.last.kind, FailureKind::Timeout);
    assert_eq!(err.stop, Stop::BudgetSpent);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_budget_ends_the_call_at_once_and_is_passed_on() {
    let started = Instant::now();
    let err = POLICY
        .run(
            "throttled",
            Idempotency::Idempotent,
            Duration::from_secs(2),
            |_| async {
                let mut f = failure(FailureKind::Throttled);
                f.retry_after = Some(Duration::from_secs(30));
                Err::<(), _>(f)
            },
        )
        .await
        .unwrap_err();
    assert_eq!((err.attempts, err.stop), (1, Stop::BudgetSpent));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(!err.may_have_taken_effect, "a 429 was refused, not done");
}
