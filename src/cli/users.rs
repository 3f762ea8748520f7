//! `presence-bridge users import FILE.csv`: links Entra users to Swyx users from a CSV file with
//! the columns entra_id, swyx_user_id, email (a header line is optional). Every line is checked
//! first; bad lines are reported with their number and the good ones are imported.
//! `presence-bridge users list` writes the same format, so its output imports again. Imported
//! links are manual: automatic linking (`users sync`) never undoes them.

use crate::config::is_guid;
use crate::store::{LinkMarkKind, Store, StoreError, UserLink};
use anyhow::Context;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

/// The header of the file `users list` writes and `users import` reads.
pub const CSV_HEADER: &str = "entra_id,swyx_user_id,email";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    pub unchanged: usize,
    /// (line number, problem)
    pub refused: Vec<(usize, String)>,
}

/// Splits one CSV line: commas separate fields; a field may be "quoted" ("" is a quote inside).
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field).trim().to_string());
                was_quoted = false;
            }
            (false, '"') => return Err("a quote in the middle of a field".to_string()),
            (false, c) if was_quoted && !c.is_whitespace() => {
                return Err("text after a closing quote".to_string());
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".to_string());
    }
    fields.push(field.trim().to_string());
    Ok(fields)
}

/// Lines to import and lines refused, each with its 1-based line number.
pub type ParsedCsv = (Vec<(usize, UserLink)>, Vec<(usize, String)>);

/// Parses the file: the links to import and the lines refused. Entra ids are lower-cased (Graph
/// compares them without case); duplicates inside the file are refused after their first line.
pub fn parse_csv(text: &str) -> ParsedCsv {
    let mut links = Vec::new();
    let mut refused = Vec::new();
    let mut seen_entra: HashMap<String, usize> = HashMap::new();
    let mut seen_swyx: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = match split_csv_line(line) {
            Ok(f) => f,
            Err(e) => {
                refused.push((n, e));
                continue;
            }
        };
        if links.is_empty()
            && refused.is_empty()
            && fields
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("entra_id"))
        {
            continue; // header
        }
        let UserLink {
            entra_id,
            swyx_user_id,
            email,
            ..
        } = match user_of(&fields) {
            Ok(user) => user,
            Err(problem) => {
                refused.push((n, problem));
                continue;
            }
        };
        if let Some(first) = seen_entra.get(&entra_id) {
            refused.push((n, format!("entra_id {entra_id} is already on line {first}")));
            continue;
        }
        if let Some(first) = seen_swyx.get(&swyx_user_id) {
            refused.push((
                n,
                format!("swyx_user_id {swyx_user_id:?} is already on line {first}"),
            ));
            continue;
        }
        seen_entra.insert(entra_id.clone(), n);
        seen_swyx.insert(swyx_user_id.clone(), n);
        links.push((
            n,
            UserLink {
                entra_id,
                swyx_user_id,
                email,
                groups: Vec::new(),
            },
        ));
    }
    (links, refused)
}

/// One line's fields as a link, or what is wrong with them.
pub(crate) fn user_of(fields: &[String]) -> Result<UserLink, String> {
    if fields.len() < 2 || fields.len() > 3 {
        return Err(format!(
            "expected 2 or 3 fields (entra_id, swyx_user_id, email), found {}",
            fields.len()
        ));
    }
    let entra_id = fields[0].to_ascii_lowercase();
    let swyx_user_id = fields[1].clone();
    let email = fields.get(2).cloned().unwrap_or_default();
    if !is_guid(&entra_id) {
        return Err(format!(
            "entra_id {:?} is not a GUID (the user's Entra object id)",
            fields[0]
        ));
    }
    // It becomes a path segment of the connector contract: `.`, `..` or `/` would change the
    // request's path.
    if let Err(e) = swyx_contract::wire::check_swyx_user_id(&swyx_user_id) {
        return Err(format!("swyx_user_id {swyx_user_id:?}: {e}"));
    }
    if !email.is_empty() && !email.contains('@') {
        return Err(format!("email {email:?} has no @"));
    }
    Ok(UserLink {
        entra_id,
        swyx_user_id,
        email,
        groups: Vec::new(),
    })
}

