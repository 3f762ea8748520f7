use super::*;
use std::collections::BTreeSet;

mod streamed;

fn swyx(id: &str, email: &str) -> SwyxCandidate {
    SwyxCandidate {
        swyx_user_id: id.into(),
        email: (!email.is_empty()).then(|| email.into()),
        in_scope: true,
        id_problem: None,
        groups: Box::default(),
    }
}

fn entra(id: &str, upn: &str, mail: Option<&str>, aliases: &[&str]) -> EntraCandidate {
    EntraCandidate {
        id: id.into(),
        mail: mail.map(str::to_string),
        user_principal_name: upn.into(),
        proxy_addresses: aliases.iter().map(|a| a.to_string()).collect(),
        enabled: true,
        in_scope: true,
    }
}

fn link(entra_id: &str, swyx_user_id: &str, automatic: bool) -> CurrentLink {
    CurrentLink {
        entra_id: entra_id.into(),
        swyx_user_id: swyx_user_id.into(),
        automatic,
        groups: Box::default(),
    }
}

/// The whole-directory plan, with the links as the store lists them.
fn plan(
    s: &[SwyxCandidate],
    e: &[EntraCandidate],
    links: &[CurrentLink],
    excluded: &BTreeSet<String>,
) -> LinkPlan {
    super::plan(&users(s), e, &held(links), excluded)
}

fn users(s: &[SwyxCandidate]) -> SwyxUsers {
    SwyxUsers::of(s.iter().cloned()).expect("a few users fit")
}

fn held(links: &[CurrentLink]) -> HeldLinks {
    HeldLinks::of(links.iter().cloned()).expect("a few links fit")
}

fn none() -> BTreeSet<String> {
    BTreeSet::new()
}

fn linked(plan: &LinkPlan) -> Vec<(&str, &str, MatchedOn)> {
    plan.link
        .iter()
        .map(|l| (l.swyx_user_id.as_str(), l.entra_id.as_str(), l.matched_on))
        .collect()
}

fn refusal(plan: &LinkPlan, swyx_user_id: &str) -> Refusal {
    plan.refused
        .iter()
        .find(|r| r.swyx_user_id == swyx_user_id)
        .map(|r| r.refusal.clone())
        .unwrap_or_else(|| panic!("{swyx_user_id} is not refused: {plan:?}"))
}

#[test]
fn mail_then_upn_then_smtp_alias_without_regard_to_case() {
    let e = [
        entra(
            "e1",
            "anna@corp.example",
            Some("Anna.Schmidt@Corp.Example"),
            &[],
        ),
        entra("e2", "BOB@corp.example", None, &[]),
        entra(
            "e3",
            "c@corp.example",
            None,
            &["SMTP:c@corp.example", "smtp:Carl@Old.Example", "x500:/o=x"],
        ),
    ];
    let s = [
        swyx("101", "anna.schmidt@corp.example"),
        swyx("102", " bob@CORP.example "),
        swyx("103", "carl@old.example"),
        swyx("104", "/o=x"),
    ];
    let plan = plan(&s, &e, &[], &none());
    assert_eq!(
        linked(&plan),
        [
            ("101", "e1", MatchedOn::Mail),
            ("102", "e2", MatchedOn::UserPrincipalName),
            ("103", "e3", MatchedOn::ProxyAddress),
        ]
    );
    assert_eq!(plan.link[1].email, "bob@corp.example");
    // An x500 proxy address is not an e-mail address; nor is anything without an @.
    assert_eq!(refusal(&plan, "104"), Refusal::NoEmail);
}

#[test]
fn the_mail_of_one_user_wins_over_the_upn_of_another() {
    let e = [
        entra(
            "e1",
            "someone@corp.example",
            Some("shared@corp.example"),
            &[],
        ),
        entra("e2", "shared@corp.example", None, &[]),
    ];
    let plan = plan(&[swyx("101", "shared@corp.example")], &e, &[], &none());
    assert_eq!(linked(&plan), [("101", "e1", MatchedOn::Mail)]);
}

