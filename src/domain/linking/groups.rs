//! The Swyx groups each link carries: the connector's user list names them, the links keep them
//! (per-group rules pick by them), and a sync brings them up to date like any other change.

use super::held::HeldLinks;
use super::sorted::SortedBy;
use super::swyx_users::SwyxUsers;
use super::{LinkPlan, Regrouped};

/// Group names as the connector lists them, trimmed, without empty or repeated ones (compared
/// without case) and sorted, so an unchanged list compares equal however it is listed.
pub fn normalize_groups(groups: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in groups.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(g)) {
            out.push(g.to_string());
        }
    }
    out.sort_by_key(|g| g.to_lowercase());
    out
}

/// Completes `plan` with the groups: each new link gets its Swyx user's (as `swyx` lists them),
/// and each link held that stays and whose groups changed is regrouped.
pub fn with_groups(mut plan: LinkPlan, swyx: &SwyxUsers, links: &HeldLinks) -> LinkPlan {
    // Sorted positions, not a map of every id (6.6 MB at 100,000 users; a connector that listed
    // one twice: the last wins).
    let listed = SortedBy::new(swyx, |u| u.swyx_user_id, |_| true);
    for link in &mut plan.link {
        link.groups = listed
            .get(&link.swyx_user_id)
            .map(|u| u.groups.to_vec())
            .unwrap_or_default();
    }
    // A binary search of the unlinks (ordered by Swyx id), not a scan per link: a scope change
    // can unlink tens of thousands.
    let leaving = |id: &str| {
        plan.unlink
            .binary_search_by(|u| u.swyx_user_id.as_str().cmp(id))
            .is_ok()
    };
    let mut regroup = Vec::new();
    for held in links.iter() {
        let Some(now) = listed.get(held.swyx_user_id).map(|u| u.groups) else {
            continue; // not listed: the connector dropped the user, or a manual link
        };
        if !leaving(held.swyx_user_id) && now != held.groups {
            regroup.push(Regrouped {
                swyx_user_id: held.swyx_user_id.to_string(),
                entra_id: held.entra_id.to_string(),
                groups: now.to_vec(),
            });
        }
    }
    regroup.sort_by(|a, b| a.swyx_user_id.cmp(&b.swyx_user_id));
    plan.regroup.extend(regroup);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::linking::{CurrentLink, MatchedOn, PlannedLink, SwyxCandidate};

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn groups_compare_trimmed_without_case_or_order() {
        assert_eq!(
            normalize_groups(&names(&[" Support", "sales", "", "Sales ", "support"])),
            names(&["sales", "Support"])
        );
    }

    #[test]
    fn new_links_get_their_groups_and_only_changed_kept_links_are_regrouped() {
        let plan = LinkPlan {
            link: vec![PlannedLink {
                swyx_user_id: "1003".into(),
                entra_id: "c".into(),
                email: "carol@contoso.example".into(),
                matched_on: MatchedOn::Mail,
                groups: Vec::new(),
            }],
            ..LinkPlan::default()
        };
        let listed = SwyxUsers::of(
            [
                ("1001", names(&["Sales"])),
                ("1002", names(&["Support"])),
                ("1003", names(&["Night shift"])),
            ]
            .into_iter()
            .map(|(id, groups)| SwyxCandidate {
                swyx_user_id: id.into(),
                email: None,
                in_scope: true,
                id_problem: None,
                groups: groups.into(),
            }),
        )
        .expect("three users fit");
        // Held in the store's order (by Entra id), not by Swyx id.
        let links = HeldLinks::of(
            [
                ("1009", "a", names(&["Sales"])),
                ("1002", "b", names(&["Sales"])),
                ("1001", "c", names(&["Sales"])),
            ]
            .into_iter()
            .map(|(id, entra, groups)| CurrentLink {
                entra_id: entra.into(),
                swyx_user_id: id.into(),
                automatic: true,
                groups: groups.into(),
            }),
        )
        .expect("three links fit");
        let plan = with_groups(plan, &listed, &links);
        assert_eq!(plan.link[0].groups, names(&["Night shift"]));
        assert_eq!(
            plan.regroup,
            [Regrouped {
                swyx_user_id: "1002".into(),
                entra_id: "b".into(),
                groups: names(&["Support"]),
            }]
        );
        assert!(!plan.changes_nothing());
    }
}
