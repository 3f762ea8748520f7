//! Many short strings in one allocation, for the per-user strings matching keeps.

use std::cmp::Ordering;

/// Strings laid end to end in one `String`, each found by its end offset. At 100,000 users a
/// `Box<str>` per address or id costs 16 bytes plus a heap block of 32–48 bytes; here it is the
/// text itself plus 4 bytes.
#[derive(Debug, Default)]
pub(super) struct PackedStrs {
    text: String,
    ends: Vec<u32>,
}

impl PackedStrs {
    /// Adds `s` and returns its index; `None` once the text would pass 4 GiB (which a Lambda's
    /// memory never holds: the offsets are `u32` to keep them small).
    pub(super) fn push(&mut self, s: &str) -> Option<usize> {
        let end = u32::try_from(self.text.len() + s.len()).ok()?;
        self.text.push_str(s);
        self.ends.push(end);
        Some(self.ends.len() - 1)
    }

    /// Takes the last string off again.
    pub(super) fn pop(&mut self) {
        if self.ends.pop().is_some() {
            let start = self.ends.last().copied().unwrap_or(0);
            self.text.truncate(start as usize);
        }
    }

    pub(super) fn get(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        };
        &self.text[start..self.ends[i] as usize]
    }

    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The index of `s`, when the strings were pushed in ascending order.
    pub(super) fn find_sorted(&self, s: &str) -> Option<usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid).cmp(s) {
                Ordering::Less => low = mid + 1,
                Ordering::Greater => high = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Grown by doubling while filled: up to twice the room it needs.
    pub(super) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Values that few of a list's elements have, by the element's index (pushed in ascending
/// order): most users have no groups and no id problem, and pay nothing for them.
#[derive(Debug)]
pub(super) struct Sparse<T> {
    entries: Vec<(u32, T)>,
}

impl<T> Default for Sparse<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<T> Sparse<T> {
    pub(super) fn push(&mut self, index: u32, value: T) {
        self.entries.push((index, value));
    }

    pub(super) fn get(&self, index: usize) -> Option<&T> {
        self.entries
            .binary_search_by_key(&index, |(at, _)| *at as usize)
            .ok()
            .map(|e| &self.entries[e].1)
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::{PackedStrs, Sparse};

    #[test]
    fn sparse_values_are_found_by_index() {
        let mut s = Sparse::default();
        s.push(2, "two");
        s.push(7, "seven");
        assert_eq!(
            (s.get(2), s.get(7), s.get(3)),
            (Some(&"two"), Some(&"seven"), None)
        );
    }

    #[test]
    fn strings_come_back_as_pushed_and_sorted_ones_are_found() {
        let mut p = PackedStrs::default();
        for s in ["", "a@x", "b@x", "bb@x"] {
            assert!(p.push(s).is_some());
        }
        assert_eq!(p.len(), 4);
        assert_eq!((p.get(0), p.get(1), p.get(3)), ("", "a@x", "bb@x"));
        assert_eq!(p.find_sorted("b@x"), Some(2));
        assert_eq!(p.find_sorted("bb@x"), Some(3));
        assert_eq!(p.find_sorted("c@x"), None);
        assert_eq!(PackedStrs::default().find_sorted("a"), None);
        p.pop();
        assert_eq!((p.len(), p.get(2)), (3, "b@x"));
        assert_eq!(
            p.push("c@x").map(|i| p.get(i).to_string()),
            Some("c@x".into())
        );
    }
}
