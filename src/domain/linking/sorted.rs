//! A sorted index over a borrowed list, for looking up Swyx users and links by id.

/// Positions into a list, sorted by a key of each element, one per key (the last listed wins,
/// as a map filled in order would keep it). Lookups are binary searches: at 100,000 users an
/// index of `u32` is 0.4 MB where a `BTreeMap` of borrowed ids is 4–5 MB.
pub(super) struct SortedBy<'a, T> {
    items: &'a [T],
    order: Vec<u32>,
    key: fn(&T) -> &str,
}

impl<'a, T> SortedBy<'a, T> {
    pub(super) fn new(items: &'a [T], key: fn(&T) -> &str, keep: impl Fn(&T) -> bool) -> Self {
        let mut order: Vec<u32> = (0..items.len() as u32)
            .filter(|&i| keep(&items[i as usize]))
            .collect();
        // Equal keys: the later element first, so `dedup_by` (which keeps the first) keeps it.
        order.sort_unstable_by(|&a, &b| {
            key(&items[a as usize])
                .cmp(key(&items[b as usize]))
                .then(b.cmp(&a))
        });
        order.dedup_by(|a, b| key(&items[*a as usize]) == key(&items[*b as usize]));
        Self { items, order, key }
    }

    pub(super) fn get(&self, k: &str) -> Option<&'a T> {
        self.position(k).map(|p| self.at(p))
    }

    pub(super) fn position(&self, k: &str) -> Option<usize> {
        self.order
            .binary_search_by(|&i| (self.key)(&self.items[i as usize]).cmp(k))
            .ok()
    }

    pub(super) fn at(&self, position: usize) -> &'a T {
        &self.items[self.order[position] as usize]
    }

    pub(super) fn len(&self) -> usize {
        self.order.len()
    }
}
