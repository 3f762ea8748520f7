//! The decision itself: decide each Swyx user from the Entra users holding its address, refuse
//! Entra users claimed twice, then compare with the links held.

use super::held::HeldLinks;
use super::matcher::{EntraMatches, Lookup, usable_email};
use super::sorted::SortedBy;
use super::swyx_users::{SwyxUser, SwyxUsers};
use super::*;
use std::collections::{BTreeMap, BTreeSet};

/// What one Swyx user comes to, before links are compared. Small (16 bytes): there is one per
/// Swyx user, and refusals are the rare case.
enum Outcome {
    /// Linked by hand: the link held stays as it is.
    Manual,
    Skip(SkipReason),
    Refuse(Box<Refusal>),
    /// The Entra user at this index of the matches, found through this property (the address is
    /// the Swyx user's own, normalized again when the link is planned).
    Match(u32, MatchedOn),
}

/// Decides the links from a whole Entra directory at hand: see the module documentation.
pub fn plan(
    swyx: &SwyxUsers,
    entra: &[EntraCandidate],
    links: &HeldLinks,
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
    swyx: &SwyxUsers,
    entra: &EntraMatches,
    links: &HeldLinks,
    excluded: &BTreeSet<String>,
) -> LinkPlan {
    let swyx = SortedBy::new(swyx, |u| u.swyx_user_id, |_| true);
    // Only addresses more than one Swyx user lists: at 100,000 users a map of every address
    // would be a third of the plan's memory.
    let mut sharing: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for p in 0..swyx.len() {
        let u = swyx.at(p);
        if let Some(e) = usable_email(u).filter(|e| entra.maybe_shared(e)) {
            sharing.entry(e).or_default().push(u.swyx_user_id);
        }
    }
    let manual_by_entra = SortedBy::new(links, |l| l.entra_id, |l| !l.automatic);
    let link_by_swyx = SortedBy::new(links, |l| l.swyx_user_id, |_| true);

    // One per Swyx user, in the order of `swyx`.
    let mut outcomes: Vec<Outcome> = (0..swyx.len())
        .map(|p| {
            let u = swyx.at(p);
            match link_by_swyx.get(u.swyx_user_id) {
                Some(l) if !l.automatic => Outcome::Manual,
                _ => decide(u, entra, &sharing, &manual_by_entra, excluded),
            }
        })
        .collect();
    // An Entra user two Swyx users match (through different addresses) goes to neither.
    // Counted first, so only the rare Entra user claimed twice costs a list of ids.
    let mut claimed = vec![0u8; entra.users_kept()];
    for o in &outcomes {
        if let Outcome::Match(i, _) = o {
            claimed[*i as usize] = claimed[*i as usize].saturating_add(1);
        }
    }
    let mut claims: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (p, o) in outcomes.iter().enumerate() {
        if let Outcome::Match(i, _) = o
            && claimed[*i as usize] > 1
        {
            claims.entry(*i).or_default().push(p);
        }
    }
    for (entra_idx, positions) in claims {
        let refusal = Refusal::SharedEntraUser {
            entra_id: entra.user(entra_idx as usize).id.to_string(),
            swyx_user_ids: positions
                .iter()
                .map(|&p| swyx.at(p).swyx_user_id.to_string())
                .collect(),
        };
        for p in positions {
            outcomes[p] = Outcome::Refuse(Box::new(refusal.clone()));
        }
    }
    compare_with_links(&swyx, outcomes, entra, links, &link_by_swyx)
}

