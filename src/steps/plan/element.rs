//! Reads one element of `resource_changes` (or `resource_drift`) in a single
//! validating pass.
//!
//! The element is checked as strictly as the rest of the plan (every value's
//! JSON syntax, the types of the fields the gate reads, required fields,
//! duplicate fields) while it is indexed: the names and values it needs
//! (address, type, mode, actions...) are borrowed from the bytes, and the
//! attributes of the object sides (`before`, `after`, the masks) are recorded
//! as byte ranges of their raw JSON, which a rule parses only when it asks for
//! one. Nothing is allocated per element except what has escapes to decode
//! and the action list; the attribute index is one buffer reused from element
//! to element ([`ElementReader`]).
//!
//! The bytes are either the rest of the scanner's current chunk (the element
//! is read in place, and [`ElementError::Incomplete`] says it runs past the
//! chunk) or the captured element.

use std::borrow::Cow;

use super::model::{Action, Actions, Attrs, Change, Entry, Mask, Raw, ResourceChange};
use super::scan::{Scalar, number_at, skip_whitespace, string_end, string_token, unescape};

/// Deepest nesting inside one element (the limit of serde_json, which read
/// elements before; real plans stay far below).
pub(crate) const MAX_DEPTH: usize = 128;

/// Why an element could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ElementError {
    /// The bytes end before the element does: read it again from captured
    /// bytes.
    Incomplete,
    /// Not valid JSON at byte `at` of the bytes given.
    Syntax { at: usize, expected: &'static str, found: String },
    /// Nested deeper than [`MAX_DEPTH`] at byte `at`.
    TooDeep { at: usize },
    /// Valid JSON, but not a resource change (a missing or mistyped field).
    Shape(String),
}

/// Reads elements, reusing its attribute index from one to the next.
#[derive(Debug, Default)]
pub(super) struct ElementReader {
    entries: Vec<Entry>,
}

/// Fields of the element that may appear once each.
const FIELDS: [&str; 10] = [
    "address",
    "module_address",
    "index",
    "mode",
    "type",
    "name",
    "deposed",
    "previous_address",
    "action_reason",
    "change",
];

/// The index in [`FIELDS`] of a key. A `match` on the bytes is one
/// dispatch on the length and inline comparisons; every key of every
/// element passes here.
fn element_field(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"address" => 0,
        b"module_address" => 1,
        b"index" => 2,
        b"mode" => 3,
        b"type" => 4,
        b"name" => 5,
        b"deposed" => 6,
        b"previous_address" => 7,
        b"action_reason" => 8,
        b"change" => 9,
        _ => return None,
    })
}

/// Fields of `change` that may appear once each.
const CHANGE_FIELDS: [&str; 8] = [
    "actions",
    "before",
    "after",
    "after_unknown",
    "before_sensitive",
    "after_sensitive",
    "replace_paths",
    "importing",
];

/// The index in [`CHANGE_FIELDS`] of a key (as [`element_field`]).
fn change_field(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"actions" => 0,
        b"before" => 1,
        b"after" => 2,
        b"after_unknown" => 3,
        b"before_sensitive" => 4,
        b"after_sensitive" => 5,
        b"replace_paths" => 6,
        b"importing" => 7,
        _ => return None,
    })
}

impl ElementReader {
    /// Reads the element at the start of `bytes` (after whitespace); returns
    /// it and the number of bytes it spans (the whitespace before it
    /// included). Bytes after the element are not looked at.
    pub(super) fn read<'a>(&'a mut self, bytes: &'a [u8]) -> Result<(ResourceChange<'a>, usize), ElementError> {
        self.entries.clear();
        let mut c = Cursor { b: bytes, i: 0 };
        let parsed = parse_element(&mut c, &mut self.entries)?;
        let entries: &'a [Entry] = &self.entries;
        let attrs = |r: Option<(usize, usize)>| match r {
            Some((from, to)) => Attrs::new(bytes, &entries[from..to]),
            None => Attrs::default(),
        };
        let mask = |m: MaskSpan| match m {
            MaskSpan::All(b) => Mask::All(b),
            MaskSpan::Attrs(from, to) => Mask::Attrs(Attrs::new(bytes, &entries[from..to])),
        };
        let p = parsed.change;
        let rc = ResourceChange {
            address: parsed.address.unwrap_or_default(),
            module_address: parsed.module_address,
            index: parsed.index,
            mode: parsed.mode,
            kind: parsed.kind,
            name: parsed.name,
            deposed: parsed.deposed,
            previous_address: parsed.previous_address,
            action_reason: parsed.action_reason,
            change: Change {
                actions: p.actions,
                before: attrs(p.before),
                after: attrs(p.after),
                after_unknown: mask(p.after_unknown),
                before_sensitive: mask(p.before_sensitive),
                after_sensitive: mask(p.after_sensitive),
                replace_paths: p.replace_paths,
                importing: p.importing,
            },
        };
        Ok((rc, c.i))
    }
}