pub async fn import(store: &dyn Store, text: &str) -> Result<ImportReport, StoreError> {
    let (links, mut refused) = parse_csv(text);
    let mut report = ImportReport::default();
    // An imported link is manual: a link a sync made becomes the operator's (no sync undoes it).
    let automatic: HashSet<String> = store
        .list_link_marks()
        .await?
        .into_iter()
        .filter(|m| matches!(m.kind, LinkMarkKind::Automatic { .. }))
        .map(|m| m.swyx_user_id)
        .collect();
    for (line, link) in links {
        let unchanged = store.get_user(&link.entra_id).await?.as_ref() == Some(&link);
        let linked = if unchanged {
            Ok(())
        } else {
            store.put_user(&link).await
        };
        if linked.is_ok() && automatic.contains(&link.swyx_user_id) {
            store.delete_link_mark(&link.swyx_user_id).await?;
        }
        match linked {
            Ok(()) if unchanged => report.unchanged += 1,
            Ok(()) => report.imported += 1,
            Err(StoreError::Conflict { .. }) => {
                let owner = store
                    .get_user_by_swyx_id(&link.swyx_user_id)
                    .await?
                    .map_or_else(|| "another user".to_string(), |u| u.entra_id);
                refused.push((
                    line,
                    format!(
                        "swyx_user_id {:?} is already linked to {owner}",
                        link.swyx_user_id
                    ),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    refused.sort();
    report.refused = refused;
    Ok(report)
}

/// `users import FILE`: links the file's users and reports to `out`: a summary, then each
/// refused line as `FILE:LINE: problem`. `false` when any line was refused.
pub async fn import_file(
    store: &dyn Store,
    file: &Path,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report = import(store, &text).await?;
    writeln!(
        out,
        "{} users linked, {} already linked as in the file, {} lines refused",
        report.imported,
        report.unchanged,
        report.refused.len()
    )?;
    for (line, problem) in &report.refused {
        writeln!(out, "{}:{line}: {problem}", file.display())?;
    }
    Ok(report.refused.is_empty())
}

/// `users list`: every linked user as a CSV line under [`CSV_HEADER`].
pub async fn list(store: &dyn Store, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for user in store.list_users().await? {
        writeln!(out, "{}", csv_line(&user))?;
    }
    Ok(())
}

/// One user as a CSV line that [`parse_csv`] reads back unchanged.
pub fn csv_line(user: &UserLink) -> String {
    [&user.entra_id, &user.swyx_user_id, &user.email]
        .map(|f| csv_field(f))
        .join(",")
}

/// A field quoted when it holds a comma, a quote or a line break (RFC 4180), or space at its
/// ends (which the reader would otherwise trim).
fn csv_field(field: &str) -> Cow<'_, str> {
    let needs_quotes = field.contains([',', '"', '\n', '\r']) || field.trim() != field;
    if needs_quotes {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "6e1b1a6c-3d4e-4f5a-9b8c-7d6e5f4a3b2c";
    const B: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";

    #[test]
    fn parses_header_quotes_and_reports_bad_lines() {
        let text = format!(
            "entra_id,swyx_user_id,email\n{},101,\"Müller, Anna\"@x.de\n\n# comment\nnot-a-guid,102,a@x.de\n{B},\"103\",b@x.de\n{B},104,c@x.de\n{},103,d@x.de\n{A},105\n",
            A.to_uppercase(),
            "11111111-2222-4333-8444-555555555555"
        );
        let (links, refused) = parse_csv(&text);
        assert_eq!(links.len(), 2, "{links:?} {refused:?}");
        assert_eq!(links[0].1.entra_id, B);
        assert_eq!(links[0].1.swyx_user_id, "103");
        assert_eq!((links[1].0, links[1].1.entra_id.as_str()), (9, A));
        let lines: Vec<usize> = refused.iter().map(|r| r.0).collect();
        assert_eq!(lines, vec![2, 5, 7, 8], "{refused:?}");
        assert!(refused[0].1.contains("quote"));
        assert!(refused[1].1.contains("GUID"));
        assert!(refused[2].1.contains("line 6"));
        assert!(refused[3].1.contains("\"103\" is already on line 6"));
    }

    #[test]
    fn swyx_user_ids_that_would_change_the_connector_path_are_refused() {
        let text = format!(
            "{A},..,a@x.de\n{B},.,b@x.de\n{},1/2,c@x.de\n{},,d@x.de\n{},anna.schmidt,e@x.de\n",
            "11111111-2222-4333-8444-555555555555",
            "21111111-2222-4333-8444-555555555555",
            "31111111-2222-4333-8444-555555555555",
        );
        let (links, refused) = parse_csv(&text);
        assert_eq!(links.len(), 1, "{refused:?}");
        assert_eq!(links[0].1.swyx_user_id, "anna.schmidt");
        let lines: Vec<usize> = refused.iter().map(|r| r.0).collect();
        assert_eq!(lines, vec![1, 2, 3, 4]);
        assert!(refused[0].1.contains("\"..\""), "{refused:?}");
        assert!(refused[2].1.contains("'/'"), "{refused:?}");
        assert!(refused[3].1.contains("empty"), "{refused:?}");
    }

    #[test]
    fn listed_users_read_back_unchanged() {
        let users = [
            UserLink {
                entra_id: A.into(),
                swyx_user_id: "101".into(),
                email: "\"Müller, Anna\"@x.de".into(),
                groups: Vec::new(),
            },
            UserLink {
                entra_id: B.into(),
                swyx_user_id: "Empfang, 2. OG".into(),
                email: String::new(),
                groups: Vec::new(),
            },
        ];
        let text: String = std::iter::once(CSV_HEADER.to_string())
            .chain(users.iter().map(csv_line))
            .map(|l| l + "\n")
            .collect();
        let (links, refused) = parse_csv(&text);
        assert!(refused.is_empty(), "{refused:?}\n{text}");
        let read: Vec<UserLink> = links.into_iter().map(|(_, l)| l).collect();
        assert_eq!(read, users, "{text}");
    }

    #[test]
    fn quoted_fields_may_hold_commas() {
        assert_eq!(
            split_csv_line("a,\"b, c\",\"d\"\"e\"").unwrap(),
            vec!["a", "b, c", "d\"e"]
        );
        assert!(split_csv_line("a,\"b").is_err());
    }
}
