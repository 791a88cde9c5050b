//! The parts of one `resource_changes` element the rules read.
//!
//! Everything borrows from the element's bytes ([`super::element`] reads
//! them). Attributes stay unparsed ([`Raw`]) until a rule asks for one: most
//! resources are judged on their type and actions alone, and parsing every
//! `before`/`after` into a tree would dominate the cost of a large plan.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::policy_doc::{STATEMENT_ATTRS, Statement};
use super::scan::unescape;

/// The raw JSON of one value, syntax already checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Raw<'a>(pub &'a [u8]);

impl<'a> Raw<'a> {
    /// The JSON text.
    pub(crate) fn bytes(self) -> &'a [u8] {
        self.0
    }

    /// The parsed value; `None` when it is not JSON serde reads (never
    /// for bytes the element reader accepted, short of a lone surrogate).
    pub(crate) fn parse(self) -> Option<Value> {
        serde_json::from_slice(self.0).ok()
    }
}

/// One element of `resource_changes` (or `resource_drift`), borrowed from
/// its bytes.
#[derive(Debug)]
pub(crate) struct ResourceChange<'a> {
    /// Absolute address, e.g. `module.db.aws_db_instance.main[0]`; empty
    /// when absent. Some `resource_drift` entries carry none: see
    /// [`ResourceChange::full_address`].
    pub(crate) address: Cow<'a, str>,
    /// The module's address (`module.db`), absent at the root.
    pub(crate) module_address: Option<Cow<'a, str>>,
    /// The instance key of a `count` or `for_each` resource (raw JSON).
    pub(crate) index: Option<Raw<'a>>,
    /// `managed`, `data` (or OpenTofu's `ephemeral`).
    pub(crate) mode: Cow<'a, str>,
    /// Resource type, e.g. `aws_iam_role`.
    pub(crate) kind: Cow<'a, str>,
    /// Resource name (without index).
    pub(crate) name: Option<Cow<'a, str>>,
    /// Set when the change is to a deposed object.
    pub(crate) deposed: Option<Cow<'a, str>>,
    /// Set when the resource was moved (`moved` block).
    pub(crate) previous_address: Option<Cow<'a, str>>,
    /// Why Terraform chose this action (replace, delete).
    pub(crate) action_reason: Option<Cow<'a, str>>,
    /// The change itself.
    pub(crate) change: Change<'a>,
}

impl ResourceChange<'_> {
    /// The address, or when an entry carries none (some `resource_drift`
    /// entries of Terraform Cloud), the address its parts spell:
    /// `module.m.data.type.name["key"]`. `None` when neither is there.
    pub(crate) fn full_address(&self) -> Option<String> {
        if !self.address.is_empty() {
            return Some(self.address.clone().into_owned());
        }
        let name = self.name.as_deref().filter(|n| !n.is_empty())?;
        let mut a = String::new();
        if let Some(m) = self.module_address.as_deref().filter(|m| !m.is_empty()) {
            a.push_str(m);
            a.push('.');
        }
        if self.mode == "data" {
            a.push_str("data.");
        }
        a.push_str(&self.kind);
        a.push('.');
        a.push_str(name);
        match self.index.and_then(Raw::parse) {
            Some(Value::Number(n)) => a.push_str(&format!("[{n}]")),
            Some(Value::String(k)) => a.push_str(&format!("[{}]", Value::String(k))),
            _ => {}
        }
        Some(a)
    }
}

/// The `change` object of a resource change. The object sides are indexed
/// by attribute name as they are read, values left raw.
#[derive(Debug)]
pub(crate) struct Change<'a> {
    /// Planned actions.
    pub(crate) actions: Actions,
    /// The object before the change (empty on create).
    pub(crate) before: Attrs<'a>,
    /// The object after the change (empty on delete); unknown values absent.
    pub(crate) after: Attrs<'a>,
    /// Mirrors `after` with `true` where a value is known only after apply.
    pub(crate) after_unknown: Mask<'a>,
    /// Mirrors `before` with `true` where a value is sensitive.
    pub(crate) before_sensitive: Mask<'a>,
    /// Mirrors `after` with `true` where a value is sensitive.
    pub(crate) after_sensitive: Mask<'a>,
    /// Attribute paths that force a replacement: a list of lists (checked),
    /// parsed when a rule reads it.
    pub(crate) replace_paths: Option<Raw<'a>>,
    /// Set when the resource is being imported.
    pub(crate) importing: Option<Raw<'a>>,
}