/// The element as read, attribute sides as ranges of the index.
struct Parsed<'a> {
    address: Option<Cow<'a, str>>,
    module_address: Option<Cow<'a, str>>,
    index: Option<Raw<'a>>,
    mode: Cow<'a, str>,
    kind: Cow<'a, str>,
    name: Option<Cow<'a, str>>,
    deposed: Option<Cow<'a, str>>,
    previous_address: Option<Cow<'a, str>>,
    action_reason: Option<Cow<'a, str>>,
    change: ParsedChange<'a>,
}

struct ParsedChange<'a> {
    actions: Actions,
    before: Option<(usize, usize)>,
    after: Option<(usize, usize)>,
    after_unknown: MaskSpan,
    before_sensitive: MaskSpan,
    after_sensitive: MaskSpan,
    replace_paths: Option<Raw<'a>>,
    importing: Option<Raw<'a>>,
}

#[derive(Clone, Copy)]
enum MaskSpan {
    All(bool),
    Attrs(usize, usize),
}

/// A string token: its body (between the quotes) and whether it has escapes.
#[derive(Clone, Copy)]
struct Str {
    from: usize,
    to: usize,
    escaped: bool,
}

/// A position in the bytes of one element.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn syntax(&self, at: usize, expected: &'static str) -> ElementError {
        let found = match self.b.get(at) {
            Some(&b) => super::scan::printable(b),
            None => return ElementError::Incomplete,
        };
        ElementError::Syntax { at, expected, found }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Result<u8, ElementError> {
        self.i = skip_whitespace(self.b, self.i);
        self.b.get(self.i).copied().ok_or(ElementError::Incomplete)
    }

    /// Consumes `want` after whitespace, or fails.
    #[inline]
    fn expect(&mut self, want: u8, expected: &'static str) -> Result<(), ElementError> {
        if self.peek()? != want {
            return Err(self.syntax(self.i, expected));
        }
        self.i += 1;
        Ok(())
    }

    /// A string whose opening quote is next (after whitespace).
    #[inline]
    fn string(&mut self, expected: &'static str) -> Result<Str, ElementError> {
        if self.peek()? != b'"' {
            return Err(self.syntax(self.i, expected));
        }
        let from = self.i + 1;
        match string_token(self.b, from) {
            Ok(Some((close, escaped))) => {
                self.i = close + 1;
                Ok(Str { from, to: close, escaped })
            }
            Ok(None) => Err(ElementError::Incomplete),
            Err(bad) => Err(self.syntax(bad, "a character (control characters must be escaped) or a valid escape")),
        }
    }

    /// The text of a string token, borrowed unless it has escapes.
    fn text(&self, s: Str) -> Result<Cow<'a, str>, ElementError> {
        let b: &'a [u8] = self.b;
        if !s.escaped {
            return std::str::from_utf8(&b[s.from..s.to]).map(Cow::Borrowed).map_err(|_| ElementError::Syntax {
                at: s.from,
                expected: "UTF-8",
                found: "other bytes".into(),
            });
        }
        if let Some(text) = unescape(&b[s.from..s.to]) {
            return Ok(Cow::Owned(text));
        }
        serde_json::from_slice::<String>(&b[s.from - 1..=s.to])
            .map(Cow::Owned)
            .map_err(|e| ElementError::Shape(format!("a string at byte {}: {e}", s.from - 1)))
    }

    /// `,` then true, or the closing `close` then false.
    #[inline]
    fn more(&mut self, close: u8, expected: &'static str) -> Result<bool, ElementError> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Ok(true)
            }
            c if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(self.syntax(self.i, expected)),
        }
    }

    /// Consumes `{`; true when a key follows, false for `{}` (consumed).
    fn open_object(&mut self) -> Result<bool, ElementError> {
        self.expect(b'{', "'{'")?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// One key and its `:`.
    #[inline]
    fn key(&mut self) -> Result<Str, ElementError> {
        let k = self.string("a key in double quotes")?;
        self.expect(b':', "':'")?;
        Ok(k)
    }

    /// Which of the known fields the key names (decoded if it has escapes).
    fn field(&self, k: Str, known: fn(&[u8]) -> Option<usize>) -> Option<usize> {
        if k.escaped { self.text(k).ok().and_then(|t| known(t.as_bytes())) } else { known(&self.b[k.from..k.to]) }
    }

    /// Skips one value, validating its syntax; returns its span. `depth` is
    /// the nesting of the container holding it.
    fn value(&mut self, depth: usize) -> Result<(usize, usize), ElementError> {
        self.peek()?;
        let from = self.i;
        skip_value(self, depth)?;
        Ok((from, self.i))
    }

    /// A string value, or `null` (`None`).
    fn opt_string(&mut self, field: &str) -> Result<Option<Cow<'a, str>>, ElementError> {
        match self.peek()? {
            b'"' => {
                let s = self.string("a string")?;
                Ok(Some(self.text(s)?))
            }
            b'n' => {
                self.value(0)?;
                Ok(None)
            }
            _ => Err(self.wrong_type(field, "a string")),
        }
    }

    /// A string value.
    fn req_string(&mut self, field: &str) -> Result<Cow<'a, str>, ElementError> {
        if self.peek()? != b'"' {
            return Err(self.wrong_type(field, "a string"));
        }
        let s = self.string("a string")?;
        self.text(s)
    }

    /// Any value, `null` being `None`.
    fn opt_raw(&mut self, depth: usize) -> Result<Option<Raw<'a>>, ElementError> {
        let b: &'a [u8] = self.b;
        let (from, to) = self.value(depth)?;
        let raw = &b[from..to];
        Ok((raw != b"null").then_some(Raw(raw)))
    }

    /// The value here has the wrong type for `field`. Its syntax is checked
    /// first, so a syntax error is reported as one.
    fn wrong_type(&mut self, field: &str, expected: &str) -> ElementError {
        let at = self.i;
        let found = match self.b.get(at) {
            Some(b'"') => "a string",
            Some(b'{') => "an object",
            Some(b'[') => "an array",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            Some(b'-' | b'0'..=b'9') => "a number",
            _ => return self.syntax(at, "a value"),
        };
        if let Err(e) = skip_value(self, 0) {
            return e;
        }
        ElementError::Shape(format!("`{field}`: invalid type: {found}, expected {expected}"))
    }
}

