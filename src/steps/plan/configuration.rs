//! The plan's `configuration` section, reduced to one question: does the
//! configuration of a resource set a given attribute?
//!
//! An attribute unknown until apply may be computed by the provider (every
//! bucket created without a policy has an unknown `policy`) or set by the
//! configuration from a value not yet known; only the second is a change the
//! team made. Values are skipped while parsing: only key names are kept.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// The root module of the configuration.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Configuration {
    #[serde(default)]
    root_module: Module,
}

#[derive(Debug, Default, Deserialize)]
struct Module {
    #[serde(default)]
    resources: Vec<Resource>,
    #[serde(default)]
    module_calls: BTreeMap<String, ModuleCall>,
}

#[derive(Debug, Deserialize)]
struct ModuleCall {
    #[serde(default)]
    module: Module,
}

#[derive(Debug, Deserialize)]
struct Resource {
    #[serde(default)]
    mode: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    expressions: BTreeMap<String, IgnoredAny>,
}

/// The answer for one resource and attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sets {
    Yes,
    No,
    /// The resource's block is not in the configuration.
    NotFound,
}

impl Configuration {
    /// Does the managed resource `kind.name` in module `path` set `attr`?
    pub(super) fn sets(&self, path: &[String], kind: &str, name: &str, attr: &str) -> Sets {
        let mut module = &self.root_module;
        for m in path {
            match module.module_calls.get(m) {
                Some(call) => module = &call.module,
                None => return Sets::NotFound,
            }
        }
        let found = module
            .resources
            .iter()
            .find(|r| r.kind == kind && r.name == name && r.mode.as_deref().unwrap_or("managed") == "managed");
        match found {
            None => Sets::NotFound,
            Some(r) if r.expressions.contains_key(attr) => Sets::Yes,
            Some(_) => Sets::No,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_attributes_in_nested_modules() {
        let c: Configuration = serde_json::from_str(
            r#"{"root_module": {
                "resources": [{"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b",
                               "expressions": {"bucket": {"constant_value": "x"}}}],
                "module_calls": {"m": {"source": "./m", "module": {"resources": [
                    {"address": "aws_s3_bucket_policy.p", "mode": "managed", "type": "aws_s3_bucket_policy", "name": "p",
                     "expressions": {"policy": {"references": ["data.x.y.json"]}}}]}}}}}"#,
        )
        .unwrap();
        assert_eq!(c.sets(&[], "aws_s3_bucket", "b", "policy"), Sets::No);
        assert_eq!(c.sets(&[], "aws_s3_bucket", "b", "bucket"), Sets::Yes);
        assert_eq!(c.sets(&["m".into()], "aws_s3_bucket_policy", "p", "policy"), Sets::Yes);
        assert_eq!(c.sets(&["n".into()], "aws_s3_bucket_policy", "p", "policy"), Sets::NotFound);
        assert_eq!(c.sets(&[], "aws_s3_bucket", "c", "policy"), Sets::NotFound);
    }
}