fn decide(
    u: SwyxUser<'_>,
    entra: &EntraMatches,
    sharing: &BTreeMap<String, Vec<&str>>,
    manual_by_entra: &SortedBy<HeldLinks>,
    excluded: &BTreeSet<String>,
) -> Outcome {
    if excluded.contains(u.swyx_user_id) {
        return Outcome::Skip(SkipReason::Excluded);
    }
    if !u.in_scope {
        return Outcome::Skip(SkipReason::OutOfScope);
    }
    if let Some(problem) = u.id_problem {
        return refuse(Refusal::InvalidSwyxId {
            problem: problem.to_string(),
        });
    }
    let Some(email) = usable_email(u) else {
        return refuse(Refusal::NoEmail);
    };
    if let Some(ids) = sharing.get(&email).filter(|ids| ids.len() > 1) {
        return refuse(Refusal::SharedAddress {
            email,
            swyx_user_ids: ids.iter().map(|s| s.to_string()).collect(),
        });
    }
    let (i, on) = match entra.lookup(&email) {
        Lookup::None => return refuse(Refusal::NoEntraUser { email }),
        Lookup::Many(ids) => {
            let mut entra_ids: Vec<String> =
                ids.iter().map(|&i| entra.user(i).id.to_string()).collect();
            entra_ids.sort();
            return refuse(Refusal::AmbiguousAddress { email, entra_ids });
        }
        Lookup::One(i, on) => (i, on),
    };
    let user = entra.user(i);
    if !user.enabled {
        return refuse(Refusal::Disabled {
            entra_id: user.id.to_string(),
        });
    }
    if !user.in_scope {
        return Outcome::Skip(SkipReason::OutOfScope);
    }
    if let Some(owner) = manual_by_entra.get(user.id) {
        return refuse(Refusal::LinkedManually {
            entra_id: user.id.to_string(),
            swyx_user_id: owner.swyx_user_id.to_string(),
        });
    }
    Outcome::Match(i as u32, on)
}

fn refuse(refusal: Refusal) -> Outcome {
    Outcome::Refuse(Box::new(refusal))
}

/// Turns each Swyx user's outcome into link / unlink / unchanged against the links held; an
/// automatic link whose Swyx user is gone is unlinked, a manual one stays. The outcomes are
/// consumed: what they hold moves into the plan instead of being copied.
fn compare_with_links(
    swyx: &SortedBy<SwyxUsers>,
    outcomes: Vec<Outcome>,
    entra: &EntraMatches,
    links: &HeldLinks,
    link_by_swyx: &SortedBy<HeldLinks>,
) -> LinkPlan {
    let mut plan = LinkPlan::default();
    // Links whose Swyx user the connector no longer lists.
    for l in links
        .iter()
        .filter(|l| swyx.position(l.swyx_user_id).is_none())
    {
        if l.automatic {
            plan.unlink.push(PlannedUnlink {
                swyx_user_id: l.swyx_user_id.to_string(),
                entra_id: l.entra_id.to_string(),
                reason: UnlinkReason::SwyxUserRemoved,
            });
        } else {
            plan.unchanged.manual += 1;
        }
    }
    for (p, outcome) in outcomes.into_iter().enumerate() {
        let u = swyx.at(p);
        let id = u.swyx_user_id;
        let held = link_by_swyx.get(id).filter(|l| l.automatic);
        let unlink = |reason: UnlinkReason| {
            held.map(|l| PlannedUnlink {
                swyx_user_id: id.to_string(),
                entra_id: l.entra_id.to_string(),
                reason,
            })
        };
        match outcome {
            Outcome::Manual => plan.unchanged.manual += 1,
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
                    refusal: (*refusal).clone(),
                }));
                plan.refused.push(Refused {
                    swyx_user_id: id.to_string(),
                    refusal: *refusal,
                });
            }
            Outcome::Match(i, on) => {
                let entra_id = entra.user(i as usize).id;
                if held.is_some_and(|l| l.entra_id == entra_id) {
                    plan.unchanged.automatic += 1;
                    continue;
                }
                plan.unlink.extend(unlink(UnlinkReason::Rematched {
                    entra_id: entra_id.to_string(),
                }));
                plan.link.push(PlannedLink {
                    swyx_user_id: id.to_string(),
                    entra_id: entra_id.to_string(),
                    // A match was made through this very address.
                    email: usable_email(u).unwrap_or_default(),
                    matched_on: on,
                    groups: Vec::new(),
                });
            }
        }
    }
    // Entries come from the links of Swyx users no longer listed (one link per Swyx user) and
    // from one outcome per listed Swyx user, so no two compare equal: the unstable sort gives
    // the same order without the stable sort's scratch buffer.
    plan.unlink
        .sort_unstable_by(|a, b| a.swyx_user_id.cmp(&b.swyx_user_id));
    // Grown by doubling: up to twice the room it needs, held until the plan is carried out.
    plan.link.shrink_to_fit();
    plan
}
