//! Policy documents: equivalence and the statements the rules look at.
//!
//! Two policies are the same when AWS would treat them the same: whitespace
//! and key order do not matter, statement and value lists are sets, a single
//! value equals a one-element list, `Effect` is case-insensitive, a bare
//! account id principal equals its `:root` ARN, and `"Principal": "*"` equals
//! `{"AWS": "*"}` (the rules of the AWS provider's policy-equivalence check).
//! Values that are not JSON are compared as text.

use serde_json::{Map, Value};

/// Attributes that hold a policy document with statements, on any resource
/// type.
pub(super) const STATEMENT_ATTRS: [&str; 5] =
    ["policy", "access_policies", "access_policy", "policy_document", "resource_policy"];

/// A parsed policy-like attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum PolicyValue {
    /// A JSON document (string attributes are parsed; blocks taken as-is).
    Doc(Value),
    /// Text that is not JSON.
    Text(String),
}

impl PolicyValue {
    /// Reads an attribute value: a JSON string is parsed (twice at most, for
    /// a document that was encoded twice); a block is taken as it is.
    pub(super) fn from_attr(v: &Value) -> PolicyValue {
        match v {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
                    Ok(doc @ (Value::Object(_) | Value::Array(_))) => PolicyValue::Doc(doc),
                    _ => PolicyValue::Text(s.clone()),
                },
                Ok(doc) => PolicyValue::Doc(doc),
                Err(_) => PolicyValue::Text(s.clone()),
            },
            other => PolicyValue::Doc(deep_parse(other)),
        }
    }

    /// The canonical form that equivalent policies share.
    pub(super) fn canonical(&self) -> PolicyValue {
        match self {
            PolicyValue::Doc(v) => PolicyValue::Doc(normalize(v)),
            PolicyValue::Text(s) => PolicyValue::Text(s.trim().to_owned()),
        }
    }

    /// The statements of the document (none for text).
    pub(super) fn statements(&self) -> Vec<Statement> {
        self.statement_objects().into_iter().map(Statement::of).collect()
    }

    /// The statements of this document that `old` does not have (all of
    /// them without an old document), compared in canonical form. Only a
    /// change to an existing document puts statements in canonical form.
    pub(super) fn statements_not_in(&self, old: Option<&PolicyValue>) -> Vec<Statement> {
        let old: Vec<String> =
            old.map(|o| o.statement_objects().into_iter().map(canonical_text).collect()).unwrap_or_default();
        self.statement_objects()
            .into_iter()
            .filter(|s| old.is_empty() || !old.contains(&canonical_text(s)))
            .map(Statement::of)
            .collect()
    }

    /// The statement objects of the document (none for text).
    fn statement_objects(&self) -> Vec<&Value> {
        match self {
            PolicyValue::Doc(v) => statement_objects(v),
            PolicyValue::Text(_) => Vec::new(),
        }
    }
}

/// Parses string leaves that hold JSON documents (policies inside blocks,
/// such as `inline_policy[].policy`).
fn deep_parse(v: &Value) -> Value {
    match v {
        Value::String(s) if s.trim_start().starts_with('{') => match serde_json::from_str::<Value>(s) {
            Ok(doc @ Value::Object(_)) => doc,
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(deep_parse).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), deep_parse(x))).collect()),
        other => other.clone(),
    }
}

/// True when a value is absent or empty (`null`, `""`, `{}`, `[]`).
pub(super) fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// [`is_empty`] of a value's raw JSON (syntax checked by the element
/// reader), when the bytes decide it without decoding: `null` and the empty
/// forms are empty, a boolean is not, and neither is a string that starts
/// with a printable character other than a backslash and has no `\u`
/// escape. `None` when only parsing can tell, and for what serde_json may
/// refuse (a lone surrogate escape, a number out of range), which then reads
/// as absent. Policies are long strings full of escapes: a new one is known
/// to be set without being decoded.
pub(super) fn is_empty_raw(raw: &[u8]) -> Option<bool> {
    match raw {
        b"null" | b"\"\"" | b"[]" | b"{}" => Some(true),
        b"true" | b"false" => Some(false),
        [b'"', c, ..] if c.is_ascii_graphic() && *c != b'\\' && memchr::memmem::find(raw, b"\\u").is_none() => {
            Some(false)
        }
        _ => None,
    }
}

/// True when two attribute values are equivalent policies.
pub(super) fn equivalent(a: &Value, b: &Value) -> bool {
    PolicyValue::from_attr(a).canonical() == PolicyValue::from_attr(b).canonical()
}

