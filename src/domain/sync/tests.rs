use super::*;

fn obs(av: &str, act: &str, at: i64, seq: Option<&str>) -> Observation {
    let mut presence = TeamsPresence::new(av, act);
    presence.sequence_number = seq.map(str::to_string);
    Observation {
        presence,
        received_at: Timestamp(at),
    }
}

fn apply(state: &UserSyncState, o: &Observation) -> (UserSyncState, Option<SwyxAction>) {
    match decide(state, o, &MappingRules::default()) {
        SyncDecision::Stale => (state.clone(), None),
        SyncDecision::Record(s) => (s, None),
        SyncDecision::Forward(s, a) => (s, Some(a)),
    }
}

#[test]
fn first_presence_is_forwarded_and_unchanged_mapping_is_not() {
    let s0 = UserSyncState::default();
    let (s1, a) = apply(&s0, &obs("Busy", "Busy", 10, None));
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Away)));
    assert_eq!(s1.revision, 10, "the first revision is the receive time");
    // In a meeting also maps to Away: recorded, not forwarded.
    let (s2, a) = apply(&s1, &obs("Busy", "InAMeeting", 20, None));
    assert_eq!(a, None);
    assert_eq!(s2.revision, 20);
    assert_eq!(s2.last_presence.unwrap().activity.as_str(), "InAMeeting");
}

#[test]
fn duplicates_and_late_arrivals_by_sequence_number_are_stale() {
    let (s1, _) = apply(
        &UserSyncState::default(),
        &obs("Busy", "InACall", 10, Some("0000000005")),
    );
    assert_eq!(
        decide(
            &s1,
            &obs("Busy", "InACall", 99, Some("0000000005")),
            &MappingRules::default()
        ),
        SyncDecision::Stale
    );
    // Received later, but older by sequence: a Graph retry of an earlier delivery.
    assert_eq!(
        decide(
            &s1,
            &obs("Available", "Available", 99, Some("0000000004")),
            &MappingRules::default()
        ),
        SyncDecision::Stale
    );
    let (_, a) = apply(&s1, &obs("Available", "Available", 5, Some("0000000006")));
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Available)));
}

#[test]
fn revisions_grow_even_when_the_clock_does_not() {
    let (s1, _) = apply(&UserSyncState::default(), &obs("Busy", "Busy", 1_000, None));
    let (s2, _) = apply(&s1, &obs("Available", "Available", 1_000, None));
    assert_eq!((s1.revision, s2.revision), (1_000, 1_001));
    // After an unlink/relink the state starts empty but the revision is still above the old ones.
    let (s3, _) = apply(&UserSyncState::default(), &obs("Busy", "Busy", 2_000, None));
    assert!(s3.revision > s2.revision);
}

#[test]
fn sequence_numbers_compare_as_strings_as_graph_documents_them() {
    // Byte order, as for a lexicographically sortable string: "2" sorts after "19".
    assert_eq!(compare_sequence("2", "19"), Ordering::Greater);
    assert_eq!(compare_sequence("009", "10"), Ordering::Less);
    assert_eq!(compare_sequence("b", "a"), Ordering::Greater);
}

#[test]
fn a_presence_with_sequence_2_after_19_is_applied_as_newer() {
    let (s1, _) = apply(
        &UserSyncState::default(),
        &obs("Busy", "Busy", 100, Some("19")),
    );
    // Received in order: "19" then "2"; by string order "2" is the newer presence.
    let (s2, action) = apply(&s1, &obs("Available", "Available", 200, Some("2")));
    assert_eq!(action, Some(SwyxAction::Set(SwyxStatus::Available)));
    assert_eq!(s2.last_sequence.as_deref(), Some("2"));
    // And "19" arriving again after "2" is a stale retry.
    assert_eq!(
        decide(
            &s2,
            &obs("Busy", "Busy", 300, Some("19")),
            &MappingRules::default()
        ),
        SyncDecision::Stale
    );
}

#[test]
fn without_sequence_numbers_receive_time_orders() {
    let (s1, _) = apply(&UserSyncState::default(), &obs("Busy", "Busy", 100, None));
    assert_eq!(
        decide(
            &s1,
            &obs("Available", "Available", 50, None),
            &MappingRules::default()
        ),
        SyncDecision::Stale
    );
    assert_eq!(
        decide(
            &s1,
            &obs("Busy", "Busy", 100, None),
            &MappingRules::default()
        ),
        SyncDecision::Stale
    );
    let (_, a) = apply(&s1, &obs("Available", "Available", 100, None));
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Available)));
}