impl Change<'_> {
    /// The attribute paths that force a replacement.
    pub(crate) fn replace_paths(&self) -> Vec<Vec<Value>> {
        self.replace_paths.and_then(|r| serde_json::from_slice(r.0).ok()).unwrap_or_default()
    }
}

/// One planned action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// `no-op`
    NoOp,
    /// `create`
    Create,
    /// `read`
    Read,
    /// `update`
    Update,
    /// `delete`
    Delete,
    /// `forget` (a `removed` block: the object stays, Terraform lets go)
    Forget,
    /// An action this version does not know; it counts as a change.
    Other(String),
}

impl Action {
    /// The action as Terraform writes it.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Forget => "forget",
            Action::Other(s) => s,
        }
    }
}

impl Action {
    /// The action a plan names (`no-op`, `create`, ...; any other name kept).
    pub(crate) fn named(s: Cow<'_, str>) -> Action {
        match s.as_ref() {
            "no-op" => Action::NoOp,
            "create" => Action::Create,
            "read" => Action::Read,
            "update" => Action::Update,
            "delete" => Action::Delete,
            "forget" => Action::Forget,
            _ => Action::Other(s.into_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Action::named(<Cow<'de, str>>::deserialize(d)?))
    }
}

/// The action list of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actions(pub Vec<Action>);

impl<'de> Deserialize<'de> for Actions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Action>::deserialize(d)?;
        if list.is_empty() {
            return Err(de::Error::custom("`actions` is empty"));
        }
        Ok(Actions(list))
    }
}

/// Where a change is counted in the plan summary: a replace counts once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    Create,
    Update,
    Delete,
    Replace,
    NoOp,
    Read,
    Forget,
}

impl Actions {
    fn has(&self, a: &Action) -> bool {
        self.0.contains(a)
    }

    /// True when applying the plan does something to the object: any action
    /// except `no-op`, `read` and `forget` (unknown actions count).
    pub(crate) fn changes(&self) -> bool {
        self.0.iter().any(|a| !matches!(a, Action::NoOp | Action::Read | Action::Forget))
    }

    /// Any list containing `delete` destroys an object (replace included).
    pub(crate) fn deletes(&self) -> bool {
        self.has(&Action::Delete)
    }

    /// A new object is created (create, replace, create-and-forget).
    pub(crate) fn creates(&self) -> bool {
        self.has(&Action::Create)
    }

    /// Delete and create, in either order.
    pub(crate) fn is_replace(&self) -> bool {
        self.deletes() && self.creates()
    }

    /// Only a create: there was no object before.
    pub(crate) fn is_create_only(&self) -> bool {
        self.creates() && !self.deletes()
    }

    /// Only a delete.
    pub(crate) fn is_delete_only(&self) -> bool {
        self.deletes() && !self.creates()
    }

    /// The summary bucket.
    pub(crate) fn bucket(&self) -> Bucket {
        if self.is_replace() {
            Bucket::Replace
        } else if self.deletes() {
            Bucket::Delete
        } else if self.creates() {
            Bucket::Create
        } else if self.has(&Action::Update) || self.0.iter().any(|a| matches!(a, Action::Other(_))) {
            Bucket::Update
        } else if self.has(&Action::Forget) {
            Bucket::Forget
        } else if self.has(&Action::Read) {
            Bucket::Read
        } else {
            Bucket::NoOp
        }
    }

    /// The actions as strings.
    pub(crate) fn names(&self) -> Vec<String> {
        self.0.iter().map(|a| a.as_str().to_owned()).collect()
    }

    /// A short verb for messages.
    pub(crate) fn verb(&self) -> &'static str {
        match self.bucket() {
            Bucket::Create => "created",
            Bucket::Update => "updated",
            Bucket::Delete => "deleted",
            Bucket::Replace => "replaced",
            Bucket::NoOp => "unchanged",
            Bucket::Read => "read",
            Bucket::Forget => "forgotten",
        }
    }
}

/// One attribute of an object side: byte ranges, in the element, of its
/// key (between the quotes) and of its raw value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) key_from: usize,
    pub(crate) key_to: usize,
    /// The key has escapes (compared decoded).
    pub(crate) escaped: bool,
    pub(crate) from: usize,
    pub(crate) to: usize,
}

