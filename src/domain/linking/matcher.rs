//! The Entra side of matching, built one Entra user at a time: only the addresses some Swyx user
//! has are indexed, and only the Entra users holding one of them are kept. A tenant's directory
//! can be many times the Swyx site (every student and guest of a university), and a page of it
//! is dropped as soon as it has been looked at, so memory follows the Swyx users, not the tenant.

use super::packed::PackedStrs;
use super::swyx_users::{SwyxUser, SwyxUsers};
use super::{EntraCandidate, MatchedOn};

/// Addresses compare trimmed and without case, as Entra compares them.
pub(super) fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
}

/// The user's address if it is one (has an `@`), normalized.
pub(super) fn usable_email(u: SwyxUser<'_>) -> Option<String> {
    u.email.map(normalize).filter(|e| e.contains('@'))
}

/// An Entra user that holds a wanted address: what deciding needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedEntra<'a> {
    pub id: &'a str,
    pub enabled: bool,
    pub in_scope: bool,
}

/// One Entra user holding an address, and in which properties (a bit per [`MatchedOn`]): most
/// users hold their address as `mail` and as `userPrincipalName` both, one hit for the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hit {
    user: u32,
    on: u8,
}

fn bit(on: MatchedOn) -> u8 {
    match on {
        MatchedOn::Mail => 1,
        MatchedOn::UserPrincipalName => 2,
        MatchedOn::ProxyAddress => 4,
    }
}

pub(super) enum Lookup {
    None,
    One(usize, MatchedOn),
    Many(Vec<usize>),
}

/// A Swyx address as matching sees it: who holds it, and whether Swyx users share it. 16 bytes:
/// nearly every address has exactly one holder, kept inline (a `Vec` per address was 48 bytes
/// more each, 4.8 MB at 100,000 users).
#[derive(Debug, Default)]
struct Wanted {
    /// The first Entra user holding the address (`on == 0`: nobody yet).
    user: u32,
    on: u8,
    /// More than one Swyx user lists the address (nobody is linked through it), counting a user
    /// listed twice twice: callers confirm with the ids.
    maybe_shared: bool,
    /// Further Entra users holding it (rare). A boxed `Vec` is one pointer where the `Vec`
    /// would be three: it keeps every address's entry at 16 bytes.
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<Hit>>>,
}

impl Wanted {
    fn hits(&self) -> impl Iterator<Item = Hit> + '_ {
        let first = Hit {
            user: self.user,
            on: self.on,
        };
        std::iter::once(first)
            .filter(|h| h.on != 0)
            .chain(self.more.iter().flat_map(|more| more.iter().copied()))
    }

    /// The same user again (another property, or two equal aliases) adds to its hit.
    fn add(&mut self, user: u32, on: MatchedOn) {
        let on = bit(on);
        if self.on == 0 {
            (self.user, self.on) = (user, on);
        } else if self.user == user {
            self.on |= on;
        } else {
            let more = self.more.get_or_insert_default();
            match more.iter_mut().find(|h| h.user == user) {
                Some(h) => h.on |= on,
                None => more.push(Hit { user, on }),
            }
        }
    }
}

const ENABLED: u8 = 1;
const IN_SCOPE: u8 = 2;

/// The Entra users that hold an address of a Swyx user, by address and property.
#[derive(Debug, Default)]
pub struct EntraMatches {
    /// The normalized addresses of the Swyx users, sorted, each once.
    addresses: PackedStrs,
    /// Who holds each address (same index as `addresses`).
    wanted: Vec<Wanted>,
    /// The Entra users kept: their ids, and [`ENABLED`] | [`IN_SCOPE`] (same index).
    ids: PackedStrs,
    flags: Vec<u8>,
    seen: usize,
    /// `observe`'s list of the wanted addresses one Entra user holds, kept for its room.
    scratch: Vec<(usize, MatchedOn)>,
}

const TIERS: [MatchedOn; 3] = [
    MatchedOn::Mail,
    MatchedOn::UserPrincipalName,
    MatchedOn::ProxyAddress,
];

