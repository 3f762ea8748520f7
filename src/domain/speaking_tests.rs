use super::*;

const MIN: i64 = 60_000;

fn s() -> SpeakingSettings {
    SpeakingSettings {
        expiration_ms: 5 * MIN,
        max_call_ms: 240 * MIN,
        grace_ms: 10_000,
    }
}

fn t(ms: i64) -> Timestamp {
    Timestamp(1_800_000_000_000 + ms)
}

fn ev(st: &SpeakingState, e: CallEvent, id: &str, at: i64, now: i64) -> Option<SpeakingState> {
    st.apply_event(e, id, t(at), t(now), &s())
}

fn done(st: &SpeakingState, op: GraphOp, now: i64) -> SpeakingState {
    st.after_graph(op, &GraphOutcome::Done, t(now), &s())
}

fn failed(st: &SpeakingState, op: GraphOp, now: i64, retry_after: Option<i64>) -> SpeakingState {
    let outcome = GraphOutcome::Failed {
        error: "503".into(),
        retry_after_ms: retry_after,
    };
    st.after_graph(op, &outcome, t(now), &s())
}

#[test]
fn first_start_sets_and_last_end_clears() {
    let s0 = SpeakingState::default();
    let s1 = ev(&s0, CallEvent::Started, "a", 0, 0).unwrap();
    assert_eq!(s1.needed_op(t(0), &s()), Some(GraphOp::Set));
    assert!(s1.own_session_may_be_active(t(0)));
    assert_eq!(s1.revision, 1);
    let s2 = done(&s1, GraphOp::Set, 10);
    assert_eq!(
        s2.session,
        Session::Active {
            expires_at: t(10 + 5 * MIN)
        }
    );
    assert_eq!(s2.retry, None);
    assert_eq!(s2.needed_op(t(20), &s()), None);

    let s3 = ev(&s2, CallEvent::Ended, "a", 1_000, 1_000).unwrap();
    assert_eq!(s3.needed_op(t(1_000), &s()), Some(GraphOp::Clear));
    let s4 = done(&s3, GraphOp::Clear, 1_010);
    assert_eq!(s4.session, Session::None);
    assert_eq!(s4.needed_op(t(1_010), &s()), None);
    // Graph's notification of the set may still come: an echo for the window's length.
    assert!(s4.own_session_may_be_active(t(1_010)));
    assert!(!s4.own_session_may_be_active(t(1_010 + ECHO_WINDOW_MS)));
    assert_eq!(
        s4.due_at,
        Some(t(1_010 + ECHO_WINDOW_MS)),
        "only the read-back of Teams is left for maintenance"
    );
}

#[test]
fn overlapping_calls_set_once_and_clear_after_the_last() {
    let s1 = done(
        &ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap(),
        GraphOp::Set,
        0,
    );
    let s2 = ev(&s1, CallEvent::Started, "b", 100, 100).unwrap();
    assert_eq!(s2.needed_op(t(100), &s()), None, "already in a call");
    let s3 = ev(&s2, CallEvent::Ended, "a", 200, 200).unwrap();
    assert_eq!(s3.needed_op(t(200), &s()), None, "call b still runs");
    let s4 = ev(&s3, CallEvent::Ended, "b", 300, 300).unwrap();
    assert_eq!(s4.needed_op(t(300), &s()), Some(GraphOp::Clear));
}

#[test]
fn duplicates_change_nothing() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap();
    assert_eq!(ev(&s1, CallEvent::Started, "a", 0, 50), None);
    let s2 = ev(&s1, CallEvent::Ended, "a", 100, 100).unwrap();
    assert_eq!(ev(&s2, CallEvent::Ended, "a", 100, 150), None);
    assert!(!s2.is_speaking());
}

#[test]
fn an_end_before_its_start_wins_over_the_late_start() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Ended, "a", 100, 100).unwrap();
    assert!(!s1.is_speaking());
    assert_eq!(s1.needed_op(t(100), &s()), None, "nothing was ever set");
    assert_eq!(
        ev(&s1, CallEvent::Started, "a", 0, 120),
        None,
        "the start of an ended call is ignored"
    );
    // Another call is unaffected.
    let s2 = ev(&s1, CallEvent::Started, "b", 110, 130).unwrap();
    assert!(s2.is_speaking());
}

