//! The decision itself: decide each Swyx user from the Entra users holding its address, refuse
//! Entra users claimed twice, then compare with the links held.

use super::matcher::{EntraMatches, Lookup, usable_email};
use super::*;
use std::collections::{BTreeMap, BTreeSet};

/// What one Swyx user comes to, before links are compared.
enum Outcome {
    /// Linked by hand: the link held stays as it is.
    Manual,
    Skip(SkipReason),
    Refuse(Refusal),
    Match {
        entra: usize,
        on: MatchedOn,
        email: String,
    },
}

/// Decides the links from a whole Entra directory at hand: see the module documentation.
pub fn plan(
    swyx: &[SwyxCandidate],
    entra: &[EntraCandidate],
    links: &[CurrentLink],
    excluded: &BTreeSet<String>,
) -> LinkPlan {
    let mut matches = EntraMatches::for_swyx(swyx);
    for u in entra {
        matches.observe(u);
    }
    plan_matched(swyx, &matches, links, excluded)
}

/// Decides the links from the Entra users that hold a Swyx user's address (built page by page
/// with [`EntraMatches::observe`]).
pub fn plan_matched(
    swyx: &[SwyxCandidate],
    entra: &EntraMatches,
    links: &[CurrentLink],
    excluded: &BTreeSet<String>,
) -> LinkPlan {
    // One entry per Swyx id (a connector that listed one twice: the last wins).
    let swyx: BTreeMap<&str, &SwyxCandidate> =
        swyx.iter().map(|u| (u.swyx_user_id.as_str(), u)).collect();
    // Only addresses more than one Swyx user lists: at 100,000 users a map of every address
    // would be a third of the plan's memory.
    let mut sharing: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (&id, u) in &swyx {
        if let Some(e) = usable_email(u).filter(|e| entra.maybe_shared(e)) {
            sharing.entry(e).or_default().push(id);
        }
    }
    let manual_by_entra: BTreeMap<&str, &str> = links
        .iter()
        .filter(|l| !l.automatic)
        .map(|l| (l.entra_id.as_str(), l.swyx_user_id.as_str()))
        .collect();
    let link_by_swyx: BTreeMap<&str, &CurrentLink> =
        links.iter().map(|l| (l.swyx_user_id.as_str(), l)).collect();

    let mut outcomes: BTreeMap<&str, Outcome> = BTreeMap::new();
    for (&id, u) in &swyx {
        let outcome = match link_by_swyx.get(id) {
            Some(l) if !l.automatic => Outcome::Manual,
            _ => decide(u, entra, &sharing, &manual_by_entra, excluded),
        };
        outcomes.insert(id, outcome);
    }
    // An Entra user two Swyx users match (through different addresses) goes to neither.
    // Counted first, so only the rare Entra user claimed twice costs a list of ids.
    let mut claimed = vec![0u8; entra.users_kept()];
    for o in outcomes.values() {
        if let Outcome::Match { entra, .. } = o {
            claimed[*entra] = claimed[*entra].saturating_add(1);
        }
    }
    let mut claims: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (&id, o) in &outcomes {
        if let Outcome::Match { entra, .. } = o
            && claimed[*entra] > 1
        {
            claims.entry(*entra).or_default().push(id);
        }
    }
    for (entra_idx, ids) in claims {
        let refusal = Refusal::SharedEntraUser {
            entra_id: entra.user(entra_idx).id.clone(),
            swyx_user_ids: ids.iter().map(|s| s.to_string()).collect(),
        };
        for id in ids {
            outcomes.insert(id, Outcome::Refuse(refusal.clone()));
        }
    }
    compare_with_links(outcomes, entra, links, &link_by_swyx)
}

fn decide(
    u: &SwyxCandidate,
    entra: &EntraMatches,
    sharing: &BTreeMap<String, Vec<&str>>,
    manual_by_entra: &BTreeMap<&str, &str>,
    excluded: &BTreeSet<String>,
) -> Outcome {
    if excluded.contains(&u.swyx_user_id) {
        return Outcome::Skip(SkipReason::Excluded);
    }
    if !u.in_scope {
        return Outcome::Skip(SkipReason::OutOfScope);
    }
    if let Some(problem) = &u.id_problem {
        return Outcome::Refuse(Refusal::InvalidSwyxId {
            problem: problem.clone(),
        });
    }
    let Some(email) = usable_email(u) else {
        return Outcome::Refuse(Refusal::NoEmail);
    };
    if let Some(ids) = sharing.get(&email).filter(|ids| ids.len() > 1) {
        return Outcome::Refuse(Refusal::SharedAddress {
            email,
            swyx_user_ids: ids.iter().map(|s| s.to_string()).collect(),
        });
    }
    let (i, on) = match entra.lookup(&email) {
        Lookup::None => return Outcome::Refuse(Refusal::NoEntraUser { email }),
        Lookup::Many(ids) => {
            let mut entra_ids: Vec<String> =
                ids.iter().map(|&i| entra.user(i).id.clone()).collect();
            entra_ids.sort();
            return Outcome::Refuse(Refusal::AmbiguousAddress { email, entra_ids });
        }
        Lookup::One(i, on) => (i, on),
    };
    let user = entra.user(i);
    if !user.enabled {
        return Outcome::Refuse(Refusal::Disabled {
            entra_id: user.id.clone(),
        });
    }
    if !user.in_scope {
        return Outcome::Skip(SkipReason::OutOfScope);
    }
    if let Some(owner) = manual_by_entra.get(user.id.as_str()) {
        return Outcome::Refuse(Refusal::LinkedManually {
            entra_id: user.id.clone(),
            swyx_user_id: owner.to_string(),
        });
    }
    Outcome::Match {
        entra: i,
        on,
        email,
    }
}