/// Records `field` as seen; a second occurrence is an error (two readers
/// could otherwise read different elements from the same bytes).
fn seen(mask: &mut u16, index: usize, name: &str) -> Result<(), ElementError> {
    let bit = 1 << index;
    if *mask & bit != 0 {
        return Err(ElementError::Shape(format!("duplicate field `{name}`")));
    }
    *mask |= bit;
    Ok(())
}

fn parse_element<'a>(c: &mut Cursor<'a>, entries: &mut Vec<Entry>) -> Result<Parsed<'a>, ElementError> {
    if c.peek()? != b'{' {
        return Err(c.wrong_type("resource change", "an object"));
    }
    let mut fields = 0u16;
    let mut address = None;
    let mut module_address = None;
    let mut index = None;
    let mut mode = None;
    let mut kind = None;
    let mut name = None;
    let mut deposed = None;
    let mut previous_address = None;
    let mut action_reason = None;
    let mut change = None;
    let mut more = c.open_object()?;
    while more {
        let k = c.key()?;
        match c.field(k, element_field) {
            Some(i) => {
                seen(&mut fields, i, FIELDS[i])?;
                match i {
                    0 => address = Some(c.req_string("address")?),
                    1 => module_address = c.opt_string("module_address")?,
                    2 => index = c.opt_raw(1)?,
                    3 => mode = Some(c.req_string("mode")?),
                    4 => kind = Some(c.req_string("type")?),
                    5 => name = c.opt_string("name")?,
                    6 => deposed = c.opt_string("deposed")?,
                    7 => previous_address = c.opt_string("previous_address")?,
                    8 => action_reason = c.opt_string("action_reason")?,
                    _ => change = Some(parse_change(c, entries)?),
                }
            }
            None => {
                c.value(1)?;
            }
        }
        more = c.more(b'}', "',' or '}'")?;
    }
    let missing = |f: &str| ElementError::Shape(format!("missing field `{f}`"));
    Ok(Parsed {
        address,
        module_address,
        index,
        mode: mode.ok_or_else(|| missing("mode"))?,
        kind: kind.ok_or_else(|| missing("type"))?,
        name,
        deposed,
        previous_address,
        action_reason,
        change: change.ok_or_else(|| missing("change"))?,
    })
}