#[test]
fn a_call_id_reused_for_a_later_speaking_period_is_in_a_call_again() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Started, "c1", 0, 0).unwrap();
    let s2 = ev(&s1, CallEvent::Ended, "c1", 100, 100).unwrap();
    assert!(!s2.is_speaking());
    // Hold, resume: the connector names the new period by the call that opened it.
    let s3 = ev(&s2, CallEvent::Started, "c1", 200, 200).expect("a new period");
    assert!(s3.is_speaking());
    assert_eq!(s3.needed_op(t(200), &s()), Some(GraphOp::Set));
    let s4 = ev(&s3, CallEvent::Ended, "c1", 300, 300).unwrap();
    assert!(!s4.is_speaking());
}

#[test]
fn a_start_at_or_before_the_end_of_its_id_stays_dropped() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Ended, "c1", 100, 100).unwrap();
    assert_eq!(ev(&s1, CallEvent::Started, "c1", 50, 120), None, "earlier");
    assert_eq!(
        ev(&s1, CallEvent::Started, "c1", 100, 120),
        None,
        "same time"
    );
    // The second period's end overtakes its start: the late start is dropped too.
    let s2 = ev(&s1, CallEvent::Ended, "c1", 300, 300).unwrap();
    assert_eq!(ev(&s2, CallEvent::Started, "c1", 200, 310), None);
    // An end older than the one seen changes nothing.
    assert_eq!(ev(&s2, CallEvent::Ended, "c1", 150, 320), None);
}

#[test]
fn a_start_older_than_the_maximum_call_length_is_ignored() {
    let now = 300 * MIN;
    assert_eq!(
        ev(&SpeakingState::default(), CallEvent::Started, "a", 0, now),
        None
    );
    // A start from a connector clock ahead of ours counts from now.
    let s1 = ev(
        &SpeakingState::default(),
        CallEvent::Started,
        "b",
        now + MIN,
        now,
    )
    .unwrap();
    assert_eq!(s1.calls.get("b"), Some(&t(now)));
}

#[test]
fn keep_alive_is_due_before_the_session_expires() {
    let s1 = done(
        &ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap(),
        GraphOp::Set,
        0,
    );
    let renew_at = 5 * MIN - s().keep_alive_margin_ms();
    assert_eq!(s1.due_at, Some(t(renew_at)));
    assert_eq!(s1.needed_op(t(renew_at - 1), &s()), None);
    assert_eq!(s1.needed_op(t(renew_at), &s()), Some(GraphOp::Set));
    let s2 = done(&s1, GraphOp::Set, renew_at);
    assert_eq!(s2.due_at, Some(t(renew_at + renew_at)));
}

#[test]
fn a_renewal_graph_may_have_taken_is_cleared_when_the_call_ends_after_the_old_expiry() {
    let live = done(
        &ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap(),
        GraphOp::Set,
        0,
    );
    let expires = 5 * MIN;
    let renew_at = expires - s().keep_alive_margin_ms();
    let renewing = live
        .settle(t(renew_at), &s())
        .expect("stored before it is sent");
    let end_at = expires + MIN;
    // The answer lost (a timeout Graph still applied) or never recorded (a kill after Graph's
    // 200): "In a call" may last until renew_at + the expiration, so the end clears it.
    let lost = failed(&renewing, GraphOp::Set, renew_at, None);
    for before_the_end in [lost, renewing] {
        let ended = ev(&before_the_end, CallEvent::Ended, "a", end_at, end_at).unwrap();
        assert_eq!(ended.needed_op(t(end_at), &s()), Some(GraphOp::Clear));
    }
}