/// The top-level attributes of an object, values left unparsed: an index
/// into the element's bytes, in document order.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Attrs<'a> {
    bytes: &'a [u8],
    entries: &'a [Entry],
    keys: KeyFilter,
}

/// Which keys an object may have: two bits of 64 per key, chosen by the
/// key's length and a few of its bytes. A name whose bits are not all set
/// is certainly absent, so the rules' many lookups of attributes a resource
/// does not have cost one test instead of a scan. A key with escapes sets
/// every bit (its name is compared decoded).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct KeyFilter(u64);

impl KeyFilter {
    /// The two bits of a name.
    #[inline]
    fn bits(name: &[u8]) -> u64 {
        let (first, last) = match name {
            [] => (0, 0),
            [f, .., l] => (*f, *l),
            [only] => (*only, *only),
        };
        let middle = name.get(name.len() / 2).copied().unwrap_or(0);
        let h = (name.len() as u64 | u64::from(first) << 8 | u64::from(middle) << 16 | u64::from(last) << 24)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (1 << (h >> 58)) | (1 << ((h >> 52) & 63))
    }

    /// The filter of the keys of `entries`.
    fn of(bytes: &[u8], entries: &[Entry]) -> Self {
        KeyFilter(
            entries.iter().fold(
                0,
                |all, e| {
                    if e.escaped { u64::MAX } else { all | Self::bits(&bytes[e.key_from..e.key_to]) }
                },
            ),
        )
    }

    /// False when no key can be `name`.
    #[inline]
    fn may_have(self, name: &[u8]) -> bool {
        let bits = Self::bits(name);
        self.0 & bits == bits
    }
}

impl<'a> Attrs<'a> {
    /// The attributes of `entries`, ranges into `bytes`.
    pub(crate) fn new(bytes: &'a [u8], entries: &'a [Entry]) -> Self {
        Attrs { bytes, entries, keys: KeyFilter::of(bytes, entries) }
    }

    /// The name of an entry, decoded if it has escapes.
    fn name_of(&self, e: &Entry) -> Cow<'a, str> {
        let bytes: &'a [u8] = self.bytes;
        if e.escaped {
            let text = unescape(&bytes[e.key_from..e.key_to])
                .or_else(|| serde_json::from_slice::<String>(&bytes[e.key_from - 1..=e.key_to]).ok())
                .unwrap_or_default();
            Cow::Owned(text)
        } else {
            String::from_utf8_lossy(&bytes[e.key_from..e.key_to])
        }
    }

    /// The raw value of an attribute (the first, should a key repeat).
    pub(crate) fn raw(&self, name: &str) -> Option<Raw<'a>> {
        let bytes: &'a [u8] = self.bytes;
        let want = name.as_bytes();
        if !self.keys.may_have(want) {
            return None;
        }
        self.entries
            .iter()
            .find(|e| {
                if e.escaped {
                    return self.name_of(e) == name;
                }
                // Length and first byte first: most keys differ there, and
                // the full comparison is a library call.
                let key = &bytes[e.key_from..e.key_to];
                key.len() == want.len() && key.first() == want.first() && key == want
            })
            .map(|e| Raw(&bytes[e.from..e.to]))
    }

    /// The attribute names.
    pub(crate) fn names(&self) -> impl Iterator<Item = Cow<'a, str>> + '_ {
        self.entries.iter().map(|e| self.name_of(e))
    }

    /// The parsed value of an attribute; absent and `null` are `None`.
    pub(crate) fn value(&self, name: &str) -> Option<Value> {
        match self.raw(name)?.parse() {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        }
    }
}

/// How much of an attribute a mask (`after_unknown`, `*_sensitive`) marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marked {
    /// Nothing.
    No,
    /// Some nested value.
    Partly,
    /// The whole attribute.
    Whole,
}

impl Marked {
    /// Marked at all.
    pub(crate) fn any(self) -> bool {
        self != Marked::No
    }
}

/// A mask mirroring an object: `true`/`false` for all of it, or per attribute.
#[derive(Debug)]
pub(crate) enum Mask<'a> {
    All(bool),
    Attrs(Attrs<'a>),
}

impl Default for Mask<'_> {
    fn default() -> Self {
        Mask::All(false)
    }
}