/// Canonical form of a policy value.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, val) in map {
                let n = match k.as_str() {
                    "Principal" | "NotPrincipal" => normalize_principal(val),
                    "Effect" => match val {
                        Value::String(s) => Value::String(s.to_ascii_lowercase()),
                        other => normalize(other),
                    },
                    "Condition" => normalize_condition(val),
                    _ => normalize(val),
                };
                out.insert(k.clone(), n);
            }
            Value::Object(out)
        }
        Value::Array(items) => set_of(items.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// A list as a set: sorted, without duplicates; one element stands alone.
fn set_of(mut items: Vec<Value>) -> Value {
    items.sort_by_cached_key(Value::to_string);
    items.dedup();
    if items.len() == 1 { items.pop().expect("one item") } else { Value::Array(items) }
}

fn normalize_principal(v: &Value) -> Value {
    let account = |s: &str| -> Value {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Value::String(format!("arn:aws:iam::{s}:root"))
        } else {
            Value::String(s.to_owned())
        }
    };
    match v {
        Value::String(s) if s == "*" => {
            let mut m = Map::new();
            m.insert("AWS".into(), Value::String("*".into()));
            Value::Object(m)
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, val) in map {
                let vals = match val {
                    Value::Array(a) => a.clone(),
                    one => vec![one.clone()],
                };
                let vals = vals
                    .iter()
                    .map(|x| match (k.as_str(), x) {
                        ("AWS", Value::String(s)) => account(s),
                        _ => normalize(x),
                    })
                    .collect();
                out.insert(k.clone(), set_of(vals));
            }
            Value::Object(out)
        }
        other => normalize(other),
    }
}

/// Condition values compare as sets of strings (`true` equals `"true"`).
fn normalize_condition(v: &Value) -> Value {
    fn leaf(v: &Value) -> Value {
        match v {
            Value::Bool(b) => Value::String(b.to_string()),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Array(a) => set_of(a.iter().map(leaf).collect()),
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), leaf(v))).collect()),
            other => other.clone(),
        }
    }
    leaf(v)
}

/// One statement, reduced to what the rules judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Statement {
    /// `Effect` is `Allow` (case-insensitive); a missing effect is not.
    pub(crate) allow: bool,
    /// `Action` values.
    pub(crate) actions: Vec<String>,
    /// `NotAction` is present.
    pub(crate) not_action: bool,
    /// `Resource` values.
    pub(crate) resources: Vec<String>,
    /// Principals (flattened values of `Principal`), `*` for "anyone".
    pub(crate) principals: Vec<String>,
    /// A `Condition` block narrows the statement.
    pub(crate) conditional: bool,
}

impl Statement {
    /// Reads one statement object (keys in any case).
    fn of(o: &Value) -> Statement {
        let get = |name: &str| o.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        Statement {
            allow: matches!(get("Effect"), Some(Value::String(e)) if e.eq_ignore_ascii_case("allow")),
            actions: strings(get("Action")),
            not_action: get("NotAction").is_some(),
            resources: strings(get("Resource")),
            principals: strings(get("Principal")),
            conditional: get("Condition").is_some(),
        }
    }

    /// Grants every action, or every action of a service on every resource,
    /// or everything but a list (`NotAction` with `Allow`).
    pub(super) fn grants_wildcard(&self) -> Option<String> {
        if !self.allow {
            return None;
        }
        if self.not_action {
            return Some("Allow with NotAction (everything except a list)".into());
        }
        if self.actions.iter().any(|a| a == "*" || a == "*:*") {
            return Some(format!("Action \"*\" on {}", resources_text(&self.resources)));
        }
        let all_resources = self.resources.iter().any(|r| r == "*");
        if let Some(a) = self.actions.iter().find(|a| a.ends_with(":*")).filter(|_| all_resources) {
            return Some(format!("Action \"{a}\" on Resource \"*\""));
        }
        None
    }

    /// Allows anyone: principal `*` (or `{"AWS": "*"}`).
    pub(super) fn allows_anyone(&self) -> bool {
        self.allow && self.principals.iter().any(|p| p == "*")
    }
}

fn resources_text(r: &[String]) -> String {
    match r {
        [] => "any resource".into(),
        [one] => format!("Resource \"{one}\""),
        _ => format!("{} resources", r.len()),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().flat_map(|x| strings(Some(x))).collect(),
        Some(Value::Object(m)) => m.values().flat_map(|x| strings(Some(x))).collect(),
        Some(other) => vec![other.to_string()],
    }
}

