//! Short names in scenarios: "alice" means the user whose address starts with `alice@`, an
//! exact id or address means that user; more than one match is an error naming them.

/// Finds the one entry that `name` means: an exact id, else an exact e-mail/UPN (any case), else
/// a UPN that starts with `name` up to the `@` or beyond it ("alice", "alice@contoso").
pub(crate) fn resolve<'a>(
    name: &str,
    entries: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> Resolved {
    let entries: Vec<_> = entries.collect();
    if entries.iter().any(|(id, _)| *id == name) {
        return Resolved::One(name.to_string());
    }
    let lname = name.to_lowercase();
    let exact: Vec<_> = entries
        .iter()
        .filter(|(_, mail)| mail.is_some_and(|m| m.to_lowercase() == lname))
        .collect();
    if let [(id, _)] = exact.as_slice() {
        return Resolved::One(id.to_string());
    }
    let prefix: Vec<_> = entries
        .iter()
        .filter(|(_, mail)| {
            mail.is_some_and(|m| {
                let m = m.to_lowercase();
                m.starts_with(&lname) && (lname.contains('@') || m[lname.len()..].starts_with('@'))
            })
        })
        .collect();
    match prefix.as_slice() {
        [(id, _)] => Resolved::One(id.to_string()),
        [] => Resolved::None,
        many => Resolved::Ambiguous(many.iter().map(|(id, _)| id.to_string()).collect()),
    }
}

/// The users a name matches.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    One(String),
    None,
    Ambiguous(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_ids_mail_and_short_names() {
        let users = [
            ("u1", Some("alice@contoso.com")),
            ("u2", Some("alicia@contoso.com")),
            ("u3", None),
        ];
        let r = |n: &str| resolve(n, users.iter().map(|(a, b)| (*a, *b)));
        assert_eq!(r("u3"), Resolved::One("u3".into()));
        assert_eq!(r("ALICE@contoso.com"), Resolved::One("u1".into()));
        assert_eq!(
            r("alice"),
            Resolved::One("u1".into()),
            "local part up to the @"
        );
        assert_eq!(r("alice@contoso"), Resolved::One("u1".into()));
        assert_eq!(
            r("ali"),
            Resolved::None,
            "a bare prefix of the local part is not enough"
        );
        assert_eq!(r("al"), Resolved::None);
        let dup = [("a", Some("x@one.com")), ("b", Some("x@two.com"))];
        assert_eq!(
            resolve("x", dup.iter().map(|(a, b)| (*a, *b))),
            Resolved::Ambiguous(vec!["a".into(), "b".into()])
        );
    }
}