fn apply_guarded(
    state: &UserSyncState,
    o: &Observation,
    own_session: bool,
) -> (UserSyncState, Option<SwyxAction>) {
    match decide_with_echo_guard(state, o, Some(&MappingRules::default()), own_session) {
        SyncDecision::Stale => (state.clone(), None),
        SyncDecision::Record(s) => (s, None),
        SyncDecision::Forward(s, a) => (s, Some(a)),
    }
}

#[test]
fn own_session_echo_is_recorded_but_not_forwarded() {
    let (s1, a) = apply(
        &UserSyncState::default(),
        &obs("Available", "Available", 1, None),
    );
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Available)));
    for activity in ["InACall", "InAConferenceCall"] {
        let (s2, a) = apply_guarded(&s1, &obs("Busy", activity, 2, None), true);
        assert_eq!(a, None, "{activity} is our own session's echo");
        assert_eq!(
            s2.teams_status,
            Some(SwyxStatus::Available),
            "Swyx keeps what it had"
        );
        assert_eq!(s2.last_presence.unwrap().activity.as_str(), activity);
    }
    // Nothing set on Swyx before: the echo sets nothing either.
    let (_, a) = apply_guarded(
        &UserSyncState::default(),
        &obs("Busy", "InACall", 2, None),
        true,
    );
    assert_eq!(a, None);
}

#[test]
fn other_states_pass_the_echo_guard_and_calls_pass_after_the_session() {
    let (s1, _) = apply(
        &UserSyncState::default(),
        &obs("Available", "Available", 1, None),
    );
    let (s2, a) = apply_guarded(&s1, &obs("DoNotDisturb", "DoNotDisturb", 2, None), true);
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::DoNotDisturb)));
    let (s3, a) = apply_guarded(&s2, &obs("Busy", "InACall", 3, None), true);
    assert_eq!(a, None);
    let (s4, a) = apply_guarded(&s3, &obs("Available", "Available", 4, None), false);
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Available)));
    // Session cleared: a Teams call of the user's own is forwarded as Speaking again.
    let (_, a) = apply_guarded(&s4, &obs("Busy", "InACall", 5, None), false);
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Speaking)));
}

#[test]
fn a_real_call_hidden_by_our_session_is_forwarded_when_read_back_unchanged() {
    let (s1, _) = apply(
        &UserSyncState::default(),
        &obs("Available", "Available", 1, Some("5")),
    );
    // During our session Teams shows Busy/InACall (seq 6): taken as our echo.
    let (s2, a) = apply_guarded(&s1, &obs("Busy", "InACall", 2, Some("6")), true);
    assert_eq!(a, None);
    assert!(s2.echo_held);
    // While the session may still be up, reading the same presence back changes nothing.
    let (_, a) = apply_guarded(&s2, &obs("Busy", "InACall", 3, Some("6")), true);
    assert_eq!(a, None);
    // Session gone, Teams unchanged (same seq): it is the user's own Teams call.
    let (s3, a) = apply_guarded(&s2, &obs("Busy", "InACall", 4, Some("6")), false);
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Speaking)));
    assert!(!s3.echo_held);
    // And only once: the same presence again is a duplicate.
    assert_eq!(
        decide(
            &s3,
            &obs("Busy", "InACall", 5, Some("6")),
            &MappingRules::default()
        ),
        SyncDecision::Stale
    );
}

#[test]
fn a_bogus_sequence_number_freezes_a_user_no_longer_than_graphs_retry_window() {
    let (s1, _) = apply(
        &UserSyncState::default(),
        &obs("Available", "Available", 0, Some("99999999999")),
    );
    // Graph's counter (reset, or the bogus one far ahead): lower numbers are stale while
    // they could still be retries of older notifications...
    let within = GRAPH_RETRY_WINDOW_MS;
    assert_eq!(
        decide(
            &s1,
            &obs("Away", "Away", within, Some("7")),
            &MappingRules::default()
        ),
        SyncDecision::Stale
    );
    // ...and accepted once no retry of an older one can arrive any more.
    let (s2, a) = apply(&s1, &obs("Away", "Away", within + 1, Some("7")));
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Away)));
    // From then on the new counter orders as usual.
    let (_, a) = apply(
        &s2,
        &obs("DoNotDisturb", "DoNotDisturb", within + 2, Some("8")),
    );
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::DoNotDisturb)));
    assert_eq!(
        decide(
            &s2,
            &obs("Busy", "Busy", within + 3, Some("6")),
            &MappingRules::default()
        ),
        SyncDecision::Stale
    );
}

