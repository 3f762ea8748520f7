//! Security groups with nested membership, so an administrator can sync one group: direct
//! members (users or groups, by id) and the transitive expansion Graph's `transitiveMembers`
//! returns (nested groups listed too, each member once, cycles harmless).

use std::collections::{BTreeMap, BTreeSet};

use super::super::directory_types::GroupView;
use super::directory::Directory;

pub(crate) struct Group {
    pub display_name: String,
    pub members: BTreeSet<String>,
}

/// A member in a transitive listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Member {
    User,
    Group,
}

#[derive(Default)]
pub(crate) struct Groups {
    groups: BTreeMap<String, Group>,
}

impl Groups {
    pub fn get(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }

    /// Groups with an id after `after`, in id order.
    pub fn after<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = (&'a String, &'a Group)> + 'a {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, |a| Excluded(a.to_owned()));
        self.groups.range((start, Unbounded))
    }

    pub fn view(&self, id: &str) -> Option<GroupView> {
        self.groups.get(id).map(|g| GroupView {
            id: id.to_owned(),
            display_name: g.display_name.clone(),
            members: g.members.iter().cloned().collect(),
        })
    }

    pub fn views(&self) -> Vec<GroupView> {
        self.groups.keys().filter_map(|id| self.view(id)).collect()
    }

    /// Creates or renames a group (members kept).
    pub fn upsert(
        &mut self,
        id: &str,
        display_name: &str,
        directory: &Directory,
    ) -> Result<(), String> {
        if id.trim().is_empty() || display_name.trim().is_empty() {
            return Err("a group needs an id and a displayName".into());
        }
        if directory.get(id).is_some() || directory.is_deleted(id) {
            return Err(format!("'{id}' is the id of a user"));
        }
        self.groups
            .entry(id.to_owned())
            .or_insert_with(|| Group {
                display_name: String::new(),
                members: BTreeSet::new(),
            })
            .display_name = display_name.to_owned();
        Ok(())
    }

    pub fn remove(&mut self, id: &str) -> Result<(), String> {
        self.groups
            .remove(id)
            .ok_or_else(|| format!("no group '{id}'"))?;
        self.forget_member(id);
        Ok(())
    }

    /// Replaces the direct members; each must be a user (deleted ones too) or another group.
    pub fn set_members(
        &mut self,
        id: &str,
        members: &[String],
        directory: &Directory,
    ) -> Result<(), String> {
        if !self.groups.contains_key(id) {
            return Err(format!("no group '{id}'"));
        }
        if let Some(bad) = members.iter().find(|m| {
            m.as_str() == id
                || (directory.get(m).is_none()
                    && !directory.is_deleted(m)
                    && !self.groups.contains_key(m.as_str()))
        }) {
            return Err(format!("'{bad}' is neither a user nor another group"));
        }
        if let Some(g) = self.groups.get_mut(id) {
            g.members = members.iter().cloned().collect();
        }
        Ok(())
    }

    /// Drops a purged user or a removed group from every membership.
    pub fn forget_member(&mut self, id: &str) {
        for g in self.groups.values_mut() {
            g.members.remove(id);
        }
    }

    /// Every member reachable from `id`, users (active ones only) and nested groups, by id.
    pub fn transitive(&self, id: &str, directory: &Directory) -> Option<BTreeMap<String, Member>> {
        let root = self.groups.get(id)?;
        let mut out = BTreeMap::new();
        let mut seen: BTreeSet<&str> = BTreeSet::from([id]);
        let mut todo: Vec<&Group> = vec![root];
        while let Some(group) = todo.pop() {
            for m in &group.members {
                if let Some(nested) = self.groups.get(m) {
                    if seen.insert(m) {
                        out.insert(m.clone(), Member::Group);
                        todo.push(nested);
                    }
                } else if directory.get(m).is_some() {
                    out.insert(m.clone(), Member::User);
                }
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::directory_types::DirectoryUser;
    use super::*;

    #[test]
    fn nested_groups_expand_once_and_cycles_end() {
        let mut d = Directory::default();
        for i in 1..=3 {
            d.insert(DirectoryUser::new(
                &format!("u{i}"),
                &format!("u{i}@c.example"),
                "U",
            ))
            .unwrap();
        }
        let mut g = Groups::default();
        for id in ["sales", "berlin"] {
            g.upsert(id, id, &d).unwrap();
        }
        g.set_members("sales", &["u1".into(), "berlin".into()], &d)
            .unwrap();
        g.set_members("berlin", &["u2".into(), "u1".into(), "sales".into()], &d)
            .unwrap();
        let t = g.transitive("sales", &d).unwrap();
        assert_eq!(
            t.into_iter().collect::<Vec<_>>(),
            [
                ("berlin".to_owned(), Member::Group),
                ("u1".to_owned(), Member::User),
                ("u2".to_owned(), Member::User)
            ]
        );
        assert!(g.set_members("sales", &["nobody".into()], &d).is_err());
        d.soft_delete("u2").unwrap();
        assert_eq!(
            g.transitive("berlin", &d).unwrap().len(),
            2,
            "deleted users are not members"
        );
    }
}