fn parse_change<'a>(c: &mut Cursor<'a>, entries: &mut Vec<Entry>) -> Result<ParsedChange<'a>, ElementError> {
    if c.peek()? != b'{' {
        return Err(c.wrong_type("change", "an object"));
    }
    let mut fields = 0u16;
    let mut actions = None;
    let mut change = ParsedChange {
        actions: Actions(Vec::new()),
        before: None,
        after: None,
        after_unknown: MaskSpan::All(false),
        before_sensitive: MaskSpan::All(false),
        after_sensitive: MaskSpan::All(false),
        replace_paths: None,
        importing: None,
    };
    let mut more = c.open_object()?;
    while more {
        let k = c.key()?;
        match c.field(k, change_field) {
            Some(i) => {
                seen(&mut fields, i, CHANGE_FIELDS[i])?;
                match i {
                    0 => actions = Some(parse_actions(c)?),
                    1 => change.before = parse_attrs(c, entries, "before")?,
                    2 => change.after = parse_attrs(c, entries, "after")?,
                    3 => change.after_unknown = parse_mask(c, entries, "after_unknown")?,
                    4 => change.before_sensitive = parse_mask(c, entries, "before_sensitive")?,
                    5 => change.after_sensitive = parse_mask(c, entries, "after_sensitive")?,
                    6 => change.replace_paths = parse_replace_paths(c)?,
                    _ => change.importing = c.opt_raw(2)?,
                }
            }
            None => {
                c.value(2)?;
            }
        }
        more = c.more(b'}', "',' or '}'")?;
    }
    change.actions = actions.ok_or_else(|| ElementError::Shape("`change`: missing field `actions`".into()))?;
    Ok(change)
}

fn parse_actions(c: &mut Cursor<'_>) -> Result<Actions, ElementError> {
    if c.peek()? != b'[' {
        return Err(c.wrong_type("actions", "a list of strings"));
    }
    c.i += 1;
    let mut list = Vec::with_capacity(2);
    if c.peek()? == b']' {
        c.i += 1;
    } else {
        loop {
            if c.peek()? != b'"' {
                return Err(c.wrong_type("actions", "a list of strings"));
            }
            let s = c.string("a string")?;
            let text = c.text(s)?;
            list.push(Action::named(text));
            if !c.more(b']', "',' or ']'")? {
                break;
            }
        }
    }
    if list.is_empty() {
        return Err(ElementError::Shape("`actions` is empty".into()));
    }
    Ok(Actions(list))
}

/// An object side (`before`, `after`): `null`, or an object whose
/// attributes are indexed. Returns their range in `entries`.
fn parse_attrs(
    c: &mut Cursor<'_>,
    entries: &mut Vec<Entry>,
    field: &str,
) -> Result<Option<(usize, usize)>, ElementError> {
    match c.peek()? {
        b'n' => {
            c.value(2)?;
            Ok(None)
        }
        b'{' => index_object(c, entries).map(Some),
        _ => Err(c.wrong_type(field, "an object of attributes or null")),
    }
}

