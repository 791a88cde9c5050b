//! The parts of one `resource_changes` element the rules read.
//!
//! Attributes stay unparsed ([`RawValue`]) until a rule asks for one: most
//! resources are judged on their type and actions alone, and parsing every
//! `before`/`after` into a tree would dominate the cost of a large plan.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// One element of `resource_changes` (or `resource_drift`), borrowed from
/// its captured bytes.
#[derive(Debug, Deserialize)]
pub(crate) struct ResourceChange<'a> {
    /// Absolute address, e.g. `module.db.aws_db_instance.main[0]`. Some
    /// `resource_drift` entries carry none: see [`ResourceChange::full_address`].
    #[serde(default)]
    pub address: String,
    /// The module's address (`module.db`), absent at the root.
    #[serde(default)]
    pub module_address: Option<String>,
    /// The instance key of a `count` or `for_each` resource.
    #[serde(default)]
    pub index: Option<Value>,
    /// `managed`, `data` (or OpenTofu's `ephemeral`).
    pub mode: String,
    /// Resource type, e.g. `aws_iam_role`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Resource name (without index).
    #[serde(default)]
    pub name: Option<String>,
    /// Set when the change is to a deposed object.
    #[serde(default)]
    pub deposed: Option<String>,
    /// Set when the resource was moved (`moved` block).
    #[serde(default)]
    pub previous_address: Option<String>,
    /// Why Terraform chose this action (replace, delete).
    #[serde(default)]
    pub action_reason: Option<String>,
    /// The change itself.
    #[serde(borrow)]
    pub change: Change<'a>,
}

impl ResourceChange<'_> {
    /// The address, or when an entry carries none (some `resource_drift`
    /// entries of Terraform Cloud), the address its parts spell:
    /// `module.m.data.type.name["key"]`. `None` when neither is there.
    pub fn full_address(&self) -> Option<String> {
        if !self.address.is_empty() {
            return Some(self.address.clone());
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
        match &self.index {
            Some(Value::Number(n)) => a.push_str(&format!("[{n}]")),
            Some(Value::String(k)) => a.push_str(&format!("[{}]", Value::String(k.clone()))),
            _ => {}
        }
        Some(a)
    }
}

/// The `change` object of a resource change. The object sides are indexed
/// by attribute name as they are parsed, values left raw.
#[derive(Debug, Deserialize)]
pub(crate) struct Change<'a> {
    /// Planned actions.
    pub actions: Actions,
    /// The object before the change (empty on create).
    #[serde(borrow, default)]
    pub before: Attrs<'a>,
    /// The object after the change (empty on delete); unknown values absent.
    #[serde(borrow, default)]
    pub after: Attrs<'a>,
    /// Mirrors `after` with `true` where a value is known only after apply.
    #[serde(borrow, default)]
    pub after_unknown: Mask<'a>,
    /// Mirrors `before` with `true` where a value is sensitive.
    #[serde(borrow, default)]
    pub before_sensitive: Mask<'a>,
    /// Mirrors `after` with `true` where a value is sensitive.
    #[serde(borrow, default)]
    pub after_sensitive: Mask<'a>,
    /// Attribute paths that force a replacement.
    #[serde(default)]
    pub replace_paths: Option<Vec<Vec<Value>>>,
    /// Set when the resource is being imported.
    #[serde(borrow, default)]
    pub importing: Option<&'a RawValue>,
}

/// One planned action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
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
    pub fn as_str(&self) -> &str {
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

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        Ok(match s.as_ref() {
            "no-op" => Action::NoOp,
            "create" => Action::Create,
            "read" => Action::Read,
            "update" => Action::Update,
            "delete" => Action::Delete,
            "forget" => Action::Forget,
            _ => Action::Other(s.into_owned()),
        })
    }
}

/// The action list of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actions(pub Vec<Action>);

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
    pub fn changes(&self) -> bool {
        self.0.iter().any(|a| !matches!(a, Action::NoOp | Action::Read | Action::Forget))
    }

    /// Any list containing `delete` destroys an object (replace included).
    pub fn deletes(&self) -> bool {
        self.has(&Action::Delete)
    }

    /// A new object is created (create, replace, create-and-forget).
    pub fn creates(&self) -> bool {
        self.has(&Action::Create)
    }

    /// Delete and create, in either order.
    pub fn is_replace(&self) -> bool {
        self.deletes() && self.creates()
    }

    /// Only a create: there was no object before.
    pub fn is_create_only(&self) -> bool {
        self.creates() && !self.deletes()
    }

    /// Only a delete.
    pub fn is_delete_only(&self) -> bool {
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
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|a| a.as_str().to_owned()).collect()
    }

    /// A short verb for messages.
    pub fn verb(&self) -> &'static str {
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