/// Turns each Swyx user's outcome into link / unlink / unchanged against the links held; an
/// automatic link whose Swyx user is gone is unlinked, a manual one stays. The outcomes are
/// consumed: what they hold moves into the plan instead of being copied.
fn compare_with_links(
    outcomes: BTreeMap<&str, Outcome>,
    entra: &EntraMatches,
    links: &[CurrentLink],
    link_by_swyx: &BTreeMap<&str, &CurrentLink>,
) -> LinkPlan {
    let mut plan = LinkPlan::default();
    // Links whose Swyx user the connector no longer lists: first, while the outcomes are whole.
    for l in links
        .iter()
        .filter(|l| !outcomes.contains_key(l.swyx_user_id.as_str()))
    {
        if l.automatic {
            plan.unlink.push(PlannedUnlink {
                swyx_user_id: l.swyx_user_id.clone(),
                entra_id: l.entra_id.clone(),
                reason: UnlinkReason::SwyxUserRemoved,
            });
        } else {
            plan.unchanged.push(Unchanged {
                swyx_user_id: l.swyx_user_id.clone(),
                entra_id: l.entra_id.clone(),
                manual: true,
            });
        }
    }
    for (id, outcome) in outcomes {
        let link = link_by_swyx.get(id);
        let held = link.filter(|l| l.automatic);
        let unlink = |reason: UnlinkReason| {
            held.map(|l| PlannedUnlink {
                swyx_user_id: id.to_string(),
                entra_id: l.entra_id.clone(),
                reason,
            })
        };
        match outcome {
            Outcome::Manual => plan.unchanged.push(Unchanged {
                swyx_user_id: id.to_string(),
                entra_id: link.map(|l| l.entra_id.clone()).unwrap_or_default(),
                manual: true,
            }),
            Outcome::Skip(reason) => {
                let why = match reason {
                    SkipReason::Excluded => UnlinkReason::Excluded,
                    SkipReason::OutOfScope => UnlinkReason::OutOfScope,
                };
                plan.unlink.extend(unlink(why));
                plan.skipped.push(Skipped {
                    swyx_user_id: id.to_string(),
                    reason,
                });
            }
            Outcome::Refuse(refusal) => {
                plan.unlink.extend(unlink(UnlinkReason::Refused {
                    refusal: refusal.clone(),
                }));
                plan.refused.push(Refused {
                    swyx_user_id: id.to_string(),
                    refusal,
                });
            }
            Outcome::Match {
                entra: i,
                on,
                email,
            } => {
                let entra_id = &entra.user(i).id;
                if held.is_some_and(|l| &l.entra_id == entra_id) {
                    plan.unchanged.push(Unchanged {
                        swyx_user_id: id.to_string(),
                        entra_id: entra_id.clone(),
                        manual: false,
                    });
                    continue;
                }
                plan.unlink.extend(unlink(UnlinkReason::Rematched {
                    entra_id: entra_id.clone(),
                }));
                plan.link.push(PlannedLink {
                    swyx_user_id: id.to_string(),
                    entra_id: entra_id.clone(),
                    email,
                    matched_on: on,
                    groups: Vec::new(),
                });
            }
        }
    }
    // Entries come from the links of Swyx users no longer listed (one link per Swyx user) and
    // from one outcome per listed Swyx user, so no two compare equal: the unstable sort gives
    // the same order without the stable sort's scratch buffer, as large as the list itself here
    // (5.6 MB at 100,000 users, heaptrack).
    plan.unlink
        .sort_unstable_by(|a, b| a.swyx_user_id.cmp(&b.swyx_user_id));
    plan.unchanged
        .sort_unstable_by(|a, b| a.swyx_user_id.cmp(&b.swyx_user_id));
    // Grown by doubling: up to twice the room they need, held until the plan is carried out.
    plan.unchanged.shrink_to_fit();
    plan.link.shrink_to_fit();
    plan
}
