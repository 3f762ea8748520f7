//! The OData `$filter` subset the directory endpoints understand
//! (<https://learn.microsoft.com/en-us/graph/filter-query-parameter>): `eq`, `ne`, `in`, `not`,
//! `and`, `or`, parentheses, `startsWith`/`endsWith`, and `proxyAddresses/any(p:…)`, over the
//! properties a user-linking client needs. String comparisons ignore case, as Entra's do. This
//! file holds the expression, its evaluation and the measures Graph's limits need; the parser is
//! in `filter_parse.rs`.

/// A filterable property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prop {
    Id,
    DisplayName,
    Mail,
    UserPrincipalName,
    AccountEnabled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lit {
    Str(String),
    Bool(bool),
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    StartsWith,
    EndsWith,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// `prop eq value`, or `ne` when `negated`.
    Eq {
        prop: Prop,
        value: Lit,
        negated: bool,
    },
    In {
        prop: Prop,
        values: Vec<Lit>,
    },
    Func {
        func: Func,
        prop: Prop,
        value: String,
    },
    /// `proxyAddresses/any(p:p eq 'v')` (`func: None`) or with `startsWith`/`endsWith`.
    AnyProxy {
        func: Option<Func>,
        value: String,
    },
}

/// Why a filter was refused: a syntax error (`BadRequest`) or a property or operator the
/// resource does not support (`Request_UnsupportedQuery`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FilterError {
    pub unsupported: bool,
    pub message: String,
}

/// The values a filter reads from a directory object.
pub(crate) trait Fields {
    fn text(&self, prop: Prop) -> Option<&str>;
    fn flag(&self, prop: Prop) -> Option<bool>;
    fn proxies(&self) -> &[String];
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

fn apply(func: Func, value: &str, arg: &str) -> bool {
    let (v, a) = (value.to_lowercase(), arg.to_lowercase());
    match func {
        Func::StartsWith => v.starts_with(&a),
        Func::EndsWith => v.ends_with(&a),
    }
}

fn equals(record: &dyn Fields, prop: Prop, value: &Lit) -> bool {
    match value {
        Lit::Null => record.text(prop).is_none() && record.flag(prop).is_none(),
        Lit::Bool(b) => record.flag(prop) == Some(*b),
        Lit::Str(s) => record.text(prop).is_some_and(|v| same(v, s)),
    }
}

impl Expr {
    pub fn matches(&self, record: &dyn Fields) -> bool {
        match self {
            Expr::Or(parts) => parts.iter().any(|p| p.matches(record)),
            Expr::And(parts) => parts.iter().all(|p| p.matches(record)),
            Expr::Not(e) => !e.matches(record),
            Expr::Eq {
                prop,
                value,
                negated,
            } => equals(record, *prop, value) != *negated,
            Expr::In { prop, values } => values.iter().any(|v| equals(record, *prop, v)),
            Expr::Func { func, prop, value } => {
                record.text(*prop).is_some_and(|v| apply(*func, v, value))
            }
            Expr::AnyProxy { func: None, value } => record.proxies().iter().any(|p| same(p, value)),
            Expr::AnyProxy {
                func: Some(f),
                value,
            } => record.proxies().iter().any(|p| apply(*f, p, value)),
        }
    }

    /// The operator that needs advanced query parameters (`ne`, `not`, `endsWith`), if any.
    pub fn advanced_operator(&self) -> Option<&'static str> {
        match self {
            Expr::Or(parts) | Expr::And(parts) => parts.iter().find_map(Expr::advanced_operator),
            Expr::Not(_) => Some("not"),
            Expr::Eq { negated: true, .. } => Some("ne"),
            Expr::Func {
                func: Func::EndsWith,
                ..
            }
            | Expr::AnyProxy {
                func: Some(Func::EndsWith),
                ..
            } => Some("endsWith"),
            _ => None,
        }
    }

    /// Leaf expressions, each value of an `in` counted (Graph's "15 expressions" limit).
    pub fn expressions(&self) -> usize {
        match self {
            Expr::Or(parts) | Expr::And(parts) => parts.iter().map(Expr::expressions).sum(),
            Expr::Not(e) => e.expressions(),
            Expr::In { values, .. } => values.len(),
            _ => 1,
        }
    }

    /// The most children of any `or`.
    pub fn or_clauses(&self) -> usize {
        match self {
            Expr::Or(parts) => parts
                .len()
                .max(parts.iter().map(Expr::or_clauses).max().unwrap_or(0)),
            Expr::And(parts) => parts.iter().map(Expr::or_clauses).max().unwrap_or(0),
            Expr::Not(e) => e.or_clauses(),
            _ => 0,
        }
    }

    pub fn uses_in(&self) -> bool {
        match self {
            Expr::Or(parts) | Expr::And(parts) => parts.iter().any(Expr::uses_in),
            Expr::Not(e) => e.uses_in(),
            Expr::In { .. } => true,
            _ => false,
        }
    }

    /// The longest string compared with `eq` (Graph caps it at 120 characters).
    pub fn longest_eq_value(&self) -> usize {
        match self {
            Expr::Or(parts) | Expr::And(parts) => {
                parts.iter().map(Expr::longest_eq_value).max().unwrap_or(0)
            }
            Expr::Not(e) => e.longest_eq_value(),
            Expr::Eq {
                value: Lit::Str(s), ..
            } => s.chars().count(),
            _ => 0,
        }
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