#[test]
fn ambiguous_addresses_are_refused_on_both_sides() {
    let e = [
        entra("e1", "a1@corp.example", Some("team@corp.example"), &[]),
        entra("e2", "a2@corp.example", Some("TEAM@corp.example"), &[]),
        entra("e3", "bob@corp.example", Some("bob@corp.example"), &[]),
        entra(
            "e4",
            "carl@corp.example",
            Some("carl@corp.example"),
            &["smtp:c.k@corp.example"],
        ),
    ];
    let s = [
        swyx("101", "team@corp.example"),
        swyx("102", "bob@corp.example"),
        swyx("103", "Bob@corp.example"),
        swyx("104", "carl@corp.example"),
        swyx("105", "c.k@corp.example"),
    ];
    let plan = plan(&s, &e, &[], &none());
    assert!(plan.link.is_empty(), "{plan:?}");
    assert_eq!(
        refusal(&plan, "101"),
        Refusal::AmbiguousAddress {
            email: "team@corp.example".into(),
            entra_ids: vec!["e1".into(), "e2".into()]
        }
    );
    let shared = Refusal::SharedAddress {
        email: "bob@corp.example".into(),
        swyx_user_ids: vec!["102".into(), "103".into()],
    };
    assert_eq!(refusal(&plan, "102"), shared);
    assert_eq!(refusal(&plan, "103"), shared);
    let both = Refusal::SharedEntraUser {
        entra_id: "e4".into(),
        swyx_user_ids: vec!["104".into(), "105".into()],
    };
    assert_eq!(refusal(&plan, "104"), both);
    assert_eq!(refusal(&plan, "105"), both);
}

#[test]
fn disabled_accounts_missing_users_and_bad_ids_are_refused() {
    let mut off = entra("e1", "anna@corp.example", Some("anna@corp.example"), &[]);
    off.enabled = false;
    let mut bad = swyx("..", "carl@corp.example");
    bad.id_problem = Some("a Swyx user id must not be \".\" or \"..\"".into());
    let s = [
        swyx("101", "anna@corp.example"),
        swyx("102", "nobody@corp.example"),
        bad,
    ];
    let e = [
        off,
        entra("e3", "carl@corp.example", Some("carl@corp.example"), &[]),
    ];
    let plan = plan(&s, &e, &[], &none());
    assert!(plan.link.is_empty());
    assert_eq!(
        refusal(&plan, "101"),
        Refusal::Disabled {
            entra_id: "e1".into()
        }
    );
    assert_eq!(
        refusal(&plan, "102"),
        Refusal::NoEntraUser {
            email: "nobody@corp.example".into()
        }
    );
    assert!(matches!(
        refusal(&plan, ".."),
        Refusal::InvalidSwyxId { .. }
    ));
}

#[test]
fn manual_links_and_exclusions_win_over_matching() {
    let e = [
        entra("e1", "anna@corp.example", Some("anna@corp.example"), &[]),
        entra("e2", "bob@corp.example", Some("bob@corp.example"), &[]),
    ];
    let s = [
        // Linked by hand to bob's account although the address says anna.
        swyx("101", "anna@corp.example"),
        // Excluded: a sync never links it, and its automatic link goes.
        swyx("102", "bob@corp.example"),
        swyx("103", "anna@corp.example.invalid"),
    ];
    let links = [
        link("e2", "101", false),
        link("e9", "gone", false),
        link("e1", "102", true),
    ];
    let excluded: BTreeSet<String> = ["102".to_string()].into();
    let plan = plan(&s, &e, &links, &excluded);
    assert!(plan.link.is_empty(), "{plan:?}");
    let manual = Unchanged {
        automatic: 0,
        manual: 2,
    };
    assert_eq!(plan.unchanged, manual, "manual links stay, listed or not");
    assert_eq!(
        plan.unlink,
        [PlannedUnlink {
            swyx_user_id: "102".into(),
            entra_id: "e1".into(),
            reason: UnlinkReason::Excluded
        }]
    );
    assert_eq!(plan.skipped[0].reason, SkipReason::Excluded);

    // Bob's account is taken by hand: a Swyx user whose address matches it is refused.
    let plan = super::plan(
        &users(&[swyx("104", "bob@corp.example")]),
        &e,
        &held(&[link("e2", "101", false)]),
        &BTreeSet::new(),
    );
    assert_eq!(
        refusal(&plan, "104"),
        Refusal::LinkedManually {
            entra_id: "e2".into(),
            swyx_user_id: "101".into()
        }
    );
}