#[test]
fn a_call_never_ended_is_dropped_after_the_maximum_length() {
    let started = ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap();
    assert_eq!(
        started.due_at,
        Some(t(10_000)),
        "the grace before maintenance helps"
    );
    // Kept alive until the end.
    let s1 = done(&started, GraphOp::Set, 238 * MIN);
    assert_eq!(s1.expire_calls(t(240 * MIN - 1), &s()), None);
    let s2 = s1.expire_calls(t(240 * MIN), &s()).unwrap();
    assert!(!s2.is_speaking());
    assert_eq!(s2.needed_op(t(240 * MIN), &s()), Some(GraphOp::Clear));
    // Its real end arriving later changes nothing Teams sees (it only moves the tombstone, so a
    // late start from before that end stays ignored).
    let late_end = ev(&s2, CallEvent::Ended, "a", 241 * MIN, 241 * MIN).unwrap();
    assert!(!late_end.is_speaking());
    assert_eq!(
        late_end.needed_op(t(241 * MIN), &s()),
        s2.needed_op(t(241 * MIN), &s())
    );
    assert_eq!(
        ev(&late_end, CallEvent::Started, "a", 240 * MIN, 241 * MIN),
        None
    );
}

#[test]
fn failures_are_retried_with_growing_delay_and_retry_after() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap();
    assert_eq!(s1.retry.as_ref().map(|r| r.at), Some(t(10_000)), "grace");
    let s2 = failed(&s1, GraphOp::Set, 100, None);
    let r = s2.retry.clone().unwrap();
    assert_eq!(r.attempts, 1);
    assert_eq!(r.at, t(100 + 4_000));
    assert_eq!(s2.due_at, Some(r.at));
    // A setPresence that failed may still have reached Graph: it counts as maybe live.
    assert!(matches!(s2.session, Session::Unsure { .. }));
    let s3 = failed(&s2, GraphOp::Set, 200, Some(30_000));
    assert_eq!(
        s3.retry.as_ref().map(|r| (r.attempts, r.at)),
        Some((2, t(30_200)))
    );
    let s4 = done(&s3, GraphOp::Set, 300);
    assert_eq!(s4.retry, None);
}

#[test]
fn stopping_while_graph_fails_leaves_a_clear_pending() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap();
    let s2 = failed(&s1, GraphOp::Set, 10, None);
    let s3 = ev(&s2, CallEvent::Ended, "a", 20, 20).unwrap();
    assert_eq!(
        s3.needed_op(t(20), &s()),
        Some(GraphOp::Clear),
        "the failed set may have landed"
    );
    assert!(s3.retry.is_some(), "maintenance will find it");
    let s4 = done(&s3, GraphOp::Clear, 30);
    assert_eq!(s4.needed_op(t(30), &s()), None);
    assert_eq!(s4.retry, None);
    assert_eq!(
        s4.due_at,
        Some(t(30 + ECHO_WINDOW_MS)),
        "the read-back only"
    );
}

#[test]
fn a_race_makes_the_session_unsure_so_the_wanted_state_is_redone() {
    let speaking = done(
        &ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap(),
        GraphOp::Set,
        0,
    );
    let raced = speaking.after_race(t(10), &s());
    assert_eq!(raced.needed_op(t(10), &s()), Some(GraphOp::Set));
    let idle = done(
        &ev(&speaking, CallEvent::Ended, "a", 5, 5).unwrap(),
        GraphOp::Clear,
        6,
    );
    assert_eq!(
        idle.after_race(t(10), &s()).needed_op(t(10), &s()),
        Some(GraphOp::Clear)
    );
}

#[test]
fn an_expired_session_needs_no_clear_and_echo_window_closes() {
    let mut st = SpeakingState {
        session: Session::Unsure { expires_at: t(100) },
        ..SpeakingState::default()
    };
    assert_eq!(st.needed_op(t(99), &s()), Some(GraphOp::Clear));
    assert!(st.own_session_may_be_active(t(99)));
    assert_eq!(st.needed_op(t(100), &s()), None);
    assert!(!st.own_session_may_be_active(t(100)));
    st.session = Session::None;
    assert_eq!(st.needed_op(t(0), &s()), None);
}

