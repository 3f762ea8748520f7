use super::*;

fn q(pairs: &[(&str, &str)], eventual: bool) -> Result<ListQuery, QueryError> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    parse_list_query(&pairs, &USERS, eventual, 200)
}

#[test]
fn advanced_operators_need_the_header_and_count() {
    let ne = [("$filter", "accountEnabled ne true")];
    assert_eq!(q(&ne, false).unwrap_err().code, "Request_UnsupportedQuery");
    assert!(q(&ne, true).is_err(), "the header alone is not enough");
    assert!(
        q(
            &[("$filter", "accountEnabled ne true"), ("$count", "true")],
            true
        )
        .is_ok()
    );
    assert!(
        !q(&[("$count", "true")], false).unwrap().count,
        "ignored without the header"
    );
    assert!(
        q(&[("$search", "\"displayName:an\"")], false)
            .unwrap_err()
            .message
            .contains("ConsistencyLevel")
    );
}

#[test]
fn in_takes_15_expressions_or_takes_15_clauses() {
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("'{i}@x.example'"))
            .collect::<Vec<_>>()
            .join(",")
    };
    assert!(q(&[("$filter", &format!("mail in ({})", list(15)))], false).is_ok());
    let e = q(&[("$filter", &format!("mail in ({})", list(16)))], false).unwrap_err();
    assert!(e.message.contains("16"), "{e:?}");
    let ors = (0..16)
        .map(|i| format!("mail eq '{i}'"))
        .collect::<Vec<_>>()
        .join(" or ");
    assert!(
        q(&[("$filter", &ors)], false)
            .unwrap_err()
            .message
            .contains("Max allowed: 15")
    );
    let advanced = [
        ("$filter", format!("mail in ({})", list(40))),
        ("$count", "true".into()),
    ];
    let advanced: Vec<(&str, &str)> = advanced.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(q(&advanced, true).is_ok());
}

#[test]
fn top_and_select_are_checked() {
    assert_eq!(q(&[], false).unwrap().top, 100);
    assert_eq!(q(&[("$top", "999")], false).unwrap().top, 999);
    assert!(
        q(&[("$top", "1000")], false)
            .unwrap_err()
            .message
            .contains("between 1 and 999")
    );
    assert_eq!(
        q(&[("$select", "ID,Mail")], false).unwrap().select,
        ["id", "mail"]
    );
    assert_eq!(
        q(&[("$select", "shoeSize")], false).unwrap_err().code,
        "BadRequest"
    );
    assert!(q(&[("$orderby", "displayName")], false).is_err());
}
