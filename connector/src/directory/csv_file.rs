//! The CSV source: a file the administrator exports from SwyxWare Administration (or writes by
//! hand), with a header row naming the columns `swyx_user_id`, `name`, `email`, `sip_uri`,
//! `groups` (the last three may be empty; several groups are separated by `;`).

use super::{DirectoryError, DirectoryUser};
use std::path::Path;

pub fn read(path: &Path) -> Result<Vec<DirectoryUser>, DirectoryError> {
    let fail = |problem: String| DirectoryError::Csv {
        path: path.display().to_string(),
        problem,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| fail(e.to_string()))?;
    let headers = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let id_col = col("swyx_user_id").ok_or_else(|| {
        fail("the header row has no swyx_user_id column (expected: swyx_user_id,name,email,sip_uri,groups)".into())
    })?;
    let (name_col, email_col, sip_col, groups_col) =
        (col("name"), col("email"), col("sip_uri"), col("groups"));
    let mut users = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| fail(format!("line {line}: {e}")))?;
        let get = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        let Some(id) = get(Some(id_col)) else {
            return Err(fail(format!("line {line}: swyx_user_id is empty")));
        };
        users.push(DirectoryUser {
            name: get(name_col).unwrap_or_else(|| id.clone()),
            email: get(email_col),
            sip_uri: get(sip_col),
            groups: get(groups_col)
                .map(|g| {
                    g.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            swyx_user_id: id,
        });
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_columns_by_name_and_names_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        std::fs::write(
            &path,
            "name,swyx_user_id,email,groups\nAlice,1001,alice@example.com,Sales; Berlin\nBob,1002,,\n",
        )
        .unwrap();
        let users = read(&path).unwrap();
        assert_eq!(users[0].swyx_user_id, "1001");
        assert_eq!(users[0].groups, ["Sales", "Berlin"]);
        assert_eq!(users[1].email, None);
        std::fs::write(&path, "swyx_user_id,name\n1001,A\n,B\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("swyx_user_id"), "{e}");
    }
}
