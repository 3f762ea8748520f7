//! A sorted index over a borrowed list, for looking up Swyx users and links by id.

use super::held::{HeldLink, HeldLinks};
use super::swyx_users::{SwyxUser, SwyxUsers};

/// A list whose elements can be looked at by index.
pub(super) trait Listing {
    type Item<'a>: Copy
    where
        Self: 'a;
    fn count(&self) -> usize;
    fn item(&self, i: usize) -> Self::Item<'_>;
}

impl Listing for SwyxUsers {
    type Item<'a> = SwyxUser<'a>;
    fn count(&self) -> usize {
        self.len()
    }
    fn item(&self, i: usize) -> SwyxUser<'_> {
        self.get(i)
    }
}

impl Listing for HeldLinks {
    type Item<'a> = HeldLink<'a>;
    fn count(&self) -> usize {
        self.len()
    }
    fn item(&self, i: usize) -> HeldLink<'_> {
        self.get(i)
    }
}

/// Positions into a list, sorted by a key of each element, one per key (the last listed wins,
/// as a map filled in order would keep it). Lookups are binary searches: at 100,000 users an
/// index of `u32` is 0.4 MB where a `BTreeMap` of borrowed ids is 4–5 MB.
pub(super) struct SortedBy<'a, L: Listing + ?Sized> {
    items: &'a L,
    order: Vec<u32>,
    key: fn(L::Item<'a>) -> &'a str,
}

impl<'a, L: Listing + ?Sized> SortedBy<'a, L> {
    pub(super) fn new(
        items: &'a L,
        key: fn(L::Item<'a>) -> &'a str,
        keep: impl Fn(L::Item<'a>) -> bool,
    ) -> Self {
        let mut order: Vec<u32> = (0..items.count() as u32)
            .filter(|&i| keep(items.item(i as usize)))
            .collect();
        let key_of = |i: u32| key(items.item(i as usize));
        // Equal keys: the later element first, so `dedup_by` (which keeps the first) keeps it.
        order.sort_unstable_by(|&a, &b| key_of(a).cmp(key_of(b)).then(b.cmp(&a)));
        order.dedup_by(|a, b| key_of(*a) == key_of(*b));
        Self { items, order, key }
    }

    pub(super) fn get(&self, k: &str) -> Option<L::Item<'a>> {
        self.position(k).map(|p| self.at(p))
    }

    pub(super) fn position(&self, k: &str) -> Option<usize> {
        self.order
            .binary_search_by(|&i| (self.key)(self.items.item(i as usize)).cmp(k))
            .ok()
    }

    pub(super) fn at(&self, position: usize) -> L::Item<'a> {
        self.items.item(self.order[position] as usize)
    }

    pub(super) fn len(&self) -> usize {
        self.order.len()
    }
}
