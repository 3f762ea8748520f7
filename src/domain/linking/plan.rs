//! The decision itself: index the Entra users by address, decide each Swyx user, refuse Entra
//! users claimed twice, then compare with the links held.

use super::*;
use std::collections::{BTreeMap, BTreeSet};

/// Addresses compare trimmed and without case, as Entra compares them.
fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
}

/// The Entra users by each address property (indexes into the candidate list, ascending).
/// A `Vec` per address, not a set: nearly every address has one user, and a set's node is over
/// 100 bytes where one index in a `Vec` takes 8 (100,000 users, three properties).
struct EntraIndex {
    tiers: [(MatchedOn, BTreeMap<String, Vec<usize>>); 3],
}

/// Adds candidate `i` once: candidates are added in ascending order, so a repeat is the last.
fn add(ids: &mut Vec<usize>, i: usize) {
    if ids.last() != Some(&i) {
        ids.push(i);
    }
}

enum Lookup {
    None,
    One(usize, MatchedOn),
    Many(Vec<usize>),
}

impl EntraIndex {
    fn new(entra: &[EntraCandidate]) -> Self {
        let mut mail: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut upn: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut proxy: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, u) in entra.iter().enumerate() {
            if let Some(m) = u.mail.as_deref().filter(|m| m.contains('@')) {
                add(mail.entry(normalize(m)).or_default(), i);
            }
            add(upn.entry(normalize(&u.user_principal_name)).or_default(), i);
            for p in &u.proxy_addresses {
                if let Some((kind, address)) = p.split_once(':')
                    && kind.eq_ignore_ascii_case("smtp")
                {
                    add(proxy.entry(normalize(address)).or_default(), i);
                }
            }
        }
        Self {
            tiers: [
                (MatchedOn::Mail, mail),
                (MatchedOn::UserPrincipalName, upn),
                (MatchedOn::ProxyAddress, proxy),
            ],
        }
    }

    /// The first property (mail, UPN, proxy address) that holds `address` decides.
    fn lookup(&self, address: &str) -> Lookup {
        for (on, index) in &self.tiers {
            match index.get(address) {
                Some(ids) if ids.len() == 1 => {
                    if let Some(&i) = ids.first() {
                        return Lookup::One(i, *on);
                    }
                }
                Some(ids) if ids.len() > 1 => return Lookup::Many(ids.clone()),
                _ => {}
            }
        }
        Lookup::None
    }
}

/// What one Swyx user comes to, before links are compared.
enum Outcome {
    Manual(String),
    Skip(SkipReason),
    Refuse(Refusal),
    Match {
        entra: usize,
        on: MatchedOn,
        email: String,
    },
}

/// Decides the links: see the module documentation.
pub fn plan(
    swyx: &[SwyxCandidate],
    entra: &[EntraCandidate],
    links: &[CurrentLink],
    excluded: &BTreeSet<String>,
) -> LinkPlan {
    let index = EntraIndex::new(entra);
    // One entry per Swyx id (a connector that listed one twice: the last wins).
    let swyx: BTreeMap<&str, &SwyxCandidate> =
        swyx.iter().map(|u| (u.swyx_user_id.as_str(), u)).collect();
    let mut sharing: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (&id, u) in &swyx {
        if let Some(e) = usable_email(u) {
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
            Some(l) if !l.automatic => Outcome::Manual(l.entra_id.clone()),
            _ => decide(u, entra, &index, &sharing, &manual_by_entra, excluded),
        };
        outcomes.insert(id, outcome);
    }
    // An Entra user two Swyx users match (through different addresses) goes to neither.
    let mut claims: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (&id, o) in &outcomes {
        if let Outcome::Match { entra, .. } = o {
            claims.entry(*entra).or_default().push(id);
        }
    }
    for (entra_idx, ids) in claims.into_iter().filter(|(_, ids)| ids.len() > 1) {
        let refusal = Refusal::SharedEntraUser {
            entra_id: entra[entra_idx].id.clone(),
            swyx_user_ids: ids.iter().map(|s| s.to_string()).collect(),
        };
        for id in ids {
            outcomes.insert(id, Outcome::Refuse(refusal.clone()));
        }
    }
    compare_with_links(outcomes, entra, links)
}

/// The user's address if it is one (has an `@`), normalized.
fn usable_email(u: &SwyxCandidate) -> Option<String> {
    u.email
        .as_deref()
        .map(normalize)
        .filter(|e| e.contains('@'))
}

fn decide(
    u: &SwyxCandidate,
    entra: &[EntraCandidate],
    index: &EntraIndex,
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
    let (i, on) = match index.lookup(&email) {
        Lookup::None => return Outcome::Refuse(Refusal::NoEntraUser { email }),
        Lookup::Many(ids) => {
            let mut entra_ids: Vec<String> = ids.iter().map(|&i| entra[i].id.clone()).collect();
            entra_ids.sort();
            return Outcome::Refuse(Refusal::AmbiguousAddress { email, entra_ids });
        }
        Lookup::One(i, on) => (i, on),
    };
    let user = &entra[i];
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
/// automatic link whose Swyx user is gone is unlinked, a manual one stays.
fn compare_with_links(
    outcomes: BTreeMap<&str, Outcome>,
    entra: &[EntraCandidate],
    links: &[CurrentLink],
) -> LinkPlan {
    let mut plan = LinkPlan::default();
    let link_by_swyx: BTreeMap<&str, &CurrentLink> =
        links.iter().map(|l| (l.swyx_user_id.as_str(), l)).collect();
    for (&id, outcome) in &outcomes {
        let held = link_by_swyx.get(id).filter(|l| l.automatic);
        let unlink = |reason: UnlinkReason| {
            held.map(|l| PlannedUnlink {
                swyx_user_id: id.to_string(),
                entra_id: l.entra_id.clone(),
                reason,
            })
        };
        match outcome {
            Outcome::Manual(entra_id) => plan.unchanged.push(Unchanged {
                swyx_user_id: id.to_string(),
                entra_id: entra_id.clone(),
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
                    reason: reason.clone(),
                });
            }
            Outcome::Refuse(refusal) => {
                plan.unlink.extend(unlink(UnlinkReason::Refused {
                    refusal: refusal.clone(),
                }));
                plan.refused.push(Refused {
                    swyx_user_id: id.to_string(),
                    refusal: refusal.clone(),
                });
            }
            Outcome::Match {
                entra: i,
                on,
                email,
            } => {
                let entra_id = &entra[*i].id;
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
                    email: email.clone(),
                    matched_on: *on,
                    groups: Vec::new(),
                });
            }
        }
    }
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
    plan.unlink
        .sort_by(|a, b| a.swyx_user_id.cmp(&b.swyx_user_id));
    plan.unchanged
        .sort_by(|a, b| a.swyx_user_id.cmp(&b.swyx_user_id));
    plan
}
