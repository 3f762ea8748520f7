//! The scenario step parser: good steps and bad ones, each error naming the problem.

use presence_sandbox::control::scenario::{Step, parse_step, parse_steps};
use presence_sandbox::swyx::{Outage, OwnStatus};
use std::time::Duration;

#[test]
fn scenario_steps_parse_strictly() {
    let ok = |s: &str| parse_step(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    assert_eq!(
        ok("teams alice@contoso DoNotDisturb"),
        Step::TeamsStatus {
            user: "alice@contoso".into(),
            availability: "DoNotDisturb".into(),
            activity: "DoNotDisturb".into()
        }
    );
    assert_eq!(
        ok("Teams alice busy/inacall"),
        Step::TeamsStatus {
            user: "alice".into(),
            availability: "Busy".into(),
            activity: "InACall".into()
        }
    );
    assert_eq!(
        ok("teams alice Offline"),
        Step::TeamsStatus {
            user: "alice".into(),
            availability: "Offline".into(),
            activity: "OffWork".into()
        }
    );
    assert_eq!(
        ok("swyx 101 call start"),
        Step::SwyxCallStart { user: "101".into() }
    );
    assert_eq!(
        ok("swyx 101 call end"),
        Step::SwyxCallEnd {
            user: "101".into(),
            call_id: None
        }
    );
    assert_eq!(
        ok("swyx 101 status dnd"),
        Step::SwyxStatus {
            user: "101".into(),
            status: OwnStatus::DoNotDisturb
        }
    );
    assert_eq!(
        ok("connector down 60s"),
        Step::Connector {
            mode: Outage::Unavailable,
            lasts: Some(Duration::from_secs(60))
        }
    );
    assert_eq!(
        ok("connector off"),
        Step::Connector {
            mode: Outage::NotListening,
            lasts: None
        }
    );
    assert_eq!(
        ok("connector up"),
        Step::Connector {
            mode: Outage::None,
            lasts: None
        }
    );
    assert_eq!(ok("graph down"), Step::GraphOutage { down: true });
    assert_eq!(
        ok("graph lifecycle Sub-1 SUBSCRIPTIONREMOVED"),
        Step::GraphLifecycle {
            subscription_id: "Sub-1".into(),
            event: "subscriptionRemoved".into()
        }
    );
    assert_eq!(ok("clock +30m"), Step::Clock(Duration::from_secs(1800)));
    assert_eq!(
        ok("swyx add 104 dan@contoso.com Dan Q"),
        Step::SwyxAdd {
            id: "104".into(),
            email: "dan@contoso.com".into(),
            name: "Dan Q".into()
        }
    );
    assert_eq!(ok("show"), Step::Show);
    assert_eq!(
        ok("teams bob signin"),
        Step::TeamsSession {
            user: "bob".into(),
            session: "teams-desktop".into(),
            availability: "Available".into(),
            activity: "Available".into()
        }
    );
    assert_eq!(
        ok("teams bob signout"),
        Step::TeamsSessionEnd {
            user: "bob".into(),
            session: "teams-desktop".into()
        }
    );
    // Written back in canonical form, which reads back as the same step.
    assert_eq!(
        ok("teams alice busy/inacall").to_string(),
        "teams alice Busy/InACall"
    );
    for step in [
        "teams a DoNotDisturb",
        "teams a clear",
        "teams a session s1 Busy/InAMeeting",
        "teams a session s1 end",
        "teams add id-a a@x.com A B",
        "swyx 1 call start",
        "swyx 1 call end c-1",
        "swyx 1 status loggedoff",
        "swyx add 1 a@x.com A",
        "connector off 2h",
        "connector up",
        "graph up",
        "graph lifecycle s missed",
        "clock +2h",
        "stats",
    ] {
        assert_eq!(ok(&ok(step).to_string()), ok(step), "{step}");
    }

    let bad = |s: &str, why: &str| {
        let e = parse_step(s).unwrap_err();
        assert!(e.contains(why), "{s:?} → {e:?} should mention {why:?}");
    };
    bad("teams alice Bsy", "unknown Teams availability \"Bsy\"");
    bad("teams alice AvailableIdle", "needs an activity");
    bad("teams alice Busy/In-A-Call", "bad Teams activity");
    bad("swyx 101 status Busy", "unknown Swyx status");
    bad("swyx 101 call pause", "cannot read this swyx step");
    bad("connector down 60", "bad duration \"60\"");
    bad("connector down 0s", "between 1s");
    bad("clock 30m", "only moves forward");
    bad("clock +30x", "bad duration");
    bad("graph lifecycle s1 renew", "unknown lifecycle event");
    bad("dance", "unknown step kind \"dance\"");
    bad("   ", "empty step");

    let e = parse_steps(&["show", "teams alice Busy/InACall", "swyx 101 call sing"])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("step 3 \"swyx 101 call sing\":"), "{e}");
}

#[test]
fn directory_steps_parse_and_write_back() {
    use presence_sandbox::control::scenario::DirectoryStep;
    let ok = |s: &str| parse_step(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    assert_eq!(
        ok("teams alice mail Alice.X@contoso.com"),
        Step::Directory(DirectoryStep::TeamsMail {
            user: "alice".into(),
            address: "Alice.X@contoso.com".into()
        }),
        "addresses keep their case"
    );
    assert_eq!(
        ok("teams bob delete forever"),
        Step::Directory(DirectoryStep::TeamsDelete {
            user: "bob".into(),
            forever: true
        })
    );
    assert_eq!(
        ok("Swyx 101 email none"),
        Step::Directory(DirectoryStep::SwyxEmail {
            user: "101".into(),
            address: None
        })
    );
    assert_eq!(
        ok("graph late 12s"),
        Step::Directory(DirectoryStep::GraphLate { seconds: Some(12) })
    );
    for s in [
        "teams alice alias a@contoso.com",
        "teams alice disable",
        "teams alice enable",
        "teams id-1 restore",
        "teams group Sales alice bob",
        "swyx 101 groups Sales Berlin",
        "swyx 101 remove",
        "swyx events off",
        "graph late off",
    ] {
        assert_eq!(ok(s).to_string(), s, "written back as typed");
    }
    for bad in ["graph late soon", "graph late 99999"] {
        let e = parse_step(bad).unwrap_err();
        assert!(e.contains("whole seconds"), "{bad}: {e}");
    }
    assert!(
        parse_step("teams alice mail").is_err(),
        "an address is needed"
    );
}
