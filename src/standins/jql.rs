//! Enough JQL for the stand-in: `field = "v"`, `!=`, `in (...)`,
//! `not in (...)`, `is EMPTY`, `created`/`updated >= -Nd` (relative days,
//! `-Nh`, `-Nm`), `AND`, `OR`, parentheses and `ORDER BY`.
//! Unknown fields and syntax errors are errors, as on a real site.

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Query {
    pub(crate) filter: Option<Expr>,
    pub(crate) order: Vec<(String, bool)>,
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    IsEmpty(String),
    /// A date field at or after this instant (milliseconds since the epoch).
    Since(String, i64),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            w if w.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '=' => {
                out.push(Tok::Op("="));
                i += 1;
            }
            '>' if c.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op(">="));
                i += 2;
            }
            '!' if c.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("!="));
                i += 2;
            }
            q @ ('"' | '\'') => {
                let mut v = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('\\') => {
                            v.push(*c.get(i + 1).ok_or("dangling escape")?);
                            i += 2;
                        }
                        Some(ch) if *ch == q => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let start = i;
                while i < c.len()
                    && !c[i].is_whitespace()
                    && !matches!(c[i], '(' | ')' | ',' | '=' | '!' | '>' | '"' | '\'')
                {
                    i += 1;
                }
                if start == i {
                    return Err(format!("unexpected character {:?}", c[i]));
                }
                out.push(Tok::Word(c[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

const FIELDS: &[&str] =
    &["project", "issuetype", "labels", "status", "key", "issuekey", "creator", "resolution", "created", "updated"];

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("OR") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.atom()?;
        while self.peek_word("AND") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Str(s) | Tok::Word(s)) => Ok(s),
            other => Err(format!("expected a value, found {other:?}")),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        if self.next() != Some(Tok::LParen) {
            return Err("expected '('".into());
        }
        let mut v = vec![self.value()?];
        loop {
            match self.next() {
                Some(Tok::Comma) => v.push(self.value()?),
                Some(Tok::RParen) => return Ok(v),
                other => return Err(format!("expected ',' or ')', found {other:?}")),
            }
        }
    }

    fn atom(&mut self) -> Result<Expr, String> {
        if self.toks.get(self.pos) == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return Err("expected ')'".into());
            }
            return Ok(e);
        }
        let field = match self.next() {
            Some(Tok::Word(f)) => f.to_ascii_lowercase(),
            other => return Err(format!("expected a field, found {other:?}")),
        };
        if !FIELDS.contains(&field.as_str()) {
            return Err(format!("Field '{field}' does not exist or you do not have permission to view it."));
        }
        match self.next() {
            Some(Tok::Op("=")) => Ok(Expr::Eq(field, self.value()?)),
            Some(Tok::Op("!=")) => Ok(Expr::Ne(field, self.value()?)),
            Some(Tok::Op(">=")) => {
                let v = self.value()?;
                if let Some(d) = crate::base::time::Date::parse(&v) {
                    return Ok(Expr::Since(field, d.unix_days() * 86_400_000));
                }
                let rel = v
                    .strip_prefix('-')
                    .filter(|r| r.len() > 1)
                    .ok_or(format!("expected a relative date like -7d, found {v}"))?;
                let (n, unit) = rel.split_at(rel.len() - 1);
                let n: i64 = n.parse().map_err(|_| format!("not a relative date: {v}"))?;
                let ms = match unit {
                    "d" => 86_400_000,
                    "h" => 3_600_000,
                    "m" => 60_000,
                    _ => return Err(format!("not a relative date: {v}")),
                };
                Ok(Expr::Since(field, crate::base::time::Timestamp::now().0 - n * ms))
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Ok(Expr::In(field, self.list()?)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                let v = self.value()?;
                if v.eq_ignore_ascii_case("empty") || v.eq_ignore_ascii_case("null") {
                    Ok(Expr::IsEmpty(field))
                } else {
                    Err(format!("expected EMPTY after IS, found {v}"))
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                if !self.peek_word("in") {
                    return Err("expected IN after NOT".into());
                }
                self.pos += 1;
                Ok(Expr::NotIn(field, self.list()?))
            }
            other => Err(format!("expected an operator after {field}, found {other:?}")),
        }
    }
}

/// Parses a query.
pub(super) fn parse(q: &str) -> Result<Query, String> {
    let toks = lex(q)?;
    let order_at = toks.windows(2).position(|w| {
        matches!((&w[0], &w[1]), (Tok::Word(a), Tok::Word(b)) if a.eq_ignore_ascii_case("order") && b.eq_ignore_ascii_case("by"))
    });
    let (filter_toks, order_toks) = match order_at {
        Some(i) => (toks[..i].to_vec(), toks[i + 2..].to_vec()),
        None => (toks, Vec::new()),
    };
    let filter = if filter_toks.is_empty() {
        None
    } else {
        let mut p = Parser { toks: filter_toks, pos: 0 };
        let e = p.or()?;
        if p.pos != p.toks.len() {
            return Err(format!("unexpected {:?}", p.toks[p.pos]));
        }
        Some(e)
    };
    let mut order = Vec::new();
    let mut it = order_toks.into_iter().peekable();
    while let Some(t) = it.next() {
        let Tok::Word(f) = t else { return Err("expected a field after ORDER BY".into()) };
        let mut asc = true;
        if let Some(Tok::Word(d)) = it.peek() {
            if d.eq_ignore_ascii_case("desc") {
                asc = false;
                it.next();
            } else if d.eq_ignore_ascii_case("asc") {
                it.next();
            }
        }
        order.push((f.to_ascii_lowercase(), asc));
        if it.peek() == Some(&Tok::Comma) {
            it.next();
        }
    }
    Ok(Query { filter, order })
}

impl Expr {
    /// Evaluates against an issue; `get` returns the values of a field.
    pub(super) fn matches(&self, get: &dyn Fn(&str) -> Vec<String>) -> bool {
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        match self {
            Expr::And(a, b) => a.matches(get) && b.matches(get),
            Expr::Or(a, b) => a.matches(get) || b.matches(get),
            Expr::Eq(f, v) => get(f).iter().any(|x| eq(x, v)),
            Expr::Ne(f, v) => !get(f).iter().any(|x| eq(x, v)),
            Expr::In(f, vs) => get(f).iter().any(|x| vs.iter().any(|v| eq(x, v))),
            Expr::NotIn(f, vs) => !get(f).iter().any(|x| vs.iter().any(|v| eq(x, v))),
            Expr::IsEmpty(f) => get(f).is_empty(),
            Expr::Since(f, at) => get(f).iter().any(|x| x.parse::<i64>().is_ok_and(|t| t >= *at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(f: &str) -> Vec<String> {
        match f {
            "project" => vec!["PRODCM".into()],
            "labels" => vec!["changegate".into(), "changegate-key-abc".into()],
            "status" => vec!["Manual review".into()],
            _ => vec![],
        }
    }

    #[test]
    fn the_queries_changegate_sends() {
        let q = parse(r#"project = "PRODCM" AND labels = "changegate-key-abc" ORDER BY created ASC"#).unwrap();
        assert!(q.filter.unwrap().matches(&get));
        assert_eq!(q.order, [("created".into(), true)]);
        let q =
            parse(r#"project = "PRODCM" AND status not in ("Done", "Declined") ORDER BY resolutiondate DESC"#).unwrap();
        assert!(q.filter.unwrap().matches(&get));
        assert_eq!(q.order, [("resolutiondate".into(), false)]);
        let q = parse(r#"project = "PRODCM" AND (labels = "x" OR status in ("Manual review"))"#).unwrap();
        assert!(q.filter.unwrap().matches(&get));
    }

    #[test]
    fn an_escaped_injection_stays_a_value() {
        let evil = crate::clients::jira::jql::string("main\" OR project = \"SECRET");
        let q = parse(&format!("project = \"PRODCM\" AND labels = {evil}")).unwrap();
        assert_eq!(
            q.filter.unwrap(),
            Expr::And(
                Box::new(Expr::Eq("project".into(), "PRODCM".into())),
                Box::new(Expr::Eq("labels".into(), "main\" OR project = \"SECRET".into()))
            )
        );
    }

    #[test]
    fn errors() {
        assert!(parse("summary ~ \"x\"").unwrap_err().contains("Field 'summary' does not exist"));
        assert!(parse("project = \"x").is_err());
        assert!(parse("project = x AND").is_err());
    }
}
