//! The links the bridge holds, as planning keeps them.

use super::CurrentLink;
use super::TooLargeToPlan;
use super::packed::{PackedStrs, Sparse};

/// The links the bridge holds, column by column: at 100,000 links a [`CurrentLink`] each (two
/// boxed ids and their heap blocks) was 14 MB of the linking peak (heaptrack); here the ids are
/// their text and 8 bytes.
#[derive(Debug, Default)]
pub struct HeldLinks {
    entra_ids: PackedStrs,
    swyx_user_ids: PackedStrs,
    automatic: Vec<bool>,
    /// The groups of the links that hold any: most hold none.
    groups: Sparse<Box<[String]>>,
}

/// One link held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldLink<'a> {
    pub entra_id: &'a str,
    pub swyx_user_id: &'a str,
    /// Made by a sync (not by `users import` / `users link`): the sync may undo it.
    pub automatic: bool,
    /// The Swyx groups the link holds.
    pub groups: &'a [String],
}

impl HeldLinks {
    pub fn push(&mut self, link: CurrentLink) -> Result<(), TooLargeToPlan> {
        let index = self.len();
        let index32 = u32::try_from(index).map_err(|_| TooLargeToPlan)?;
        self.entra_ids.push(&link.entra_id).ok_or(TooLargeToPlan)?;
        if self.swyx_user_ids.push(&link.swyx_user_id).is_none() {
            self.entra_ids.pop();
            return Err(TooLargeToPlan);
        }
        self.automatic.push(link.automatic);
        if !link.groups.is_empty() {
            self.groups.push(index32, link.groups);
        }
        Ok(())
    }

    /// The links of `links`, in their order.
    pub fn of(links: impl IntoIterator<Item = CurrentLink>) -> Result<Self, TooLargeToPlan> {
        let mut held = Self::default();
        for l in links {
            held.push(l)?;
        }
        held.shrink_to_fit();
        Ok(held)
    }

    pub fn len(&self) -> usize {
        self.automatic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.automatic.is_empty()
    }

    pub fn get(&self, i: usize) -> HeldLink<'_> {
        let groups = self.groups.get(i).map_or(&[][..], |g| &g[..]);
        HeldLink {
            entra_id: self.entra_ids.get(i),
            swyx_user_id: self.swyx_user_ids.get(i),
            automatic: self.automatic[i],
            groups,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = HeldLink<'_>> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Grown page by page: up to twice the room it needs.
    pub fn shrink_to_fit(&mut self) {
        self.entra_ids.shrink_to_fit();
        self.swyx_user_ids.shrink_to_fit();
        self.automatic.shrink_to_fit();
        self.groups.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_come_back_as_pushed_with_their_groups() {
        let link = |entra: &str, swyx: &str, automatic, groups: &[&str]| CurrentLink {
            entra_id: entra.into(),
            swyx_user_id: swyx.into(),
            automatic,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        let held = HeldLinks::of([
            link("e1", "101", true, &[]),
            link("e2", "102", false, &["Sales", "Support"]),
            link("e3", "103", true, &[]),
        ])
        .expect("three links fit");
        assert_eq!(held.len(), 3);
        let second = held.get(1);
        assert_eq!((second.entra_id, second.swyx_user_id), ("e2", "102"));
        assert!(!second.automatic);
        assert_eq!(second.groups, ["Sales", "Support"]);
        assert!(held.get(2).automatic && held.get(2).groups.is_empty());
        assert_eq!(
            held.iter().map(|l| l.swyx_user_id).collect::<Vec<_>>(),
            ["101", "102", "103"]
        );
    }
}