/// The statement objects of a policy document. Accepts `Statement` as a
/// list or a single object, with keys in any case (`statement` in some
/// providers); entries that are not objects are not statements.
fn statement_objects(doc: &Value) -> Vec<&Value> {
    let Value::Object(m) = doc else {
        return Vec::new();
    };
    match m.iter().find(|(k, _)| k.eq_ignore_ascii_case("statement")).map(|(_, v)| v) {
        Some(Value::Array(a)) => a.iter().filter(|s| s.is_object()).collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

/// A statement's canonical text, to tell new statements from old.
fn canonical_text(statement: &Value) -> String {
    normalize(statement).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eq(a: &str, b: &str) -> bool {
        equivalent(&Value::String(a.into()), &Value::String(b.into()))
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        assert!(eq(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            "{\n  \"Statement\": [ { \"Resource\": \"*\", \"Action\": \"s3:GetObject\", \"Effect\": \"Allow\" } ],\n  \"Version\": \"2012-10-17\"\n}"
        ));
    }

    #[test]
    fn string_equals_one_element_array() {
        assert!(eq(
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#
        ));
    }

    #[test]
    fn lists_are_sets() {
        assert!(eq(
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:A","s3:B","s3:A"]}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:B","s3:A"]}]}"#
        ));
    }

    #[test]
    fn effect_case_account_principal_and_star_principal() {
        assert!(eq(
            r#"{"Statement":[{"Effect":"allow","Principal":{"AWS":"123456789012"}}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]}}]}"#
        ));
        assert!(eq(r#"{"Statement":[{"Principal":"*"}]}"#, r#"{"Statement":[{"Principal":{"AWS":"*"}}]}"#));
    }

    #[test]
    fn condition_values_compare_as_strings() {
        assert!(eq(
            r#"{"Statement":[{"Condition":{"Bool":{"aws:SecureTransport":false}}}]}"#,
            r#"{"Statement":[{"Condition":{"Bool":{"aws:SecureTransport":["false"]}}}]}"#
        ));
    }

    #[test]
    fn real_differences_are_differences() {
        assert!(!eq(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:PutObject"}]}"#
        ));
        assert!(!eq(r#"{"Statement":[{"Effect":"Allow"}]}"#, r#"{"Statement":[{"Effect":"Deny"}]}"#));
        assert!(!eq(r#"{"Version":"2012-10-17"}"#, r#"{"Version":"2008-10-17"}"#));
        assert!(!eq(r#"{"Statement":[{"Sid":"A"}]}"#, r#"{"Statement":[{"Sid":"a"}]}"#));
    }

    #[test]
    fn escaped_json_is_decoded() {
        let twice = serde_json::to_string(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#).unwrap();
        assert!(eq(&twice, r#"{"Statement":{"Action":"s3:*","Effect":"Allow"}}"#));
    }

    #[test]
    fn text_that_is_not_json_compares_as_text() {
        assert!(eq("not json", " not json "));
        assert!(!eq("not json", "other"));
    }

    #[test]
    fn statements_find_wildcards_and_public_principals() {
        let doc = json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["iam:*"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"},
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:GetObject"}
        ]});
        let s = PolicyValue::Doc(doc).statements();
        let w: Vec<bool> = s.iter().map(|s| s.grants_wildcard().is_some()).collect();
        assert_eq!(w, [true, true, false, false, true, false, false]);
        let p: Vec<bool> = s.iter().map(Statement::allows_anyone).collect();
        assert_eq!(p, [false, false, false, false, false, true, true]);
    }

    #[test]
    fn statements_not_in_an_old_document_are_the_new_ones_in_any_form() {
        let doc = |v: Value| PolicyValue::from_attr(&Value::String(v.to_string()));
        let read = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
        let write = json!({"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*"});
        let old = doc(json!({"Statement": [read]}));
        // The same statement written another way is not new; the added one is.
        let new = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Resource": ["*"], "Action": ["s3:GetObject"], "Effect": "allow"}, write, "not a statement"]}));
        let added = new.statements_not_in(Some(&old));
        assert_eq!(added.iter().map(|s| s.actions.clone()).collect::<Vec<_>>(), [vec!["s3:PutObject".to_owned()]]);
        assert_eq!(new.statements_not_in(None).len(), 2, "without an old document every statement is new");
        let text = PolicyValue::Text("not json".into());
        assert_eq!(new.statements_not_in(Some(&text)).len(), 2, "text has no statements");
        assert!(text.statements_not_in(Some(&old)).is_empty());
    }

    #[test]
    fn emptiness() {
        assert!(is_empty(None));
        assert!(is_empty(Some(&json!(""))));
        assert!(is_empty(Some(&json!([]))));
        assert!(!is_empty(Some(&json!("{}"))));
    }

    #[test]
    fn raw_emptiness_agrees_with_the_parsed_value_whenever_it_answers() {
        let samples = [
            "null",
            r#""""#,
            "[]",
            "{}",
            "[ ]",
            "{ }",
            "[1]",
            r#"{"a":1}"#,
            r#""{}""#,
            r#""  ""#,
            r#"" x""#,
            r#""\n""#,
            r#""\u0020""#,
            r#""\"{}""#,
            r#""{\"Statement\":[]}""#,
            "0",
            "-1",
            "true",
            "false",
            r#""x""#,
            "\"\u{a0}\"",
            // What serde_json refuses reads as absent: never answered from the bytes.
            "1e400",
            "-1e400",
            &"9".repeat(400),
            r#""a\ud800""#,
            r#""{\"a\":\"\udc00\"}""#,
            r#""{\"a\":\"\u00e9\"}""#,
        ];
        let mut answered = 0;
        for raw in samples {
            // As `Attrs::value` reads it: null and what serde_json refuses are absent.
            let parsed = serde_json::from_str::<Value>(raw).ok().filter(|v| !v.is_null());
            if let Some(empty) = is_empty_raw(raw.as_bytes()) {
                answered += 1;
                assert_eq!(empty, is_empty(parsed.as_ref()), "{raw}");
            }
        }
        assert_eq!(answered, 9, "the common forms are answered from their bytes");
        assert_eq!(is_empty_raw(br#""{\"Version\":\"2012-10-17\"}""#), Some(false));
        assert_eq!(is_empty_raw(br#"" ""#), None, "leading whitespace needs the parsed text");
    }
}
