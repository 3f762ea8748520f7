//! Which sync account's subscription covers which linked user. Graph allows one presence
//! subscription per app and delegated user, with at most 650 users, and a subscription's user list
//! cannot be changed: covering one more user means deleting and recreating it. So the plan keeps
//! every user where they are, and puts newcomers into as few accounts as possible (the one with
//! the most room first), so linking users rebuilds as few subscriptions as possible. Unlinking
//! rebuilds nothing: the user only leaves the account's list (its notifications are ignored) and
//! drops out of the subscription at its next rebuild.

use std::collections::{BTreeMap, BTreeSet};

/// Graph's limit of users per presence subscription.
pub const USERS_PER_ACCOUNT: usize = 650;

/// One account as the plan sees it: its name and the users it is assigned now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLoad<'a> {
    pub name: &'a str,
    pub assigned: &'a [String],
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardPlan {
    /// Every account's users after the plan (sorted), by account name.
    pub assigned: BTreeMap<String, Vec<String>>,
    /// Accounts whose list changed (their record must be written).
    pub changed: BTreeSet<String>,
    /// Linked users no account has room for, sorted.
    pub uncovered: Vec<String>,
}

impl ShardPlan {
    /// Accounts to add so that every linked user is covered.
    pub fn accounts_missing(&self) -> usize {
        self.uncovered.len().div_ceil(USERS_PER_ACCOUNT)
    }
}

/// Spreads `linked` users over `accounts`, at most `capacity` each (650 on Graph).
pub fn plan(accounts: &[AccountLoad<'_>], linked: &BTreeSet<String>, capacity: usize) -> ShardPlan {
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut assigned: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Keep users where they are (still linked, not placed twice, within capacity).
    for account in accounts {
        let mut keep: Vec<String> = Vec::new();
        for user in account.assigned {
            if keep.len() < capacity && linked.contains(user) && placed.insert(user.as_str()) {
                keep.push(user.clone());
            }
        }
        keep.sort();
        assigned.insert(account.name.to_string(), keep);
    }
    // Newcomers fill the account with the most room first (ties by name), so a batch of new
    // users touches as few subscriptions as possible.
    let mut newcomers = linked.iter().filter(|u| !placed.contains(u.as_str()));
    let mut by_room: Vec<(usize, String)> = assigned
        .iter()
        .map(|(name, users)| (capacity.saturating_sub(users.len()), name.clone()))
        .filter(|(room, _)| *room > 0)
        .collect();
    by_room.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut added: BTreeSet<String> = BTreeSet::new();
    'fill: for (room, name) in by_room {
        for _ in 0..room {
            let Some(user) = newcomers.next() else {
                break 'fill;
            };
            if let Some(list) = assigned.get_mut(&name) {
                list.push(user.clone());
                added.insert(name.clone());
            }
        }
    }
    let uncovered: Vec<String> = newcomers.cloned().collect();
    let mut changed = BTreeSet::new();
    for account in accounts {
        if let Some(list) = assigned.get_mut(account.name) {
            list.sort();
            if list.as_slice() != account.assigned || added.contains(account.name) {
                changed.insert(account.name.to_string());
            }
        }
    }
    ShardPlan {
        assigned,
        changed,
        uncovered,
    }
}

