//! The automatic marks the bridge holds, as planning keeps them.

use super::TooLargeToPlan;
use super::packed::PackedStrs;

/// Automatic marks (Swyx id → the Entra id of the link a sync made), column by column: at
/// 100,000 marks a `LinkMark` each and a map over them held ~19 MB of a sync's peak; here the
/// ids are their text and 9 bytes. Each is used by one link at most; those no link used are
/// stale.
#[derive(Debug)]
pub struct AutomaticMarks {
    swyx_user_ids: PackedStrs,
    entra_ids: PackedStrs,
    used: Vec<bool>,
    /// Pushed in ascending Swyx id order (as the store lists them), so looked up by bisection.
    sorted: bool,
}

impl Default for AutomaticMarks {
    fn default() -> Self {
        Self {
            swyx_user_ids: PackedStrs::default(),
            entra_ids: PackedStrs::default(),
            used: Vec::new(),
            sorted: true,
        }
    }
}

impl AutomaticMarks {
    /// Adds the mark of `swyx_user_id`'s automatic link to `entra_id`.
    pub fn push(&mut self, swyx_user_id: &str, entra_id: &str) -> Result<(), TooLargeToPlan> {
        if let Some(last) = self.used.len().checked_sub(1) {
            // Out of order (a store that does not sort): still right, by a slower lookup.
            self.sorted &= self.swyx_user_ids.get(last) < swyx_user_id;
        }
        self.swyx_user_ids
            .push(swyx_user_id)
            .ok_or(TooLargeToPlan)?;
        if self.entra_ids.push(entra_id).is_none() {
            self.swyx_user_ids.pop();
            return Err(TooLargeToPlan);
        }
        self.used.push(false);
        Ok(())
    }

    /// Whether a mark names the link `swyx_user_id` → `entra_id` (then the link is automatic,
    /// and the mark used).
    pub fn take(&mut self, swyx_user_id: &str, entra_id: &str) -> bool {
        let found = if self.sorted {
            self.swyx_user_ids.find_sorted(swyx_user_id)
        } else {
            (0..self.used.len()).find(|&i| self.swyx_user_ids.get(i) == swyx_user_id)
        };
        match found {
            Some(i) if self.entra_ids.get(i) == entra_id => {
                self.used[i] = true;
                true
            }
            _ => false,
        }
    }

    /// The Swyx ids of the marks no link used: their link is gone or names another Entra user.
    pub fn unused(&self) -> impl Iterator<Item = &str> {
        (0..self.used.len())
            .filter(|&i| !self.used[i])
            .map(|i| self.swyx_user_ids.get(i))
    }

    pub fn shrink_to_fit(&mut self) {
        self.swyx_user_ids.shrink_to_fit();
        self.entra_ids.shrink_to_fit();
        self.used.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::AutomaticMarks;

    fn marks(pairs: &[(&str, &str)]) -> AutomaticMarks {
        let mut m = AutomaticMarks::default();
        for (swyx, entra) in pairs {
            m.push(swyx, entra).expect("fits");
        }
        m
    }

    #[test]
    fn a_mark_makes_only_its_own_link_automatic_and_the_unused_are_stale() {
        for pairs in [
            [("1001", "e1"), ("1002", "e2"), ("1003", "e3")],
            // Out of order: the same answers.
            [("1003", "e3"), ("1001", "e1"), ("1002", "e2")],
        ] {
            let mut m = marks(&pairs);
            assert!(m.take("1001", "e1"));
            assert!(!m.take("1002", "e9"), "the mark names another Entra user");
            assert!(!m.take("1004", "e4"), "no mark");
            let mut stale: Vec<&str> = m.unused().collect();
            stale.sort_unstable();
            assert_eq!(stale, ["1002", "1003"]);
        }
    }
}