/// The top-level attributes of an object, values left unparsed, sorted by
/// name for lookup.
#[derive(Debug, Default)]
pub(crate) struct Attrs<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Attrs<'a> {
    /// The raw value of an attribute.
    pub fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.entries.binary_search_by(|(k, _)| k.as_ref().cmp(name)).ok().map(|i| self.entries[i].1)
    }

    /// The attribute names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    /// The parsed value of an attribute; absent and `null` are `None`.
    pub fn value(&self, name: &str) -> Option<Value> {
        let raw = self.raw(name)?;
        match serde_json::from_str(raw.get()) {
            Ok(Value::Null) | Err(_) => None,
            Ok(v) => Some(v),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Attrs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Attrs<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of attributes or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Attrs<'a>, E> {
                Ok(Attrs::default())
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Attrs<'a>, M::Error> {
                let mut entries = Vec::new();
                while let Some(k) = map.next_key::<CowStr<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    entries.push((k.0, v));
                }
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Ok(Attrs { entries })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A string borrowed from the input when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
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
    pub fn any(self) -> bool {
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

impl<'de: 'a, 'a> Deserialize<'de> for Mask<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Mask<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, null or an object mirroring the attributes")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Mask<'a>, E> {
                Ok(Mask::All(b))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Mask<'a>, E> {
                Ok(Mask::All(false))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Mask<'a>, M::Error> {
                let v: Attrs<'a> = Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Mask::Attrs(v))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl Mask<'_> {
    /// How much of `name` is marked.
    pub fn at(&self, name: &str) -> Marked {
        match self {
            Mask::All(true) => Marked::Whole,
            Mask::All(false) => Marked::No,
            Mask::Attrs(a) => match a.raw(name).map(RawValue::get) {
                None | Some("false" | "null") => Marked::No,
                Some("true") => Marked::Whole,
                // Nested masks contain `true` exactly where a leaf is marked.
                Some(nested) if nested.contains("true") => Marked::Partly,
                Some(_) => Marked::No,
            },
        }
    }
}

/// What the rules see of one resource change.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub rc: &'a ResourceChange<'a>,
}

impl<'a> View<'a> {
    /// A view of one change.
    pub fn new(rc: &'a ResourceChange<'a>) -> Self {
        View { rc }
    }

    /// The resource type.
    pub fn kind(&self) -> &str {
        &self.rc.kind
    }

    /// The planned actions.
    pub fn actions(&self) -> &Actions {
        &self.rc.change.actions
    }

    /// The value before the change.
    pub fn before(&self, attr: &str) -> Option<Value> {
        self.rc.change.before.value(attr)
    }

    /// The value after the change (`None` when absent, null or unknown).
    pub fn after(&self, attr: &str) -> Option<Value> {
        self.rc.change.after.value(attr)
    }

    /// The attribute is (partly) known only after apply.
    pub fn unknown(&self, attr: &str) -> Marked {
        self.rc.change.after_unknown.at(attr)
    }

    /// The attribute is (partly) sensitive on either side.
    pub fn sensitive(&self, attr: &str) -> bool {
        self.rc.change.before_sensitive.at(attr).any() || self.rc.change.after_sensitive.at(attr).any()
    }

    /// A value for a message, or `(sensitive)` when either side marks the
    /// attribute sensitive. Long values are cut.
    pub fn show(&self, attr: &str, v: &Value) -> String {
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
pub const SENSITIVE: &str = "(sensitive)";

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(json: &str) -> ResourceChange<'_> {
        serde_json::from_str(json).unwrap()
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
        let r: Result<ResourceChange<'_>, _> =
            serde_json::from_str(r#"{"address":"a.b","mode":"managed","type":"a","change":{"actions":[]}}"#);
        assert!(r.unwrap_err().to_string().contains("`actions` is empty"));
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

    #[test]
    fn whole_object_sensitive_masks_everything() {
        let r = rc(r#"{"address":"a.b","mode":"managed","type":"a","change":{"actions":["create"],
            "after":{"x":"secret"},"after_sensitive":true}}"#);
        let v = View::new(&r);
        assert!(v.sensitive("x"));
        assert_eq!(v.show("x", &Value::from("secret")), SENSITIVE);
    }
}