impl EntraMatches {
    /// Ready to look at Entra users for the addresses of `swyx`.
    pub fn for_swyx(swyx: &SwyxUsers) -> Self {
        let mut all: Vec<String> = swyx.iter().filter_map(usable_email).collect();
        all.sort_unstable();
        let mut matches = Self::default();
        let mut i = 0;
        while i < all.len() {
            let listed = all[i..].iter().take_while(|e| **e == all[i]).count();
            if matches.addresses.push(&all[i]).is_some() {
                matches.wanted.push(Wanted {
                    maybe_shared: listed > 1,
                    ..Wanted::default()
                });
            }
            i += listed;
        }
        matches.addresses.shrink_to_fit();
        matches.wanted.shrink_to_fit();
        matches
    }

    /// Looks at one Entra user (in the order Graph lists them); keeps it only if it holds a
    /// wanted address.
    pub fn observe(&mut self, u: &EntraCandidate) {
        self.seen += 1;
        let mail = u.mail.as_deref().filter(|m| m.contains('@'));
        let proxies = u.proxy_addresses.iter().filter_map(|p| {
            p.split_once(':')
                .filter(|(kind, _)| kind.eq_ignore_ascii_case("smtp"))
                .map(|(_, address)| (MatchedOn::ProxyAddress, address))
        });
        let addresses = mail
            .map(|m| (MatchedOn::Mail, m))
            .into_iter()
            .chain([(MatchedOn::UserPrincipalName, u.user_principal_name.as_str())])
            .chain(proxies);
        self.scratch.clear();
        for (on, address) in addresses {
            if let Some(w) = self.addresses.find_sorted(&normalize(address)) {
                self.scratch.push((w, on));
            }
        }
        if self.scratch.is_empty() {
            return;
        }
        let Some(index) = self.ids.push(&u.id) else {
            return;
        };
        self.flags
            .push(if u.enabled { ENABLED } else { 0 } | if u.in_scope { IN_SCOPE } else { 0 });
        for &(w, on) in &self.scratch {
            self.wanted[w].add(index as u32, on);
        }
    }

    /// Once every Entra user was looked at: the kept users' lists grew by doubling, up to twice
    /// the room they need.
    pub fn shrink_to_fit(&mut self) {
        self.ids.shrink_to_fit();
        self.flags.shrink_to_fit();
        self.scratch = Vec::new();
    }

    /// How many Entra users were looked at (kept or not).
    pub fn users_seen(&self) -> usize {
        self.seen
    }

    /// How many Entra users hold a wanted address.
    pub fn users_kept(&self) -> usize {
        self.flags.len()
    }

    pub(super) fn user(&self, i: usize) -> MatchedEntra<'_> {
        MatchedEntra {
            id: self.ids.get(i),
            enabled: self.flags[i] & ENABLED != 0,
            in_scope: self.flags[i] & IN_SCOPE != 0,
        }
    }

    /// Whether more than one Swyx user lists `address` (normalized), counting a user listed
    /// twice twice: callers confirm with the ids.
    pub(super) fn maybe_shared(&self, address: &str) -> bool {
        self.addresses
            .find_sorted(address)
            .is_some_and(|w| self.wanted[w].maybe_shared)
    }

    /// The first property (mail, UPN, proxy address) that holds `address` decides.
    pub(super) fn lookup(&self, address: &str) -> Lookup {
        let Some(w) = self.addresses.find_sorted(address) else {
            return Lookup::None;
        };
        let wanted = &self.wanted[w];
        for on in TIERS {
            let mut users = wanted
                .hits()
                .filter(|h| h.on & bit(on) != 0)
                .map(|h| h.user as usize);
            match (users.next(), users.next()) {
                (None, _) => {}
                (Some(i), None) => return Lookup::One(i, on),
                (Some(a), Some(b)) => {
                    let mut all = vec![a, b];
                    all.extend(users);
                    return Lookup::Many(all);
                }
            }
        }
        Lookup::None
    }
}