#[test]
fn swyx_is_repaired_only_where_it_holds_something_else_and_above_its_revision() {
    let state = UserSyncState {
        revision: 5,
        teams_status: Some(SwyxStatus::Away),
        ..Default::default()
    };
    let held = |status, revision| HeldStatus { status, revision };
    assert_eq!(swyx_repair(&state, &held(Some(SwyxStatus::Away), 2)), None);
    assert_eq!(
        swyx_repair(&state, &held(Some(SwyxStatus::Available), 3)),
        Some(SwyxRepair {
            revision: 5,
            raise_state: false
        })
    );
    // Swyx lost the status (or never got it) and says so with a higher revision.
    assert_eq!(
        swyx_repair(&state, &held(None, 9)),
        Some(SwyxRepair {
            revision: 10,
            raise_state: true
        })
    );
}

#[test]
fn no_sync_withdraws_only_what_the_bridge_set() {
    let (s0, a) = apply(
        &UserSyncState::default(),
        &obs("Offline", "Offline", 1, None),
    );
    assert_eq!(a, None, "nothing was set, so nothing is withdrawn");
    let (s1, a) = apply(&s0, &obs("DoNotDisturb", "DoNotDisturb", 2, None));
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::DoNotDisturb)));
    let (s2, a) = apply(&s1, &obs("Offline", "Offline", 3, None));
    assert_eq!(a, Some(SwyxAction::Withdraw));
    assert_eq!(s2.teams_status, None);
    let (_, a) = apply(&s2, &obs("PresenceUnknown", "PresenceUnknown", 4, None));
    assert_eq!(a, None);
}

#[test]
fn switched_off_withdraws_once_then_records_and_on_again_sends_the_same_presence() {
    let rules = MappingRules::default();
    let busy = obs("Busy", "Busy", 10, Some("5"));
    let (s1, a) = apply(&UserSyncState::default(), &busy);
    assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Away)));

    // Off: the status the bridge set is withdrawn, and nothing else is ever sent.
    let dnd = obs("DoNotDisturb", "DoNotDisturb", 20, Some("6"));
    let SyncDecision::Forward(s2, SwyxAction::Withdraw) =
        decide_with_echo_guard(&s1, &dnd, None, false)
    else {
        panic!("switching off withdraws the Teams-derived status")
    };
    assert_eq!(s2.teams_status, None);
    let away = obs("Away", "Away", 30, Some("7"));
    let SyncDecision::Record(s3) = decide_with_echo_guard(&s2, &away, None, false) else {
        panic!("while off a change is recorded, not sent")
    };

    // On again: the same presence read back (same sequenceNumber) is judged, not stale.
    let read_back = obs("Away", "Away", 40, Some("7"));
    assert_eq!(
        decide_with_echo_guard(&s3, &read_back, Some(&rules), false),
        SyncDecision::Forward(
            UserSyncState {
                revision: 40,
                last_received_at: Some(Timestamp(40)),
                teams_status: Some(SwyxStatus::Away),
                echo_held: false,
                ..s3.clone()
            },
            SwyxAction::Set(SwyxStatus::Away)
        )
    );
    // …and re-judging the stored presence directly does the same.
    let SyncDecision::Forward(_, action) = rejudge(&s3, Timestamp(40), Some(&rules), false) else {
        panic!("re-judged")
    };
    assert_eq!(action, SwyxAction::Set(SwyxStatus::Away));
    assert_eq!(
        rejudge(
            &UserSyncState::default(),
            Timestamp(40),
            Some(&rules),
            false
        ),
        SyncDecision::Stale,
        "nothing seen yet: nothing to judge"
    );
}

#[test]
fn a_status_still_held_while_switched_off_is_withdrawn_when_the_same_presence_is_read_back() {
    let (set, _) = apply(
        &UserSyncState::default(),
        &obs("Busy", "Busy", 10, Some("5")),
    );
    let read_back = obs("Busy", "Busy", 20, Some("5"));
    assert_eq!(
        decide(&set, &read_back, &MappingRules::default()),
        SyncDecision::Stale,
        "on: the same presence again changes nothing"
    );
    // Switched off, but its withdrawal never made (cut short after the switch was stored).
    let SyncDecision::Forward(withdrawn, SwyxAction::Withdraw) =
        decide_with_echo_guard(&set, &read_back, None, false)
    else {
        panic!("the status the bridge set is withdrawn")
    };
    assert_eq!(withdrawn.teams_status, None);
    let again = obs("Busy", "Busy", 30, Some("5"));
    assert!(matches!(
        decide_with_echo_guard(&withdrawn, &again, None, false),
        SyncDecision::Stale | SyncDecision::Record(_)
    ));
}
