//! Query options of the directory collections (`$select`, `$top`, `$filter`, `$count`,
//! `$search`, `$skiptoken`) and Graph's rules about them
//! (<https://learn.microsoft.com/en-us/graph/aad-advanced-queries>, known issues
//! <https://learn.microsoft.com/en-us/graph/known-issues>):
//!
//! * `ne`, `not` and `endsWith` need the advanced query parameters (`ConsistencyLevel:
//!   eventual` *and* `$count=true`), `$search` needs the header; otherwise 400
//!   `Request_UnsupportedQuery`. `$count=true` without the header is silently ignored, as the
//!   page documents ("silently ignores the `$count` query parameter").
//! * A filter using `in` is limited to 15 expressions (each `in` value counts) and an `or` to
//!   15 clauses (Graph's message: "Too many child clauses … Max allowed: 15"); an `eq` value to
//!   120 characters. With the advanced parameters the limit is the URL's 2,048 characters instead.
//! * `$top` is 1 to 999, 100 by default.

use super::filter::{Expr, Fields, Prop};
use super::filter_parse::parse;

pub(crate) const DEFAULT_PAGE: usize = 100;
pub(crate) const MAX_PAGE: usize = 999;
const MAX_EXPRESSIONS: usize = 15;
const MAX_EQ_VALUE: usize = 120;
const MAX_ADVANCED_URL: usize = 2048;

/// A 400 answer: Graph's error code and message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub code: &'static str,
    pub message: String,
}

fn unsupported(message: impl Into<String>) -> QueryError {
    QueryError {
        code: "Request_UnsupportedQuery",
        message: message.into(),
    }
}

fn bad(message: impl Into<String>) -> QueryError {
    QueryError {
        code: "BadRequest",
        message: message.into(),
    }
}

/// A directory collection: what it filters, searches and selects on.
pub(crate) struct Resource {
    /// "User", "Group": as Graph names it in messages.
    pub name: &'static str,
    /// `microsoft.graph.user` …
    pub odata_type: &'static str,
    pub filter_props: &'static [Prop],
    pub search_props: &'static [(&'static str, Prop)],
    pub selectable: &'static [&'static str],
    /// Returned without `$select`.
    pub default_select: &'static [&'static str],
}

pub(crate) const USERS: Resource = Resource {
    name: "User",
    odata_type: "microsoft.graph.user",
    filter_props: &[
        Prop::Id,
        Prop::DisplayName,
        Prop::Mail,
        Prop::UserPrincipalName,
        Prop::AccountEnabled,
    ],
    search_props: &[
        ("displayName", Prop::DisplayName),
        ("mail", Prop::Mail),
        ("userPrincipalName", Prop::UserPrincipalName),
    ],
    selectable: &[
        "id",
        "displayName",
        "mail",
        "userPrincipalName",
        "proxyAddresses",
        "accountEnabled",
        "givenName",
        "surname",
        "jobTitle",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "businessPhones",
        "otherMails",
    ],
    default_select: &[
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    ],
};

pub(crate) const GROUPS: Resource = Resource {
    name: "Group",
    odata_type: "microsoft.graph.group",
    filter_props: &[Prop::Id, Prop::DisplayName],
    search_props: &[("displayName", Prop::DisplayName)],
    selectable: &[
        "id",
        "displayName",
        "description",
        "mail",
        "mailEnabled",
        "securityEnabled",
        "groupTypes",
    ],
    default_select: &[
        "id",
        "displayName",
        "description",
        "mail",
        "mailEnabled",
        "securityEnabled",
        "groupTypes",
    ],
};

/// `$search="prop:term" OR "prop:term"`: word-prefix matches, as directory search tokenizes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Search {
    any: bool,
    terms: Vec<(Prop, String)>,
}

impl Search {
    pub fn matches(&self, record: &dyn Fields) -> bool {
        let hit = |(prop, term): &(Prop, String)| {
            record.text(*prop).is_some_and(|v| {
                let v = v.to_lowercase();
                v.starts_with(term.as_str())
                    || v.split(|c: char| !c.is_alphanumeric())
                        .any(|w| w.starts_with(term.as_str()))
            })
        };
        if self.any {
            self.terms.iter().any(hit)
        } else {
            self.terms.iter().all(hit)
        }
    }
}

#[derive(Debug)]
pub(crate) struct ListQuery {
    pub select: Vec<&'static str>,
    pub top: usize,
    pub filter: Option<Expr>,
    pub search: Option<Search>,
    /// `$count=true` honoured (advanced query): answer with `@odata.count`.
    pub count: bool,
    pub skiptoken: Option<String>,
}

impl ListQuery {
    pub fn matches(&self, record: &dyn Fields) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(record))
            && self.search.as_ref().is_none_or(|s| s.matches(record))
    }
}

