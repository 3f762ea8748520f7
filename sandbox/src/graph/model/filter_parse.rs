//! Parsing `$filter` text into a [`Expr`] (see `filter.rs`): a tokenizer and a recursive-descent
//! parser whose errors say what is wrong, telling syntax errors (`BadRequest`) from properties the
//! resource does not filter on (`Request_UnsupportedQuery`).

use super::filter::{Expr, FilterError, Func, Lit, Prop};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
    Colon,
}

fn syntax(message: impl Into<String>) -> FilterError {
    FilterError {
        unsupported: false,
        message: format!("Invalid filter clause: {}", message.into()),
    }
}

fn tokenize(input: &str) -> Result<Vec<Tok>, FilterError> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | ':' => {
                chars.next();
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    ',' => Tok::Comma,
                    _ => Tok::Colon,
                });
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        Some('\'') => break,
                        Some(ch) => s.push(ch),
                        None => return Err(syntax("unterminated string literal")),
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let mut w = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_alphanumeric() || matches!(ch, '_' | '.' | '/' | '$' | '-') {
                        w.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Word(w));
            }
            other => return Err(syntax(format!("unexpected character '{other}'"))),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    resource: &'a str,
    props: &'a [Prop],
}

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), FilterError> {
        match self.next() {
            Some(t) if &t == want => Ok(()),
            _ => Err(syntax(format!("expected {what}"))),
        }
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.and()?];
        while is_kw(self.peek(), "or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.unary()?];
        while is_kw(self.peek(), "and") {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if is_kw(self.peek(), "not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let e = self.or()?;
            self.expect(&Tok::Close, "')'")?;
            return Ok(e);
        }
        let Some(Tok::Word(word)) = self.next() else {
            return Err(syntax("expected a property, a function or '('"));
        };
        if let Some(func) = func_of(&word) {
            self.expect(&Tok::Open, "'(' after the function name")?;
            let prop = self.prop()?;
            self.expect(&Tok::Comma, "','")?;
            let value = self.string()?;
            self.expect(&Tok::Close, "')'")?;
            return Ok(Expr::Func { func, prop, value });
        }
        if word.eq_ignore_ascii_case("proxyAddresses/any") {
            return self.any();
        }
        let prop = self.prop_named(&word)?;
        match self.next() {
            Some(Tok::Word(op))
                if op.eq_ignore_ascii_case("eq") || op.eq_ignore_ascii_case("ne") =>
            {
                let value = self.literal()?;
                Ok(Expr::Eq {
                    prop,
                    value,
                    negated: op.eq_ignore_ascii_case("ne"),
                })
            }
            Some(Tok::Word(op)) if op.eq_ignore_ascii_case("in") => {
                self.expect(&Tok::Open, "'(' after in")?;
                let mut values = vec![self.literal()?];
                while self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                    values.push(self.literal()?);
                }
                self.expect(&Tok::Close, "')'")?;
                Ok(Expr::In { prop, values })
            }
            _ => Err(syntax(format!("expected eq, ne or in after '{word}'"))),
        }
    }

    /// `(p: p eq 'v')` or `(p: startsWith(p, 'v'))` after `proxyAddresses/any`.
    fn any(&mut self) -> Result<Expr, FilterError> {
        self.expect(&Tok::Open, "'(' after any")?;
        let Some(Tok::Word(var)) = self.next() else {
            return Err(syntax("expected a range variable in any(…)"));
        };
        self.expect(&Tok::Colon, "':' after the range variable")?;
        let is_var = |t: Option<Tok>| matches!(t, Some(Tok::Word(w)) if w == var);
        let expr = match self.next() {
            Some(Tok::Word(w)) if w == var => {
                if !is_kw(self.peek(), "eq") {
                    return Err(syntax(
                        "only eq, startsWith and endsWith work inside any(…)",
                    ));
                }
                self.pos += 1;
                Expr::AnyProxy {
                    func: None,
                    value: self.string()?,
                }
            }
            Some(Tok::Word(w)) if func_of(&w).is_some() => {
                self.expect(&Tok::Open, "'('")?;
                if !is_var(self.next()) {
                    return Err(syntax("the function must test the range variable"));
                }
                self.expect(&Tok::Comma, "','")?;
                let value = self.string()?;
                self.expect(&Tok::Close, "')'")?;
                Expr::AnyProxy {
                    func: func_of(&w),
                    value,
                }
            }
            _ => return Err(syntax("expected a test of the range variable in any(…)")),
        };
        self.expect(&Tok::Close, "')'")?;
        Ok(expr)
    }

    fn prop(&mut self) -> Result<Prop, FilterError> {
        match self.next() {
            Some(Tok::Word(w)) => self.prop_named(&w),
            _ => Err(syntax("expected a property name")),
        }
    }

    fn prop_named(&self, name: &str) -> Result<Prop, FilterError> {
        let prop = [
            ("id", Prop::Id),
            ("displayName", Prop::DisplayName),
            ("mail", Prop::Mail),
            ("userPrincipalName", Prop::UserPrincipalName),
            ("accountEnabled", Prop::AccountEnabled),
        ]
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, p)| *p)
        .filter(|p| self.props.contains(p));
        prop.ok_or_else(|| FilterError {
            unsupported: true,
            message: format!(
                "Unsupported or invalid query filter clause specified for property '{name}' of resource '{}'.",
                self.resource
            ),
        })
    }

    fn string(&mut self) -> Result<String, FilterError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            _ => Err(syntax("expected a quoted string")),
        }
    }

    fn literal(&mut self) -> Result<Lit, FilterError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Lit::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Lit::Bool(false)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Lit::Null),
            _ => Err(syntax("expected a quoted string, true, false or null")),
        }
    }
}

fn func_of(word: &str) -> Option<Func> {
    if word.eq_ignore_ascii_case("startsWith") {
        Some(Func::StartsWith)
    } else if word.eq_ignore_ascii_case("endsWith") {
        Some(Func::EndsWith)
    } else {
        None
    }
}

/// Parses `input` for `resource` ("User", "Group"), which filters on `props`.
pub(crate) fn parse(input: &str, resource: &str, props: &[Prop]) -> Result<Expr, FilterError> {
    let mut p = Parser {
        toks: tokenize(input)?,
        pos: 0,
        resource,
        props,
    };
    if p.toks.is_empty() {
        return Err(syntax("the filter is empty"));
    }
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(syntax("unexpected text after the expression"));
    }
    Ok(e)
}
