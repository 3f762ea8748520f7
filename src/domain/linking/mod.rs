//! Automatic user linking: which Swyx user is which Entra user, decided from both directories
//! and the links the bridge holds. A Swyx user's e-mail address is looked up among the Entra
//! users' `mail`, then `userPrincipalName`, then `smtp:` proxy addresses (case-insensitively);
//! the first of these that holds the address decides. Only an unambiguous match of an enabled
//! account is linked. Manual links and exclusions are never touched. The result is a plan (link,
//! unlink, unchanged, refused, skipped) that the use case carries out or, on a dry run, prints.

use serde::Serialize;

mod groups;
mod held;
mod marks;
mod matcher;
mod packed;
mod plan;
mod sorted;
mod swyx_users;
#[cfg(test)]
mod tests;

pub use groups::{normalize_groups, with_groups};
pub use held::{HeldLink, HeldLinks};
pub use marks::AutomaticMarks;
pub use matcher::{EntraMatches, MatchedEntra};
pub use plan::{plan, plan_matched};
pub use swyx_users::{SwyxUser, SwyxUsers};

/// More users or links than planning can index (their ids pass 4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the directories pass 4 GiB of ids, more than a sync can plan with")]
pub struct TooLargeToPlan;

/// A Swyx user as the connector lists it, as it goes into [`SwyxUsers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwyxCandidate {
    pub swyx_user_id: Box<str>,
    pub email: Option<Box<str>>,
    /// In the configured Swyx group (always, when none is configured).
    pub in_scope: bool,
    /// Why the id cannot be used in the connector contract, if it cannot.
    pub id_problem: Option<Box<str>>,
    /// The connector's groups of the user, normalized ([`normalize_groups`]).
    pub groups: Box<[String]>,
}

/// An Entra user as Graph lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraCandidate {
    pub id: String,
    pub mail: Option<String>,
    pub user_principal_name: String,
    /// As Graph gives them: `SMTP:primary@…`, `smtp:alias@…`, `x500:…`.
    pub proxy_addresses: Vec<String>,
    pub enabled: bool,
    /// In the configured Entra group (always, when none is configured).
    pub in_scope: bool,
}

/// A link the bridge holds, as it goes into [`HeldLinks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentLink {
    pub entra_id: Box<str>,
    pub swyx_user_id: Box<str>,
    /// Made by a sync (not by `users import` / `users link`): the sync may undo it.
    pub automatic: bool,
    /// The Swyx groups the link holds.
    pub groups: Box<[String]>,
}

/// Which Entra property held the Swyx user's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MatchedOn {
    Mail,
    UserPrincipalName,
    ProxyAddress,
}

/// Why a Swyx user is not linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "reason",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Refusal {
    /// The connector lists no e-mail address for the user (or none with an `@`).
    NoEmail,
    /// The Swyx id cannot be used in the connector contract.
    InvalidSwyxId {
        problem: String,
    },
    NoEntraUser {
        email: String,
    },
    /// One address matches two or more Entra users.
    AmbiguousAddress {
        email: String,
        entra_ids: Vec<String>,
    },
    /// Two or more Swyx users share one address.
    SharedAddress {
        email: String,
        swyx_user_ids: Vec<String>,
    },
    /// Two or more Swyx users match one Entra user (through different addresses).
    SharedEntraUser {
        entra_id: String,
        swyx_user_ids: Vec<String>,
    },
    Disabled {
        entra_id: String,
    },
    /// The Entra user is linked by hand to another Swyx user.
    LinkedManually {
        entra_id: String,
        swyx_user_id: String,
    },
}

/// Why a Swyx user is left out without being refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SkipReason {
    /// The operator excluded it (`users unlink`).
    Excluded,
    /// Not in the configured Swyx group, or its Entra user not in the configured Entra group.
    OutOfScope,
}

/// Why an automatic link goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "reason",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum UnlinkReason {
    /// The connector no longer lists the Swyx user.
    SwyxUserRemoved,
    Excluded,
    OutOfScope,
    /// The user now matches another Entra user.
    Rematched {
        entra_id: String,
    },
    /// The match no longer holds (no Entra user, disabled, ambiguous …).
    Refused {
        refusal: Refusal,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedLink {
    pub swyx_user_id: String,
    pub entra_id: String,
    pub email: String,
    pub matched_on: MatchedOn,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// A link that stays, whose Swyx groups changed (they pick per-group rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Regrouped {
    pub swyx_user_id: String,
    pub entra_id: String,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedUnlink {
    pub swyx_user_id: String,
    pub entra_id: String,
    pub reason: UnlinkReason,
}

/// Links that stay as they are, counted rather than listed: a sync does nothing with them, and
/// at 100,000 users their list would be the largest part of the plan (13 MB, heaptrack).
/// `users list` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unchanged {
    /// Made by a sync, still matching.
    pub automatic: usize,
    /// Made by hand (`users import` / `users link`), listed by the connector or not.
    pub manual: usize,
}

impl Unchanged {
    pub fn total(&self) -> usize {
        self.automatic + self.manual
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refused {
    pub swyx_user_id: String,
    pub refusal: Refusal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub swyx_user_id: String,
    pub reason: SkipReason,
}

/// What a sync does; each list is ordered by Swyx id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkPlan {
    pub link: Vec<PlannedLink>,
    pub unlink: Vec<PlannedUnlink>,
    pub unchanged: Unchanged,
    pub refused: Vec<Refused>,
    pub skipped: Vec<Skipped>,
    /// Links kept whose Swyx groups changed (filled in by the use case, which holds the links).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regroup: Vec<Regrouped>,
    /// Swyx ids of automatic marks whose link is gone or names another Entra user (an unlink
    /// cut short before its mark went; a manual re-link): dropped, so they cannot make a later
    /// link look automatic. Filled in by the use case, which reads the marks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_marks: Vec<String>,
}

impl LinkPlan {
    /// Whether carrying the plan out changes nothing.
    pub fn changes_nothing(&self) -> bool {
        self.link.is_empty()
            && self.unlink.is_empty()
            && self.regroup.is_empty()
            && self.stale_marks.is_empty()
    }

    /// One line: how many of each.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} to link, {} to unlink, {} unchanged, {} refused, {} skipped (excluded or out of scope)",
            self.link.len(),
            self.unlink.len(),
            self.unchanged.total(),
            self.refused.len(),
            self.skipped.len()
        );
        if !self.regroup.is_empty() {
            line.push_str(&format!(", {} with new Swyx groups", self.regroup.len()));
        }
        line
    }
}