/// `$select` in canonical spelling; `None` for the resource's default set.
pub(crate) fn parse_select(
    value: Option<&str>,
    res: &Resource,
) -> Result<Vec<&'static str>, QueryError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(res.default_select.to_vec());
    };
    value
        .split(',')
        .map(|p| {
            let p = p.trim();
            res.selectable
                .iter()
                .find(|s| s.eq_ignore_ascii_case(p))
                .copied()
                .ok_or_else(|| {
                    bad(format!(
                        "Could not find a property named '{p}' on type '{}'.",
                        res.odata_type
                    ))
                })
        })
        .collect()
}

fn parse_search(value: &str, res: &Resource) -> Result<Search, QueryError> {
    let parts: Vec<&str> = value.split('"').collect();
    let mut terms = Vec::new();
    for quoted in parts.iter().skip(1).step_by(2) {
        let (prop, term) = quoted.split_once(':').ok_or_else(|| {
            bad(format!(
                "$search clause \"{quoted}\" must be of the form \"property:term\""
            ))
        })?;
        let prop = res
            .search_props
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(prop.trim()))
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                unsupported(format!(
                    "$search is not supported on property '{prop}' of resource '{}'.",
                    res.name
                ))
            })?;
        terms.push((prop, term.trim().to_lowercase()));
    }
    if terms.is_empty() || parts.len().is_multiple_of(2) {
        return Err(bad(
            "$search needs quoted clauses like \"displayName:anna\"",
        ));
    }
    let any = parts
        .iter()
        .step_by(2)
        .any(|between| between.trim().eq_ignore_ascii_case("or"));
    Ok(Search { any, terms })
}

fn check_filter(filter: &Expr, advanced: bool, url_len: usize) -> Result<(), QueryError> {
    if advanced {
        if url_len > MAX_ADVANCED_URL {
            return Err(unsupported(format!(
                "The request URL has {url_len} characters; advanced queries allow at most {MAX_ADVANCED_URL}."
            )));
        }
        return Ok(());
    }
    if let Some(op) = filter.advanced_operator() {
        return Err(unsupported(format!(
            "Operator '{op}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
        )));
    }
    let ors = filter.or_clauses();
    if ors > MAX_EXPRESSIONS {
        return Err(unsupported(format!(
            "Too many child clauses specified in search filter expression containing 'OR' operators: {ors}. Max allowed: {MAX_EXPRESSIONS}."
        )));
    }
    let n = filter.expressions();
    if filter.uses_in() && n > MAX_EXPRESSIONS {
        return Err(unsupported(format!(
            "Too many expressions in the filter clause: {n}. A filter with the 'in' operator allows at most {MAX_EXPRESSIONS} expressions by default; with ConsistencyLevel: eventual and $count=true the limit is a URL of {MAX_ADVANCED_URL} characters."
        )));
    }
    if filter.longest_eq_value() > MAX_EQ_VALUE {
        return Err(unsupported(format!(
            "A value compared with 'eq' may have at most {MAX_EQ_VALUE} characters."
        )));
    }
    Ok(())
}

/// Reads the query options of a list request. `eventual`: the `ConsistencyLevel: eventual`
/// header; `url_len`: the length of the request URL (path and query) as sent.
pub(crate) fn parse_list_query(
    pairs: &[(String, String)],
    res: &Resource,
    eventual: bool,
    url_len: usize,
) -> Result<ListQuery, QueryError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    const KNOWN: &[&str] = &[
        "$select",
        "$top",
        "$filter",
        "$count",
        "$search",
        "$skiptoken",
    ];
    if let Some((k, _)) = pairs
        .iter()
        .find(|(k, _)| k.starts_with('$') && !KNOWN.iter().any(|n| n.eq_ignore_ascii_case(k)))
    {
        return Err(unsupported(format!(
            "The query option '{k}' is not supported on this collection by the sandbox."
        )));
    }
    let top = match get("$top") {
        None => DEFAULT_PAGE,
        Some(t) => t
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| unsupported(format!("Invalid page size specified: '{t}'. Must be between 1 and {MAX_PAGE} inclusive.")))?,
    };
    let count = eventual && get("$count").is_some_and(|c| c.eq_ignore_ascii_case("true"));
    let search = match get("$search") {
        None => None,
        Some(_) if !eventual => {
            return Err(unsupported(
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
            ));
        }
        Some(s) => Some(parse_search(s, res)?),
    };
    let filter = match get("$filter").filter(|f| !f.trim().is_empty()) {
        None => None,
        Some(f) => {
            let expr = parse(f, res.name, res.filter_props).map_err(|e| QueryError {
                code: if e.unsupported {
                    "Request_UnsupportedQuery"
                } else {
                    "BadRequest"
                },
                message: e.message,
            })?;
            check_filter(&expr, count, url_len)?;
            Some(expr)
        }
    };
    Ok(ListQuery {
        select: parse_select(get("$select"), res)?,
        top,
        filter,
        search,
        count,
        skiptoken: get("$skiptoken").map(str::to_owned),
    })
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
