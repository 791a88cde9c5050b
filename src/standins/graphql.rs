//! A small GraphQL executor for the GitHub stand-in: parses operations with
//! variables, aliases, arguments, named fragments and inline fragments, and
//! resolves them against a [`Resolver`]. It serves the queries changegate
//! sends (which are validated against GitHub's real schema elsewhere); it
//! is not a general GraphQL server.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Num(String),
    Punct(char),
    Spread,
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            w if w.is_whitespace() || w == ',' => i += 1,
            '#' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '.' if c.get(i + 1) == Some(&'.') && c.get(i + 2) == Some(&'.') => {
                out.push(Tok::Spread);
                i += 3;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let e = *c.get(i + 1).ok_or("dangling escape")?;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            d if d.is_ascii_digit() || d == '-' => {
                let start = i;
                i += 1;
                while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Num(c[start..i].iter().collect()));
            }
            a if a.is_ascii_alphabetic() || a == '_' => {
                let start = i;
                while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Name(c[start..i].iter().collect()));
            }
            p if "{}()[]:$!=@".contains(p) => {
                out.push(Tok::Punct(p));
                i += 1;
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

/// An argument or variable value.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Var(String),
    Json(Value),
    Enum(String),
    List(Vec<Lit>),
}

#[derive(Debug, Clone, PartialEq)]
enum Selection {
    Field { alias: Option<String>, name: String, args: Vec<(String, Lit)>, selections: Vec<Selection> },
    Spread(String),
    Inline { on: String, selections: Vec<Selection> },
}