impl Mask<'_> {
    /// How much of `name` is marked.
    pub(crate) fn at(&self, name: &str) -> Marked {
        match self {
            Mask::All(true) => Marked::Whole,
            Mask::All(false) => Marked::No,
            Mask::Attrs(a) => match a.raw(name).map(Raw::bytes) {
                None | Some(b"false" | b"null") => Marked::No,
                Some(b"true") => Marked::Whole,
                // Nested masks contain `true` exactly where a leaf is marked.
                Some(nested) if nested.windows(4).any(|w| w == b"true") => Marked::Partly,
                Some(_) => Marked::No,
            },
        }
    }
}

/// What the rules see of one resource change.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub(crate) rc: &'a ResourceChange<'a>,
    /// The statements each attribute of [`STATEMENT_ATTRS`] adds, worked
    /// out once for all the rules that ask (`rules::shared`): a policy is
    /// the costliest value of a change to read.
    pub(super) added_statements: [OnceCell<Vec<Statement>>; STATEMENT_ATTRS.len()],
}

impl<'a> View<'a> {
    /// A view of one change.
    pub(crate) fn new(rc: &'a ResourceChange<'a>) -> Self {
        View { rc, added_statements: Default::default() }
    }

    /// The resource type.
    pub(crate) fn kind(&self) -> &str {
        &self.rc.kind
    }

    /// The planned actions.
    pub(crate) fn actions(&self) -> &Actions {
        &self.rc.change.actions
    }

    /// The value before the change.
    pub(crate) fn before(&self, attr: &str) -> Option<Value> {
        self.rc.change.before.value(attr)
    }

    /// The value after the change (`None` when absent, null or unknown).
    pub(crate) fn after(&self, attr: &str) -> Option<Value> {
        self.rc.change.after.value(attr)
    }

    /// The raw JSON after the change (`None` when absent or unknown).
    pub(crate) fn after_raw(&self, attr: &str) -> Option<Raw<'a>> {
        self.rc.change.after.raw(attr)
    }

    /// The attribute is (partly) known only after apply.
    pub(crate) fn unknown(&self, attr: &str) -> Marked {
        self.rc.change.after_unknown.at(attr)
    }

    /// The attribute is (partly) sensitive on either side.
    pub(crate) fn sensitive(&self, attr: &str) -> bool {
        self.rc.change.before_sensitive.at(attr).any() || self.rc.change.after_sensitive.at(attr).any()
    }

    /// A value for a message, or `(sensitive)` when either side marks the
    /// attribute sensitive. Long values are cut.
    pub(crate) fn show(&self, attr: &str, v: &Value) -> String {
        if self.sensitive(attr) {
            return SENSITIVE.to_owned();
        }
        let s = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if s.chars().count() > 80 {
            let cut: String = s.chars().take(77).collect();
            format!("{cut}...")
        } else {
            s
        }
    }
}