/// Whether a subscription covering `covered` must be rebuilt to serve `assigned`: only when
/// someone assigned is missing (users who left are harmless until the next rebuild).
pub fn needs_rebuild(assigned: &[String], covered: &[String]) -> bool {
    let covered: BTreeSet<&str> = covered.iter().map(String::as_str).collect();
    assigned.iter().any(|u| !covered.contains(u.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("u{i:05}")).collect()
    }

    fn set(v: &[String]) -> BTreeSet<String> {
        v.iter().cloned().collect()
    }

    fn account_names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("sync{i:02}")).collect()
    }

    /// Accounts just added: nobody assigned yet.
    fn fresh_accounts(names: &[String]) -> Vec<AccountLoad<'_>> {
        names
            .iter()
            .map(|n| AccountLoad {
                name: n,
                assigned: &[],
            })
            .collect()
    }

    #[test]
    fn ten_thousand_users_over_sixteen_accounts_fit_at_650_each() {
        let names = account_names(16);
        let accounts = fresh_accounts(&names);
        let linked = set(&users(0..10_000));
        let p = plan(&accounts, &linked, USERS_PER_ACCOUNT);
        assert!(p.uncovered.is_empty());
        assert_eq!(p.changed.len(), 16);
        let total: usize = p.assigned.values().map(Vec::len).sum();
        assert_eq!(total, 10_000);
        assert!(p.assigned.values().all(|u| u.len() <= 650));
        let all: BTreeSet<&String> = p.assigned.values().flatten().collect();
        assert_eq!(all.len(), 10_000, "nobody is placed twice");
    }

    #[test]
    fn one_user_too_many_is_reported_with_the_accounts_missing() {
        let names = account_names(16);
        let accounts = fresh_accounts(&names);
        let linked = set(&users(0..10_401));
        let p = plan(&accounts, &linked, USERS_PER_ACCOUNT);
        assert_eq!(p.uncovered.len(), 1);
        assert_eq!(p.accounts_missing(), 1);
        assert!(
            plan(&[], &linked, USERS_PER_ACCOUNT).accounts_missing() == 17,
            "no account at all: 10,401 users need 17"
        );
    }

    #[test]
    fn linking_one_user_changes_one_account_and_keeps_everyone_else() {
        let a = users(0..600);
        let b = users(600..1_200);
        let accounts = [
            AccountLoad {
                name: "a",
                assigned: &a,
            },
            AccountLoad {
                name: "b",
                assigned: &b,
            },
        ];
        let mut linked = set(&users(0..1_200));
        linked.insert("new-user".to_string());
        let p = plan(&accounts, &linked, USERS_PER_ACCOUNT);
        assert_eq!(p.changed.len(), 1, "{:?}", p.changed);
        let target = p.changed.iter().next().unwrap();
        assert!(p.assigned[target].contains(&"new-user".to_string()));
        let other = if target == "a" { "b" } else { "a" };
        assert_eq!(p.assigned[other], if other == "a" { a } else { b });
    }

    #[test]
    fn newcomers_fill_the_roomiest_account_before_touching_another() {
        let a = users(0..600);
        let b = users(600..700);
        let accounts = [
            AccountLoad {
                name: "a",
                assigned: &a,
            },
            AccountLoad {
                name: "b",
                assigned: &b,
            },
        ];
        let mut linked = set(&users(0..700));
        linked.extend(users(5_000..5_040));
        let p = plan(&accounts, &linked, USERS_PER_ACCOUNT);
        assert_eq!(
            p.changed,
            ["b".to_string()].into_iter().collect(),
            "b had the most room"
        );
        assert_eq!(p.assigned["b"].len(), 140);
    }

    #[test]
    fn unlinking_shrinks_the_list_but_needs_no_rebuild() {
        let a = users(0..10);
        let accounts = [AccountLoad {
            name: "a",
            assigned: &a,
        }];
        let linked = set(&users(0..9));
        let p = plan(&accounts, &linked, USERS_PER_ACCOUNT);
        assert_eq!(p.assigned["a"], users(0..9));
        assert!(p.changed.contains("a"));
        assert!(!needs_rebuild(&p.assigned["a"], &a));
        assert!(needs_rebuild(&users(0..11), &a));
    }

    #[test]
    fn a_removed_account_s_users_move_to_the_others_and_a_user_is_never_in_two() {
        let a = users(0..300);
        let b = users(200..400); // 200..300 duplicated (e.g. a half-applied earlier plan)
        let accounts = [
            AccountLoad {
                name: "a",
                assigned: &a,
            },
            AccountLoad {
                name: "b",
                assigned: &b,
            },
        ];
        let mut linked = set(&users(0..400));
        linked.extend(users(900..1_000)); // were on an account that is gone
        let p = plan(&accounts, &linked, USERS_PER_ACCOUNT);
        let all: Vec<&String> = p.assigned.values().flatten().collect();
        assert_eq!(all.len(), 500);
        assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 500);
        assert!(p.uncovered.is_empty());
    }
}