struct Parser {
    t: Vec<Tok>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn next(&mut self) -> Result<Tok, String> {
        let t = self.t.get(self.i).cloned().ok_or("unexpected end of query")?;
        self.i += 1;
        Ok(t)
    }
    fn expect(&mut self, p: char) -> Result<(), String> {
        match self.next()? {
            Tok::Punct(c) if c == p => Ok(()),
            other => Err(format!("expected '{p}', found {other:?}")),
        }
    }
    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Tok::Name(n) => Ok(n),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn selections(&mut self) -> Result<Vec<Selection>, String> {
        self.expect('{')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Punct('}')) => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(Tok::Spread) => {
                    self.i += 1;
                    let n = self.name()?;
                    if n == "on" {
                        let on = self.name()?;
                        out.push(Selection::Inline { on, selections: self.selections()? });
                    } else {
                        out.push(Selection::Spread(n));
                    }
                }
                _ => {
                    let first = self.name()?;
                    let (alias, name) = if self.peek() == Some(&Tok::Punct(':')) {
                        self.i += 1;
                        (Some(first), self.name()?)
                    } else {
                        (None, first)
                    };
                    let mut args = Vec::new();
                    if self.peek() == Some(&Tok::Punct('(')) {
                        self.i += 1;
                        while self.peek() != Some(&Tok::Punct(')')) {
                            let k = self.name()?;
                            self.expect(':')?;
                            args.push((k, self.value()?));
                        }
                        self.i += 1;
                    }
                    let selections =
                        if self.peek() == Some(&Tok::Punct('{')) { self.selections()? } else { Vec::new() };
                    out.push(Selection::Field { alias, name, args, selections });
                }
            }
        }
    }

    fn value(&mut self) -> Result<Lit, String> {
        match self.next()? {
            Tok::Punct('$') => Ok(Lit::Var(self.name()?)),
            Tok::Str(s) => Ok(Lit::Json(Value::String(s))),
            Tok::Num(n) => Ok(Lit::Json(serde_json::from_str(&n).map_err(|_| format!("bad number {n}"))?)),
            Tok::Name(n) if n == "true" || n == "false" => Ok(Lit::Json(Value::Bool(n == "true"))),
            Tok::Name(n) if n == "null" => Ok(Lit::Json(Value::Null)),
            Tok::Name(n) => Ok(Lit::Enum(n)),
            Tok::Punct('[') => {
                let mut items = Vec::new();
                while self.peek() != Some(&Tok::Punct(']')) {
                    items.push(self.value()?);
                }
                self.i += 1;
                Ok(Lit::List(items))
            }
            other => Err(format!("unexpected {other:?} as a value")),
        }
    }

    /// Skips `($a: T!, $b: [T] = x)`.
    fn skip_variable_definitions(&mut self) -> Result<(), String> {
        if self.peek() != Some(&Tok::Punct('(')) {
            return Ok(());
        }
        let mut depth = 0;
        loop {
            match self.next()? {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }
}

/// A parsed document: the operation's selections and the fragments.
#[derive(Debug)]
pub(super) struct Document {
    operation: Vec<Selection>,
    fragments: BTreeMap<String, (String, Vec<Selection>)>,
}

/// Parses a query document with one operation.
pub(super) fn parse(src: &str) -> Result<Document, String> {
    let mut p = Parser { t: lex(src)?, i: 0 };
    let mut operation = None;
    let mut fragments = BTreeMap::new();
    while let Some(t) = p.peek().cloned() {
        match t {
            Tok::Punct('{') => operation = Some(p.selections()?),
            Tok::Name(n) if n == "query" => {
                p.i += 1;
                if matches!(p.peek(), Some(Tok::Name(_))) {
                    p.i += 1;
                }
                p.skip_variable_definitions()?;
                operation = Some(p.selections()?);
            }
            Tok::Name(n) if n == "fragment" => {
                p.i += 1;
                let name = p.name()?;
                if p.name()? != "on" {
                    return Err("expected 'on' in a fragment".into());
                }
                let on = p.name()?;
                fragments.insert(name, (on, p.selections()?));
            }
            other => return Err(format!("unexpected {other:?} at the top level")),
        }
    }
    Ok(Document { operation: operation.ok_or("no operation")?, fragments })
}

/// What a field resolves to.
#[derive(Debug, Clone)]
pub(super) enum Resolved<N> {
    /// A leaf value.
    Leaf(Value),
    /// An object (resolved further by its selections).
    Object(N),
    /// A list.
    List(Vec<Resolved<N>>),
}

/// The data behind the executor.
pub(super) trait Resolver {
    /// A node of the graph.
    type Node: Clone;
    /// The root (`Query`).
    fn root(&self) -> Self::Node;
    /// The concrete type name of a node (for inline fragments and `__typename`).
    fn typename(&self, node: &Self::Node) -> String;
    /// True when `node` is of type or interface `ty`.
    fn is_a(&self, node: &Self::Node, ty: &str) -> bool {
        self.typename(node) == ty
    }
    /// Resolves a field with its arguments.
    fn field(&self, node: &Self::Node, name: &str, args: &Map<String, Value>) -> Result<Resolved<Self::Node>, String>;
}

fn arg_value(l: &Lit, vars: &Map<String, Value>) -> Result<Value, String> {
    Ok(match l {
        Lit::Var(v) => vars.get(v).cloned().ok_or_else(|| format!("variable ${v} is not given"))?,
        Lit::Json(j) => j.clone(),
        Lit::Enum(e) => Value::String(e.clone()),
        Lit::List(items) => Value::Array(items.iter().map(|i| arg_value(i, vars)).collect::<Result<_, _>>()?),
    })
}

/// Executes a document; returns `{"data": ...}` or `{"errors": [...]}`.
/// A resolver error that is GitHub's `NOT_FOUND`: the field becomes null
/// and the error is listed beside the data, as GitHub answers a query for
/// a pull request number that does not exist.
pub(super) const NOT_FOUND: &str = "NOT_FOUND:";

pub(super) fn execute<R: Resolver>(r: &R, src: &str, vars: &Map<String, Value>) -> Value {
    let mut errors = Vec::new();
    let result = parse(src).and_then(|doc| {
        let root = r.root();
        select(r, &doc, &root, &doc.operation, vars, &mut errors, &mut Vec::new())
    });
    match result {
        Ok(data) if errors.is_empty() => serde_json::json!({"data": data}),
        Ok(data) => serde_json::json!({"data": data, "errors": errors}),
        Err(e) => serde_json::json!({"errors": [{"message": e}]}),
    }
}

fn select<R: Resolver>(
    r: &R,
    doc: &Document,
    node: &R::Node,
    sels: &[Selection],
    vars: &Map<String, Value>,
    errors: &mut Vec<Value>,
    path: &mut Vec<Value>,
) -> Result<Value, String> {
    let mut out = Map::new();
    for s in sels {
        match s {
            Selection::Field { alias, name, args, selections } => {
                let key = alias.clone().unwrap_or_else(|| name.clone());
                if name == "__typename" {
                    out.insert(key, Value::String(r.typename(node)));
                    continue;
                }
                let mut a = Map::new();
                for (k, v) in args {
                    a.insert(k.clone(), arg_value(v, vars)?);
                }
                path.push(Value::String(key.clone()));
                let v = match r.field(node, name, &a) {
                    Ok(resolved) => resolve(r, doc, resolved, selections, vars, errors, path)?,
                    Err(e) if e.starts_with(NOT_FOUND) => {
                        errors.push(serde_json::json!({"type": "NOT_FOUND", "path": path.clone(),
                                                       "message": e[NOT_FOUND.len()..].to_owned()}));
                        Value::Null
                    }
                    Err(e) => return Err(e),
                };
                path.pop();
                out.insert(key, v);
            }
            Selection::Spread(f) => {
                let (on, fs) = doc.fragments.get(f).ok_or_else(|| format!("unknown fragment {f}"))?;
                if r.is_a(node, on)
                    && let Value::Object(m) = select(r, doc, node, fs, vars, errors, path)?
                {
                    out.extend(m);
                }
            }
            Selection::Inline { on, selections } => {
                if r.is_a(node, on)
                    && let Value::Object(m) = select(r, doc, node, selections, vars, errors, path)?
                {
                    out.extend(m);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

fn resolve<R: Resolver>(
    r: &R,
    doc: &Document,
    v: Resolved<R::Node>,
    sels: &[Selection],
    vars: &Map<String, Value>,
    errors: &mut Vec<Value>,
    path: &mut Vec<Value>,
) -> Result<Value, String> {
    match v {
        Resolved::Leaf(v) => Ok(v),
        Resolved::Object(n) => select(r, doc, &n, sels, vars, errors, path),
        Resolved::List(items) => {
            let mut out = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                path.push(Value::from(i));
                out.push(resolve(r, doc, item, sels, vars, errors, path)?);
                path.pop();
            }
            Ok(Value::Array(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A toy graph: Query { greeting(name), things: [Thing] }, Thing { id }.
    struct Toy;
    #[derive(Clone)]
    enum N {
        Root,
        Thing(u64),
    }
    impl Resolver for Toy {
        type Node = N;
        fn root(&self) -> N {
            N::Root
        }
        fn typename(&self, n: &N) -> String {
            match n {
                N::Root => "Query".into(),
                N::Thing(_) => "Thing".into(),
            }
        }
        fn field(&self, n: &N, name: &str, args: &Map<String, Value>) -> Result<Resolved<N>, String> {
            match (n, name) {
                (N::Root, "greeting") => Ok(Resolved::Leaf(json!(format!("hello {}", args["name"].as_str().unwrap())))),
                (N::Root, "things") => {
                    Ok(Resolved::List(vec![Resolved::Object(N::Thing(1)), Resolved::Object(N::Thing(2))]))
                }
                (N::Thing(i), "id") => Ok(Resolved::Leaf(json!(i))),
                (N::Root, "missing") => Err(format!("{NOT_FOUND}no such thing")),
                _ => Err(format!("Field '{name}' doesn't exist")),
            }
        }
    }

    #[test]
    fn aliases_variables_fragments_and_typenames() {
        let q = r#"query Q($who: String!) { a: greeting(name: $who) b: greeting(name: "x") things { ...T ... on Thing { __typename } } }
                   fragment T on Thing { id }"#;
        let mut vars = Map::new();
        vars.insert("who".into(), json!("you"));
        let v = execute(&Toy, q, &vars);
        assert_eq!(
            v,
            json!({"data": {"a": "hello you", "b": "hello x", "things": [{"id": 1, "__typename": "Thing"}, {"id": 2, "__typename": "Thing"}]}})
        );
    }

    #[test]
    fn not_found_nulls_the_field_and_lists_the_error() {
        let v = execute(&Toy, "{ a: greeting(name: \"x\") b: missing }", &Map::new());
        assert_eq!(v["data"], json!({"a": "hello x", "b": null}));
        assert_eq!(v["errors"][0]["type"], "NOT_FOUND");
        assert_eq!(v["errors"][0]["path"], json!(["b"]));
    }

    #[test]
    fn errors_are_graphql_errors() {
        assert!(execute(&Toy, "{ nope }", &Map::new())["errors"][0]["message"].as_str().unwrap().contains("nope"));
        assert!(execute(&Toy, "{ greeting(name: $x) }", &Map::new())["errors"].is_array());
        assert!(execute(&Toy, "{ things { ", &Map::new())["errors"].is_array());
    }
}