#[test]
fn automatic_links_follow_the_directories() {
    let mut disabled = entra("e3", "carl@corp.example", Some("carl@corp.example"), &[]);
    disabled.enabled = false;
    let mut outside = entra("e4", "dora@corp.example", Some("dora@corp.example"), &[]);
    outside.in_scope = false;
    let e = [
        entra("e1", "anna@corp.example", Some("anna@corp.example"), &[]),
        entra("e2", "bob@corp.example", Some("bob@corp.example"), &[]),
        disabled,
        outside,
    ];
    let mut not_in_group = swyx("105", "eve@corp.example");
    not_in_group.in_scope = false;
    let s = [
        swyx("101", "anna@corp.example"),
        // Changed address: now bob.
        swyx("102", "bob@corp.example"),
        swyx("103", "carl@corp.example"),
        swyx("104", "dora@corp.example"),
        not_in_group,
    ];
    let links = [
        link("e1", "101", true),
        link("e9", "102", true),
        link("e3", "103", true),
        link("e4", "104", true),
        link("e5", "105", true),
        link("e6", "106", true),
    ];
    let plan = plan(&s, &e, &links, &none());
    assert_eq!(linked(&plan), [("102", "e2", MatchedOn::Mail)]);
    let unlinked: Vec<(&str, &UnlinkReason)> = plan
        .unlink
        .iter()
        .map(|u| (u.swyx_user_id.as_str(), &u.reason))
        .collect();
    assert_eq!(
        unlinked,
        [
            (
                "102",
                &UnlinkReason::Rematched {
                    entra_id: "e2".into()
                }
            ),
            (
                "103",
                &UnlinkReason::Refused {
                    refusal: Refusal::Disabled {
                        entra_id: "e3".into()
                    }
                }
            ),
            ("104", &UnlinkReason::OutOfScope),
            ("105", &UnlinkReason::OutOfScope),
            ("106", &UnlinkReason::SwyxUserRemoved),
        ]
    );
    let kept = Unchanged {
        automatic: 1,
        manual: 0,
    };
    assert_eq!(plan.unchanged, kept, "101 keeps its automatic link");
}

#[test]
fn a_second_plan_after_carrying_one_out_changes_nothing() {
    let e: Vec<EntraCandidate> = (0..50)
        .map(|i| {
            let a = format!("u{i}@corp.example");
            entra(&format!("e{i}"), &a, Some(&a), &[])
        })
        .collect();
    let s: Vec<SwyxCandidate> = (0..60)
        .map(|i| swyx(&format!("{}", 1000 + i), &format!("U{i}@corp.example")))
        .collect();
    let first = plan(&s, &e, &[], &none());
    assert_eq!(first.link.len(), 50);
    assert_eq!(first.refused.len(), 10);
    let links: Vec<CurrentLink> = first
        .link
        .iter()
        .map(|l| link(&l.entra_id, &l.swyx_user_id, true))
        .collect();
    let second = plan(&s, &e, &links, &none());
    assert!(second.changes_nothing(), "{second:?}");
    assert_eq!(second.unchanged.automatic, 50);
    assert!(
        second
            .summary()
            .starts_with("0 to link, 0 to unlink, 50 unchanged, 10 refused")
    );
}

#[test]
fn the_plan_serialises_with_reasons_by_name() {
    let plan = plan(&[swyx("101", "")], &[], &[link("e1", "102", true)], &none());
    let v = serde_json::to_value(&plan).unwrap();
    assert_eq!(v["refused"][0]["refusal"]["reason"], "noEmail");
    assert_eq!(v["unlink"][0]["reason"]["reason"], "swyxUserRemoved");
    assert_eq!(v["unlink"][0]["entraId"], "e1");
}