/// A mask (`after_unknown`, `*_sensitive`): `true`, `false`, `null` or an
/// object mirroring the attributes.
fn parse_mask(c: &mut Cursor<'_>, entries: &mut Vec<Entry>, field: &str) -> Result<MaskSpan, ElementError> {
    match c.peek()? {
        b'{' => {
            let (from, to) = index_object(c, entries)?;
            Ok(MaskSpan::Attrs(from, to))
        }
        b't' | b'f' | b'n' => {
            let (from, to) = c.value(2)?;
            Ok(MaskSpan::All(&c.b[from..to] == b"true"))
        }
        _ => Err(c.wrong_type(field, "true, false, null or an object mirroring the attributes")),
    }
}

/// `null`, or a list of attribute paths (each a list).
fn parse_replace_paths<'a>(c: &mut Cursor<'a>) -> Result<Option<Raw<'a>>, ElementError> {
    let expected = "a list of attribute paths (lists)";
    match c.peek()? {
        b'n' => {
            c.value(2)?;
            Ok(None)
        }
        b'[' => {
            let from = c.i;
            c.i += 1;
            if c.peek()? == b']' {
                c.i += 1;
            } else {
                loop {
                    if c.peek()? != b'[' {
                        return Err(c.wrong_type("replace_paths", expected));
                    }
                    c.value(3)?;
                    if !c.more(b']', "',' or ']'")? {
                        break;
                    }
                }
            }
            let b: &'a [u8] = c.b;
            Ok(Some(Raw(&b[from..c.i])))
        }
        _ => Err(c.wrong_type("replace_paths", expected)),
    }
}

/// Indexes the attributes of the object that starts here (depth 3 in the
/// element): each key and the span of its value, values validated, not
/// parsed. Returns the range of the new entries.
fn index_object(c: &mut Cursor<'_>, entries: &mut Vec<Entry>) -> Result<(usize, usize), ElementError> {
    let first = entries.len();
    let mut more = c.open_object()?;
    while more {
        let k = c.key()?;
        let (from, to) = c.value(3)?;
        entries.push(Entry { key_from: k.from, key_to: k.to, escaped: k.escaped, from, to });
        more = c.more(b'}', "',' or '}'")?;
    }
    Ok((first, entries.len()))
}

/// Skips one value at the cursor (whitespace before it skipped), checking
/// its syntax. `depth` is the nesting of the container holding it; values
/// nested deeper than [`MAX_DEPTH`] in all are refused.
///
/// Iterative: the open containers are bits of a `u128` (1 for an object),
/// which [`MAX_DEPTH`] fits.
fn skip_value(c: &mut Cursor<'_>, depth: usize) -> Result<(), ElementError> {
    const _: () = assert!(MAX_DEPTH <= 128);
    let limit = MAX_DEPTH.saturating_sub(depth);
    let b = c.b;
    let mut i = c.i;
    // Open containers, innermost in bit 0.
    let mut objects: u128 = 0;
    let mut open = 0usize;
    let fail = |c: &mut Cursor<'_>, at: usize, expected: &'static str| {
        c.i = at;
        Err(c.syntax(at, expected))
    };
    'value: loop {
        // A value starts here (after whitespace).
        i = skip_whitespace(b, i);
        let Some(&t) = b.get(i) else {
            return Err(ElementError::Incomplete);
        };
        match t {
            b'"' => match string_end(b, i + 1) {
                Ok(Some(close)) => i = close + 1,
                Ok(None) => return Err(ElementError::Incomplete),
                Err(bad) => return fail(c, bad, "a character (control characters must be escaped) or a valid escape"),
            },
            b'{' | b'[' => {
                if open >= limit {
                    c.i = i;
                    return Err(ElementError::TooDeep { at: i });
                }
                open += 1;
                objects = (objects << 1) | u128::from(t == b'{');
                i += 1;
                // The first member, or the empty container's end.
                i = skip_whitespace(b, i);
                let Some(&next) = b.get(i) else {
                    return Err(ElementError::Incomplete);
                };
                if next == if t == b'{' { b'}' } else { b']' } {
                    i += 1;
                    open -= 1;
                    objects >>= 1;
                } else {
                    if t == b'{' {
                        i = object_key(c, b, i)?;
                    }
                    continue 'value;
                }
            }
            b'-' | b'0'..=b'9' => i += skip_number(c, i)?,
            b't' | b'f' | b'n' => i += skip_literal(c, i)?,
            _ => return fail(c, i, "a value"),
        }
        // A value ended: `,` or the end of its container, maybe several.
        loop {
            if open == 0 {
                c.i = i;
                return Ok(());
            }
            i = skip_whitespace(b, i);
            let Some(&t) = b.get(i) else {
                return Err(ElementError::Incomplete);
            };
            let in_object = objects & 1 == 1;
            match t {
                b',' => {
                    i += 1;
                    if in_object {
                        i = object_key(c, b, i)?;
                    }
                    continue 'value;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ => return fail(c, i, if in_object { "',' or '}'" } else { "',' or ']'" }),
            }
            i += 1;
            open -= 1;
            objects >>= 1;
        }
    }
}

