//! The Swyx users as planning keeps them.

use super::packed::{PackedStrs, Sparse};
use super::{SwyxCandidate, TooLargeToPlan};

/// The connector's users, column by column: at 100,000 users a [`SwyxCandidate`] each (72
/// bytes, two boxed strings and their heap blocks) was 10 MB of the linking peak (heaptrack);
/// here the id and address are their text and 8 bytes.
#[derive(Debug, Default)]
pub struct SwyxUsers {
    ids: PackedStrs,
    /// The e-mail address as the connector lists it, empty when it lists none (which matching
    /// treats alike: it needs an `@`).
    emails: PackedStrs,
    in_scope: Vec<bool>,
    id_problems: Sparse<Box<str>>,
    groups: Sparse<Box<[String]>>,
}

/// One Swyx user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwyxUser<'a> {
    pub swyx_user_id: &'a str,
    pub email: Option<&'a str>,
    pub in_scope: bool,
    pub id_problem: Option<&'a str>,
    pub groups: &'a [String],
}

impl SwyxUsers {
    pub fn push(&mut self, user: SwyxCandidate) -> Result<(), TooLargeToPlan> {
        let index = u32::try_from(self.len()).map_err(|_| TooLargeToPlan)?;
        self.ids.push(&user.swyx_user_id).ok_or(TooLargeToPlan)?;
        if self
            .emails
            .push(user.email.as_deref().unwrap_or(""))
            .is_none()
        {
            self.ids.pop();
            return Err(TooLargeToPlan);
        }
        self.in_scope.push(user.in_scope);
        if let Some(problem) = user.id_problem {
            self.id_problems.push(index, problem);
        }
        if !user.groups.is_empty() {
            self.groups.push(index, user.groups);
        }
        Ok(())
    }

    /// The users of `users`, in their order.
    pub fn of(users: impl IntoIterator<Item = SwyxCandidate>) -> Result<Self, TooLargeToPlan> {
        let mut all = Self::default();
        for u in users {
            all.push(u)?;
        }
        all.shrink_to_fit();
        Ok(all)
    }

    pub fn len(&self) -> usize {
        self.in_scope.len()
    }

    pub fn is_empty(&self) -> bool {
        self.in_scope.is_empty()
    }

    pub fn get(&self, i: usize) -> SwyxUser<'_> {
        SwyxUser {
            swyx_user_id: self.ids.get(i),
            email: Some(self.emails.get(i)).filter(|e| !e.is_empty()),
            in_scope: self.in_scope[i],
            id_problem: self.id_problems.get(i).map(|p| &**p),
            groups: self.groups.get(i).map_or(&[][..], |g| &g[..]),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = SwyxUser<'_>> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Grown page by page: up to twice the room it needs.
    pub fn shrink_to_fit(&mut self) {
        self.ids.shrink_to_fit();
        self.emails.shrink_to_fit();
        self.in_scope.shrink_to_fit();
        self.id_problems.shrink_to_fit();
        self.groups.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_come_back_as_pushed() {
        let users = SwyxUsers::of([
            SwyxCandidate {
                swyx_user_id: "101".into(),
                email: Some("Ann@corp.example".into()),
                in_scope: true,
                id_problem: None,
                groups: Box::default(),
            },
            SwyxCandidate {
                swyx_user_id: "bad id".into(),
                email: None,
                in_scope: false,
                id_problem: Some("contains a space".into()),
                groups: vec!["Sales".to_string()].into(),
            },
        ])
        .expect("two users fit");
        assert_eq!(users.len(), 2);
        let ann = users.get(0);
        assert_eq!(
            (ann.swyx_user_id, ann.email),
            ("101", Some("Ann@corp.example"))
        );
        assert!(ann.in_scope && ann.id_problem.is_none() && ann.groups.is_empty());
        let bad = users.get(1);
        assert_eq!(bad.email, None);
        assert!(!bad.in_scope);
        assert_eq!(bad.id_problem, Some("contains a space"));
        assert_eq!(bad.groups, ["Sales"]);
    }
}
