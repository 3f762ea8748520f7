//! The Entra side of matching, built one Entra user at a time: only the addresses some Swyx user
//! has are indexed, and only the Entra users holding one of them are kept. A tenant's directory
//! can be many times the Swyx site (every student and guest of a university), and a page of it
//! is dropped as soon as it has been looked at, so memory follows the Swyx users, not the tenant.

use super::{EntraCandidate, MatchedOn, SwyxCandidate};
use std::collections::HashMap;

/// Addresses compare trimmed and without case, as Entra compares them.
pub(super) fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
}

/// The user's address if it is one (has an `@`), normalized.
pub(super) fn usable_email(u: &SwyxCandidate) -> Option<String> {
    u.email
        .as_deref()
        .map(normalize)
        .filter(|e| e.contains('@'))
}

/// An Entra user that holds a wanted address: what deciding needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedEntra {
    pub id: Box<str>,
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

/// The Entra users holding one address. Nearly every address has exactly one: it is kept inline,
/// where a `Vec` per address would cost a 48-byte allocation each (4.8 MB at 100,000 users).
#[derive(Debug, Default)]
enum Hits {
    #[default]
    None,
    One(Hit),
    Many(Vec<Hit>),
}

impl Hits {
    fn as_slice(&self) -> &[Hit] {
        match self {
            Hits::None => &[],
            Hits::One(h) => std::slice::from_ref(h),
            Hits::Many(all) => all,
        }
    }

    /// The same user again (another property, or two equal aliases) adds to its hit.
    fn add(&mut self, user: u32, on: MatchedOn) {
        let on = bit(on);
        match self {
            Hits::None => *self = Hits::One(Hit { user, on }),
            Hits::One(h) if h.user == user => h.on |= on,
            Hits::One(h) => *self = Hits::Many(vec![*h, Hit { user, on }]),
            Hits::Many(all) => match all.iter_mut().find(|h| h.user == user) {
                Some(h) => h.on |= on,
                None => all.push(Hit { user, on }),
            },
        }
    }
}

/// A Swyx address as matching sees it.
#[derive(Debug, Default)]
struct Wanted {
    hits: Hits,
    /// How many Swyx users list the address (more than one: nobody is linked through it).
    swyx_users: u32,
}

/// The Entra users that hold an address of a Swyx user, by address and property.
#[derive(Debug, Default)]
pub struct EntraMatches {
    /// Normalized Swyx address → who holds it.
    wanted: HashMap<Box<str>, Wanted>,
    users: Vec<MatchedEntra>,
    seen: usize,
}

const TIERS: [MatchedOn; 3] = [
    MatchedOn::Mail,
    MatchedOn::UserPrincipalName,
    MatchedOn::ProxyAddress,
];

impl EntraMatches {
    /// Ready to look at Entra users for the addresses of `swyx`.
    pub fn for_swyx(swyx: &[SwyxCandidate]) -> Self {
        let mut wanted: HashMap<Box<str>, Wanted> = HashMap::new();
        for e in swyx.iter().filter_map(usable_email) {
            wanted.entry(e.into_boxed_str()).or_default().swyx_users += 1;
        }
        wanted.shrink_to_fit();
        Self {
            wanted,
            ..Self::default()
        }
    }

    /// Looks at one Entra user (in the order Graph lists them); keeps it only if it holds a
    /// wanted address.
    pub fn observe(&mut self, u: &EntraCandidate) {
        self.seen += 1;
        let index = self.users.len() as u32;
        let mut hit = false;
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
        for (on, address) in addresses {
            let Some(Wanted { hits, .. }) = self.wanted.get_mut(normalize(address).as_str()) else {
                continue;
            };
            hits.add(index, on);
            hit = true;
        }
        if hit {
            self.users.push(MatchedEntra {
                id: u.id.as_str().into(),
                enabled: u.enabled,
                in_scope: u.in_scope,
            });
        }
    }

    /// How many Entra users were looked at (kept or not).
    pub fn users_seen(&self) -> usize {
        self.seen
    }

    /// How many Entra users hold a wanted address.
    pub fn users_kept(&self) -> usize {
        self.users.len()
    }

    pub(super) fn user(&self, i: usize) -> &MatchedEntra {
        &self.users[i]
    }

    /// Whether more than one Swyx user lists `address` (normalized), counting a user listed
    /// twice twice: callers confirm with the ids.
    pub(super) fn maybe_shared(&self, address: &str) -> bool {
        self.wanted.get(address).is_some_and(|w| w.swyx_users > 1)
    }

    /// The first property (mail, UPN, proxy address) that holds `address` decides.
    pub(super) fn lookup(&self, address: &str) -> Lookup {
        let Some(Wanted { hits, .. }) = self.wanted.get(address) else {
            return Lookup::None;
        };
        for on in TIERS {
            let mut users = hits
                .as_slice()
                .iter()
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