/// The length of the number at `i` (its first byte is `-` or a digit).
#[inline]
fn skip_number(c: &mut Cursor<'_>, i: usize) -> Result<usize, ElementError> {
    let rest = &c.b[i..];
    match number_at(rest) {
        Scalar::Len(len) => Ok(len),
        Scalar::More => Err(ElementError::Incomplete),
        Scalar::Bad(len) => {
            c.i = i;
            Err(ElementError::Syntax {
                at: i,
                expected: "a number",
                found: format!("{:?}", String::from_utf8_lossy(&rest[..len])),
            })
        }
    }
}

/// The length of the literal at `i` (its first byte is `t`, `f` or `n`).
/// Bytes that could still begin it at the end of the element are
/// incomplete, not wrong.
#[inline]
fn skip_literal(c: &mut Cursor<'_>, i: usize) -> Result<usize, ElementError> {
    let want: &[u8] = match c.b[i] {
        b't' => b"true",
        b'f' => b"false",
        _ => b"null",
    };
    let have = &c.b[i..(i + want.len()).min(c.b.len())];
    if have == want {
        return Ok(want.len());
    }
    if want.starts_with(have) {
        return Err(ElementError::Incomplete);
    }
    c.i = i;
    Err(ElementError::Syntax {
        at: i,
        expected: "true, false or null",
        found: format!("{:?}", String::from_utf8_lossy(have)),
    })
}