/// What every output prints in place of a sensitive value.
pub(super) const SENSITIVE: &str = "(sensitive)";

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(json: &'static str) -> ResourceChange<'static> {
        let reader = Box::leak(Box::new(crate::steps::plan::element::ElementReader::default()));
        reader.read(json.as_bytes()).unwrap().0
    }

    #[test]
    fn actions_classify_every_documented_list() {
        let a = |v: &[&str]| Actions(v.iter().map(|s| serde_json::from_value(Value::from(*s)).unwrap()).collect());
        assert_eq!(a(&["no-op"]).bucket(), Bucket::NoOp);
        assert_eq!(a(&["read"]).bucket(), Bucket::Read);
        assert_eq!(a(&["create"]).bucket(), Bucket::Create);
        assert_eq!(a(&["update"]).bucket(), Bucket::Update);
        assert_eq!(a(&["delete"]).bucket(), Bucket::Delete);
        assert_eq!(a(&["delete", "create"]).bucket(), Bucket::Replace);
        assert_eq!(a(&["create", "delete"]).bucket(), Bucket::Replace);
        assert_eq!(a(&["forget"]).bucket(), Bucket::Forget);
        assert_eq!(a(&["create", "forget"]).bucket(), Bucket::Create);
        assert_eq!(a(&["forget", "create"]).bucket(), Bucket::Create);
        assert!(!a(&["forget"]).changes());
        assert!(!a(&["create", "forget"]).deletes());
        assert!(a(&["frobnicate"]).changes(), "unknown actions count as changes");
        assert!(a(&["frobnicate", "delete"]).deletes());
    }

    #[test]
    fn empty_action_list_is_malformed() {
        let mut reader = crate::steps::plan::element::ElementReader::default();
        let r = reader.read(br#"{"address":"a.b","mode":"managed","type":"a","change":{"actions":[]}}"#);
        assert!(matches!(r, Err(crate::steps::plan::element::ElementError::Shape(m)) if m == "`actions` is empty"));
    }

    #[test]
    fn attributes_parse_lazily_and_masks_mark() {
        let r = rc(r#"{"address":"aws_db_instance.x","mode":"managed","type":"aws_db_instance","change":{
            "actions":["update"],
            "before":{"password":"hunter2","tags":{"a":"b"},"n":null},
            "after":{"password":"hunter3","tags":{"a":"c"}},
            "after_unknown":{"arn":true,"tags":{}},
            "before_sensitive":{"password":true},
            "after_sensitive":{"password":true,"tags":{"a":true}}}}"#);
        let v = View::new(&r);
        assert_eq!(v.before("password"), Some(Value::from("hunter2")));
        assert_eq!(v.before("n"), None);
        assert_eq!(v.unknown("arn"), Marked::Whole);
        assert_eq!(v.unknown("tags"), Marked::No);
        assert!(v.sensitive("password"));
        assert!(v.sensitive("tags"));
        assert_eq!(v.show("password", &Value::from("hunter3")), SENSITIVE);
        assert_eq!(v.show("tags", &Value::from("x")), SENSITIVE);
        assert!(!v.sensitive("name"));
    }

    /// Attributes over the keys `names` (values all `1`).
    fn attrs_of(names: &[String]) -> (Vec<u8>, Vec<Entry>) {
        let (mut bytes, mut entries) = (Vec::new(), Vec::new());
        for n in names {
            let key_from = bytes.len() + 1;
            bytes.extend_from_slice(format!("\"{n}\":1,").as_bytes());
            let key_to = key_from + n.len();
            entries.push(Entry { key_from, key_to, escaped: false, from: key_to + 2, to: key_to + 3 });
        }
        (bytes, entries)
    }

    #[test]
    fn the_key_filter_never_hides_a_key_and_rules_out_most_others() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let name = |next: &mut dyn FnMut(u64) -> u64| -> String {
            let len = next(24) as usize;
            (0..len).map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz_0123456789"[next(37) as usize])).collect()
        };
        let (mut absent, mut ruled_out) = (0, 0);
        for _ in 0..2_000 {
            let count = 1 + next(12) as usize;
            let names: Vec<String> = (0..count).map(|_| name(&mut next)).collect();
            let (bytes, entries) = attrs_of(&names);
            let a = Attrs::new(&bytes, &entries);
            for n in &names {
                assert_eq!(a.raw(n).map(Raw::bytes), Some(&b"1"[..]), "{n:?} in {names:?}");
            }
            for _ in 0..20 {
                let other = name(&mut next);
                if names.contains(&other) {
                    continue;
                }
                absent += 1;
                assert_eq!(a.raw(&other), None);
                ruled_out += usize::from(!a.keys.may_have(other.as_bytes()));
            }
        }
        // Objects of 1 to 12 keys: the filter answers most absent names alone.
        assert!(ruled_out * 10 > absent * 9, "{ruled_out} of {absent} absent names ruled out by the filter");
    }

    #[test]
    fn a_key_with_escapes_opens_the_filter() {
        let r = rc(r#"{"address":"a.b","mode":"managed","type":"a","change":{"actions":["create"],
            "after":{"x":1,"p\u0061ssword":2}}}"#);
        assert_eq!(r.change.after.raw("password").map(Raw::bytes), Some(&b"2"[..]));
        assert_eq!(r.change.after.raw("x").map(Raw::bytes), Some(&b"1"[..]));
        assert_eq!(r.change.after.raw("y"), None);
    }

    #[test]
    fn whole_object_sensitive_masks_everything() {
        let r = rc(r#"{"address":"a.b","mode":"managed","type":"a","change":{"actions":["create"],
            "after":{"x":"secret"},"after_sensitive":true}}"#);
        let v = View::new(&r);
        assert!(v.sensitive("x"));
        assert_eq!(v.show("x", &Value::from("secret")), SENSITIVE);
    }
}
