//! Matching page by page (`EntraMatches::observe`) decides as the whole directory would.

use super::*;

#[test]
fn only_entra_users_holding_a_swyx_address_are_kept_and_matching_is_unchanged() {
    // A tenant ten times the Swyx site: every other Entra user is looked at and dropped.
    let s: Vec<SwyxCandidate> = (0..10)
        .map(|i| swyx(&format!("{}", 100 + i), &format!("user{i}@corp.example")))
        .collect();
    let e: Vec<EntraCandidate> = (0..100)
        .map(|i| {
            entra(
                &format!("e{i}"),
                &format!("user{i}@corp.example"),
                None,
                &[],
            )
        })
        .collect();
    let mut matches = EntraMatches::for_swyx(&users(&s));
    for u in &e {
        matches.observe(u);
    }
    assert_eq!(matches.users_seen(), 100);
    assert_eq!(matches.users_kept(), 10);
    let streamed = plan_matched(&users(&s), &matches, &held(&[]), &none());
    assert_eq!(streamed, plan(&s, &e, &[], &none()));
    assert_eq!(streamed.link.len(), 10);
    assert_eq!(
        linked(&streamed).first(),
        Some(&("100", "e0", MatchedOn::UserPrincipalName))
    );
}

#[test]
fn an_address_held_by_two_entra_users_in_one_property_is_ambiguous_when_streamed() {
    let s = [swyx("101", "shared@corp.example")];
    let mut matches = EntraMatches::for_swyx(&users(&s));
    // The same alias twice on one user counts once; a second user makes it ambiguous.
    matches.observe(&entra(
        "e1",
        "a@corp.example",
        None,
        &["smtp:shared@corp.example", "SMTP:Shared@corp.example"],
    ));
    let one = plan_matched(&users(&s), &matches, &held(&[]), &none());
    assert_eq!(linked(&one), [("101", "e1", MatchedOn::ProxyAddress)]);
    matches.observe(&entra(
        "e2",
        "b@corp.example",
        None,
        &["smtp:shared@corp.example"],
    ));
    let two = plan_matched(&users(&s), &matches, &held(&[]), &none());
    assert_eq!(
        refusal(&two, "101"),
        Refusal::AmbiguousAddress {
            email: "shared@corp.example".into(),
            entra_ids: vec!["e1".into(), "e2".into()],
        }
    );
}