#[test]
fn settle_drops_work_that_time_made_moot() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap();
    let s2 = failed(&s1, GraphOp::Set, 10, None);
    let s3 = ev(&s2, CallEvent::Ended, "a", 20, 20).unwrap();
    assert!(s3.retry.is_some());
    assert_eq!(s3.settle(t(30), &s()), None, "the clear is still needed");
    // The maybe-live session has expired on its own: nothing left to do.
    let settled = s3.settle(t(10 + 5 * MIN), &s()).unwrap();
    assert_eq!(settled.retry, None);
    assert_eq!(settled.due_at, None);
    assert_eq!(settled.revision, s3.revision + 1);
}

#[test]
fn state_round_trips_through_json() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap();
    let s2 = failed(&s1, GraphOp::Set, 10, None);
    let json = serde_json::to_string(&s2).unwrap();
    assert_eq!(serde_json::from_str::<SpeakingState>(&json).unwrap(), s2);
}

#[test]
fn after_the_clear_teams_is_read_back_once_the_echo_window_closes() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap();
    let s2 = done(&s1, GraphOp::Set, 10);
    let s3 = ev(&s2, CallEvent::Ended, "a", 60_000, 60_000).unwrap();
    let s4 = done(&s3, GraphOp::Clear, 60_100);
    let window_end = 60_100 + ECHO_WINDOW_MS;
    // A late Busy/InACall of the cleared session is still taken as its echo...
    assert!(s4.own_session_may_be_active(t(window_end - 1)));
    assert_eq!(s4.verify_step(t(window_end - 1)), VerifyStep::None);
    // ...and once the window closes, maintenance reads Teams back (a real call would show).
    assert!(!s4.own_session_may_be_active(t(window_end)));
    assert_eq!(s4.due_at, Some(t(window_end)));
    assert_eq!(s4.verify_step(t(window_end)), VerifyStep::Read);
    let s5 = s4.verified(t(window_end), &s()).unwrap();
    assert_eq!(s5.verify_step(t(window_end)), VerifyStep::None);
    assert_eq!(s5.due_at, None, "nothing left for maintenance");
    // A Graph that keeps failing the read does not keep the user due for ever.
    assert_eq!(s4.verify_step(t(window_end + 10 * MIN)), VerifyStep::GiveUp);
}

#[test]
fn a_new_call_before_the_read_back_replaces_it() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap();
    let s2 = ev(&done(&s1, GraphOp::Set, 10), CallEvent::Ended, "a", 20, 20).unwrap();
    let s3 = done(&s2, GraphOp::Clear, 30);
    assert!(
        s3.verified(t(31), &s()).is_none(),
        "not due yet: nothing to mark"
    );
    let s4 = ev(&s3, CallEvent::Started, "b", 40, 40).unwrap();
    let s5 = done(&s4, GraphOp::Set, 50);
    assert_eq!(
        s5.verify_at, None,
        "the new session's own clear reads back later"
    );
    assert_eq!(s5.verify_step(t(30 + ECHO_WINDOW_MS)), VerifyStep::None);
}

#[test]
fn unlinking_ends_every_call_and_asks_for_a_clear() {
    let s1 = ev(&SpeakingState::default(), CallEvent::Started, "a", 0, 0).unwrap();
    let s2 = ev(&s1, CallEvent::Started, "b", 5, 5).unwrap();
    let live = s2.after_graph(GraphOp::Set, &GraphOutcome::Done, t(10), &s());
    let ended = live.end_all_calls(t(20), &s()).unwrap();
    assert!(!ended.is_speaking());
    assert_eq!(ended.needed_op(t(20), &s()), Some(GraphOp::Clear));
    assert!(
        ended.due_at.is_some(),
        "maintenance clears it if nobody else does"
    );
    // A late end of one of those calls changes nothing Teams sees any more.
    let late_end = ev(&ended, CallEvent::Ended, "a", 25, 25).unwrap();
    assert!(!late_end.is_speaking());
    assert_eq!(late_end.needed_op(t(25), &s()), Some(GraphOp::Clear));
    let cleared = ended.after_graph(GraphOp::Clear, &GraphOutcome::Done, t(30), &s());
    assert_eq!(
        cleared.end_all_calls(t(40), &s()),
        None,
        "nothing left to clear"
    );
    assert_eq!(SpeakingState::default().end_all_calls(t(0), &s()), None);
}