/// Reads `"key"` and `:` inside an object being skipped; returns the
/// position after the colon.
#[inline]
fn object_key(c: &mut Cursor<'_>, b: &[u8], i: usize) -> Result<usize, ElementError> {
    c.i = i;
    c.string("a key in double quotes")?;
    let i = skip_whitespace(b, c.i);
    match b.get(i) {
        Some(b':') => Ok(i + 1),
        Some(_) => {
            c.i = i;
            Err(c.syntax(i, "':'"))
        }
        None => Err(ElementError::Incomplete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<usize, ElementError> {
        let mut r = ElementReader::default();
        r.read(json.as_bytes()).map(|(_, n)| n)
    }

    fn shape(json: &str) -> String {
        match read(json) {
            Err(ElementError::Shape(m)) => m,
            other => panic!("{json}: {other:?}"),
        }
    }

    const MIN: &str = r#"{"address":"a.b","mode":"managed","type":"a","change":{"actions":["create"]}}"#;

    #[test]
    fn field_names_and_their_indexes_agree() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(element_field(f.as_bytes()), Some(i), "{f}");
            assert_eq!(change_field(f.as_bytes()), None, "{f}");
        }
        for (i, f) in CHANGE_FIELDS.iter().enumerate() {
            assert_eq!(change_field(f.as_bytes()), Some(i), "{f}");
            assert_eq!(element_field(f.as_bytes()), None, "{f}");
        }
        for other in ["", "Address", "addres", "addresss", "changes", "provider_name"] {
            assert_eq!(element_field(other.as_bytes()), None, "{other}");
            assert_eq!(change_field(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn reads_fields_and_indexes_attributes() {
        let doc = r#" {"address":"module.m.aws_s3_bucket.b[\"k\"]","module_address":"module.m","mode":"managed",
            "type":"aws_s3_bucket","name":"b","index":"k","provider_name":"registry.terraform.io/hashicorp/aws",
            "change":{"actions":["delete","create"],"before":{"bucket":"x","tags":{"a":[1,2.5e3,null]},"p\u0061":true},
            "after":null,"after_unknown":{"arn":true},"before_sensitive":false,"after_sensitive":true,
            "replace_paths":[["bucket"]],"importing":null,"generated_config":""},"action_reason":"replace_because_cannot_update"} tail"#;
        let mut r = ElementReader::default();
        let (rc, n) = r.read(doc.as_bytes()).unwrap();
        assert_eq!(&doc[n..], " tail");
        assert_eq!(rc.address, "module.m.aws_s3_bucket.b[\"k\"]");
        assert!(matches!(rc.address, Cow::Owned(_)), "escapes are decoded");
        assert!(matches!(rc.kind, Cow::Borrowed(_)));
        assert_eq!(rc.module_address.as_deref(), Some("module.m"));
        assert_eq!(rc.index.map(|r| r.0), Some(&b"\"k\""[..]));
        assert_eq!(rc.action_reason.as_deref(), Some("replace_because_cannot_update"));
        assert_eq!(rc.change.actions.0, [Action::Delete, Action::Create]);
        let before = &rc.change.before;
        assert_eq!(before.raw("tags").map(|r| r.0), Some(&br#"{"a":[1,2.5e3,null]}"#[..]));
        assert_eq!(before.raw("pa").map(|r| r.0), Some(&b"true"[..]), "escaped keys are matched decoded");
        assert_eq!(before.names().collect::<Vec<_>>(), ["bucket", "tags", "pa"]);
        assert!(rc.change.after.raw("bucket").is_none());
        assert!(matches!(rc.change.after_sensitive, Mask::All(true)));
        assert!(matches!(rc.change.before_sensitive, Mask::All(false)));
        assert_eq!(rc.change.replace_paths.map(|r| r.0), Some(&br#"[["bucket"]]"#[..]));
        assert!(rc.change.importing.is_none());
    }

    #[test]
    fn the_index_is_reused() {
        let mut r = ElementReader::default();
        let doc = r#"{"address":"a.b","mode":"managed","type":"a","change":{"actions":["update"],"before":{"x":1},"after":{"x":2}}}"#;
        for _ in 0..3 {
            let (rc, _) = r.read(doc.as_bytes()).unwrap();
            assert_eq!(rc.change.after.raw("x").map(|r| r.0), Some(&b"2"[..]));
            assert_eq!(rc.change.before.names().count(), 1);
        }
    }

    #[test]
    fn every_cut_is_incomplete() {
        let doc = r#"{"address":"a.b","mode":"managed","type":"a","change":{"actions":["update"],"before":{"x":[1,true,{"y":-0.5}]},"after":{"x":null}}}"#;
        assert_eq!(read(doc), Ok(doc.len()));
        for cut in 0..doc.len() {
            assert_eq!(read(&doc[..cut]), Err(ElementError::Incomplete), "cut at {cut}");
        }
    }

    #[test]
    fn missing_duplicate_and_mistyped_fields_are_shape_errors() {
        assert_eq!(read(MIN), Ok(MIN.len()));
        assert_eq!(shape(r#"{"address":"a.b","mode":"managed","type":"a"}"#), "missing field `change`");
        assert_eq!(shape(r#"{"address":"a.b","type":"a","change":{"actions":["create"]}}"#), "missing field `mode`");
        assert_eq!(shape(r#"{"mode":"managed","change":{"actions":["create"]}}"#), "missing field `type`");
        assert_eq!(shape(r#"{"mode":"managed","type":"a","change":{}}"#), "`change`: missing field `actions`");
        assert_eq!(shape(r#"{"mode":"managed","type":"a","change":{"actions":[]}}"#), "`actions` is empty");
        assert!(
            shape(r#"{"mode":"managed","mode":"data","type":"a","change":{"actions":["read"]}}"#)
                .contains("duplicate field `mode`")
        );
        assert!(
            shape(r#"{"mode":"managed","type":"a","change":{"actions":["read"],"actions":["read"]}}"#)
                .contains("duplicate field `actions`")
        );
        // A field name spelled with escapes is the same field.
        assert!(
            shape(r#"{"mode":"managed","m\u006fde":"data","type":"a","change":{"actions":["read"]}}"#)
                .contains("duplicate field `mode`")
        );
        assert!(
            shape(r#"{"mode":"managed","type":"a","change":{"actions":["read"],"\u0061ctions":["read"]}}"#)
                .contains("duplicate field `actions`")
        );
        assert_eq!(
            shape(r#"{"mode":1,"type":"a","change":{"actions":["read"]}}"#),
            "`mode`: invalid type: a number, expected a string"
        );
        assert!(shape(r#"{"mode":"managed","type":"a","change":{"actions":"create"}}"#).contains("`actions`"));
        assert!(shape(r#"{"mode":"managed","type":"a","change":{"actions":[1]}}"#).contains("`actions`"));
        assert!(
            shape(r#"{"mode":"managed","type":"a","change":{"actions":["update"],"before":"x"}}"#).contains("`before`")
        );
        assert!(
            shape(r#"{"mode":"managed","type":"a","change":{"actions":["update"],"after_unknown":[]}}"#)
                .contains("`after_unknown`")
        );
        assert!(
            shape(r#"{"mode":"managed","type":"a","change":{"actions":["update"],"replace_paths":["x"]}}"#)
                .contains("`replace_paths`")
        );
        assert!(shape(r#"[1]"#).contains("expected an object"));
        assert!(
            shape(r#"{"address":null,"mode":"managed","type":"a","change":{"actions":["create"]}}"#)
                .contains("`address`")
        );
    }

    #[test]
    fn syntax_errors_name_their_byte() {
        let cases = [
            (r#"{"mode":"managed","type":"a","change":{"actions":["read"]},"x":01}"#, "a number"),
            (r#"{"mode":"managed","type":"a","change":{"actions":["read"],"before":{"a":[1 2]}}}"#, "',' or ']'"),
            (r#"{"mode":"managed","type":"a","change":{"actions":["read"],"before":{"a":[1,]}}}"#, "a value"),
            (r#"{"mode":"managed","type":"a","change":{"actions":["read"],"before":{"a":{"b"}}}}"#, "':'"),
            (
                r#"{"mode":"managed","type":"a","change":{"actions":["read"],"before":{"a":tru}}}"#,
                "true, false or null",
            ),
            (r#"{"mode":"managed","type":"a","change":{"actions":["read"],"before":{"a":"\x"}}}"#, "valid escape"),
            (r#"{"mode":"managed","type":"a","change":{"actions":["read"],"before":{"a":[}}}}"#, "a value"),
            (r#"{"mode":"managed","type":"a","change":{"actions":["read"],"before":{"a":{]}}}}"#, "a key"),
            (r#"{"mode":"managed","type":"a","change":{"actions":["read"]} "x":1}"#, "',' or '}'"),
            (r#"{"mode":"managed","type":"a","change":{"actions":["read"],"x":{"a":1,}}}"#, "a key"),
            (r#"{mode:"managed"}"#, "a key"),
            // A mistyped value is checked for syntax first.
            (r#"{"mode":"managed","type":1.,"change":{"actions":["read"]}}"#, "a number"),
        ];
        for (doc, expected) in cases {
            match read(doc) {
                Err(ElementError::Syntax { at, expected: e, .. }) => {
                    assert!(e.contains(expected), "{doc}: expected {expected:?}, got {e:?} at {at}");
                    assert!(at < doc.len());
                }
                other => panic!("{doc}: {other:?}"),
            }
        }
        let tab =
            "{\"mode\":\"managed\",\"type\":\"a\",\"change\":{\"actions\":[\"read\"],\"before\":{\"a\":\"t\tb\"}}}";
        let at = tab.find('\t').unwrap();
        assert!(matches!(read(tab), Err(ElementError::Syntax { at: a, .. }) if a == at), "{:?}", read(tab));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| {
            format!(
                r#"{{"mode":"managed","type":"a","change":{{"actions":["read"],"before":{{"a":{}{}}}}}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        assert!(read(&deep(MAX_DEPTH - 4)).is_ok());
        assert!(matches!(read(&deep(MAX_DEPTH)), Err(ElementError::TooDeep { .. })));
    }

    #[test]
    fn unknown_actions_are_kept() {
        let mut r = ElementReader::default();
        let doc = r#"{"mode":"managed","type":"a","change":{"actions":["frobnicate","del\u0065te"]}}"#;
        let (rc, _) = r.read(doc.as_bytes()).unwrap();
        assert_eq!(rc.change.actions.0, [Action::Other("frobnicate".into()), Action::Delete]);
    }
}
