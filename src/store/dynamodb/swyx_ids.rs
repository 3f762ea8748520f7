//! The Swyx id each Entra user's link named when last read, kept by the process: a presence's
//! decision then reads the user's switches (keyed by the Swyx id) in the same `BatchGetItem` as
//! the link, instead of one round trip after it. Only a hint: the link read with them says
//! whether it still holds, and a link that moved to another Swyx user has its switches read
//! after it, as without a hint.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Hints kept at most; past it they start over (a few MB at most: a process that decides for
/// more users than this reads their switches one round trip later until it learns them again).
const MAX_HINTS: usize = 50_000;

#[derive(Default)]
pub(super) struct SwyxIdHints {
    by_entra_id: Mutex<HashMap<String, String>>,
}

impl SwyxIdHints {
    pub(super) fn get(&self, entra_id: &str) -> Option<String> {
        let hints = self
            .by_entra_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        hints.get(entra_id).cloned()
    }

    /// What the link of `entra_id` names now (`None`: not linked).
    pub(super) fn learn(&self, entra_id: &str, swyx_user_id: Option<&str>) {
        let mut hints = self
            .by_entra_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(swyx_user_id) = swyx_user_id else {
            hints.remove(entra_id);
            return;
        };
        if hints
            .get(entra_id)
            .is_some_and(|known| known == swyx_user_id)
        {
            return;
        }
        if hints.len() >= MAX_HINTS {
            hints.clear();
        }
        hints.insert(entra_id.to_string(), swyx_user_id.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_follows_the_link_and_the_map_stays_bounded() {
        let hints = SwyxIdHints::default();
        assert_eq!(hints.get("e1"), None);
        hints.learn("e1", Some("1001"));
        assert_eq!(hints.get("e1").as_deref(), Some("1001"));
        hints.learn("e1", Some("1002"));
        assert_eq!(hints.get("e1").as_deref(), Some("1002"));
        hints.learn("e1", None);
        assert_eq!(hints.get("e1"), None);
        for i in 0..=MAX_HINTS {
            hints.learn(&format!("e{i}"), Some("s"));
        }
        let kept = hints.by_entra_id.lock().unwrap().len();
        assert!(kept <= MAX_HINTS, "{kept}");
        assert_eq!(hints.get(&format!("e{MAX_HINTS}")).as_deref(), Some("s"));
    }
}
