//! The plan-check report as SARIF 2.1.0 (`plan-check --format sarif`), for
//! any SARIF viewer: code-scanning dashboards, editor extensions, the SARIF
//! web viewers.
//!
//! One run of the tool `changegate`, with a rule per reason code (all of
//! them, in [`Reason::ALL`] order, so a rule's index never changes) and a
//! result per reason of each finding: its level from that reason's severity
//! (high `error`, medium `warning`, low `note`), the resource address as
//! the logical location and the plan file as the artifact location. A
//! finding accepted by an exemption is a result with an accepted external
//! suppression carrying the justification. Notes are tool notifications.
//! The plan's digests are the artifacts' hashes.
//!
//! A plan has no line that means anything (`terraform show -json` writes
//! one line; a binary plan has none), so results have no region: viewers
//! show the artifact and the resource address. Like every rendering, this
//! one never contains a value the plan marks sensitive.
//!
//! This module writes SARIF; [`crate::base::sarif`] reads other tools' SARIF.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::report::{Finding, Report};
use super::rules::{Reason, Severity};
use crate::base::digest::Sha256Digest;

/// The SARIF version written.
pub(crate) const VERSION: &str = "2.1.0";

/// The schema the document names (OASIS, SARIF 2.1.0 errata 01).
pub(crate) const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Where the tool and its reasons are documented.
const INFORMATION_URI: &str = "https://github.com/changegate/changegate";

/// What the plan was read from, for the artifact locations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inputs<'a> {
    /// The plan JSON file, when it was read from one (not stdin, not rendered).
    pub plan_json: Option<&'a Path>,
    /// The binary plan file that will be applied (`--plan-file`).
    pub plan_file: Option<&'a Path>,
    /// The stack of the plan (`--stack`): the run's category.
    pub stack: Option<&'a str>,
}

/// One line about a rule, and what it flags.
fn describe(r: Reason) -> (&'static str, &'static str) {
    match r {
        Reason::Delete => {
            ("An object is destroyed", "The change destroys an object: any delete, replacements included.")
        }
        Reason::Policy => (
            "The policy attribute changes",
            "The `policy` attribute changes (bucket, key, queue, topic, repository and IAM policies), compared as JSON after normalisation.",
        ),
        Reason::Iam => ("An IAM resource changes", "An `aws_iam_*` resource is created, updated, deleted or replaced."),
        Reason::Attachment => (
            "A policy attachment changes",
            "A `*_policy_attachment(s)` or `*_policy_attachments_exclusive` resource changes, or `managed_policy_arns` of a role changes.",
        ),
        Reason::SecurityGroup => ("A security group changes", "A security group or security group rule changes."),
        Reason::ResourcePolicy => (
            "A resource policy or permission changes",
            "Another policy-like attribute changes (`access_policies`, `policy_document`, `inline_policy`, ...) or a resource-based permission changes (Lambda permissions, KMS grants, RAM shares).",
        ),
        Reason::PublicExposure => (
            "Something becomes public",
            "The change makes something reachable from the internet or by anyone: public ACLs, a public access block turned off, `publicly_accessible`, a policy allowing principal `*`, ingress from 0.0.0.0/0 or ::/0, a Lambda URL without auth.",
        ),
        Reason::StatefulReplace => (
            "A data-holding resource is replaced",
            "A data-holding resource (RDS, DynamoDB, S3, EFS, KMS, ElastiCache, ...) is replaced.",
        ),
        Reason::DeletionProtectionOff => (
            "A protection against data loss is turned off",
            "A protection against data loss is turned off on an existing object (`deletion_protection`, `skip_final_snapshot`, `force_destroy`, ...).",
        ),
        Reason::IamWildcard => (
            "A policy statement allows a wildcard",
            "The change adds a policy statement allowing `*`, `service:*` on all resources, or `NotAction`.",
        ),
        Reason::TrustPolicy => {
            ("Who may assume a role changes", "The role's `assume_role_policy` changes: who may assume it.")
        }
        Reason::CloudIamFirewall => (
            "Cloud IAM bindings or firewall rules change",
            "IAM bindings or firewall rules of Google Cloud or Azure change.",
        ),
        Reason::ExtraType => (
            "A resource type listed as risky changes",
            "A resource type listed in `plan.extra_risky_types` of changegate.toml changes.",
        ),
    }
}

/// `security_group` -> `SecurityGroup`.
fn rule_name(r: Reason) -> String {
    r.code()
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The SARIF level of a severity.
pub(crate) fn level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// A path as a URI reference: a relative path stays relative (with `/`),
/// an absolute one becomes a `file://` URI; anything but unreserved
/// characters and `/` is percent-encoded.
pub(crate) fn path_uri(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::new();
    if path.is_absolute() {
        out.push_str("file://");
    }
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn rule(r: Reason) -> Value {
    let (short, full) = describe(r);
    let kind = if r.is_seed() { "seed" } else { "optional" };
    json!({
        "id": r.code(),
        "name": rule_name(r),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {
            "text": format!("{full} A person must review the change before it is applied."),
            "markdown": format!("{full}\n\nA person must review the change before it is applied."),
        },
        "helpUri": format!("{INFORMATION_URI}#reasons"),
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["security", "terraform", kind]},
    })
}

/// The resource as a logical location: its full address, and its name
/// without the module path.
fn logical(address: &str) -> Value {
    let name = super::address::split_modules(address).map_or(address, |(_, rest)| rest);
    json!({"fullyQualifiedName": address, "name": if name.is_empty() { address } else { name }, "kind": "resource"})
}

/// The finding's location: the resource, in the plan file when there is one.
fn location(address: &str, artifact: Option<(usize, &str)>) -> Value {
    let mut loc = Map::new();
    if let Some((index, uri)) = artifact {
        loc.insert("physicalLocation".into(), json!({"artifactLocation": {"uri": uri, "index": index}}));
    }
    loc.insert("logicalLocations".into(), json!([logical(address)]));
    Value::Object(loc)
}

/// A stable identity of a result across runs: the resource and the reason.
fn fingerprint(address: &str, reason: Reason) -> String {
    Sha256Digest::of(format!("{address}\u{0}{}", reason.code()).as_bytes()).hex()
}

fn rule_index(r: Reason) -> usize {
    Reason::ALL.iter().position(|x| *x == r).expect("every reason is in ALL")
}

fn finding_results(f: &Finding, artifact: Option<(usize, &str)>, out: &mut Vec<Value>) {
    let actions = f.actions.join(", ");
    for (reason, severity, detail) in f.by_reason() {
        out.push(json!({
            "ruleId": reason.code(),
            "ruleIndex": rule_index(reason),
            "level": level(severity),
            "message": {"text": format!("{} ({actions}): {}", f.address, detail)},
            "locations": [location(&f.address, artifact)],
            "partialFingerprints": {"changegateResourceReason/v1": fingerprint(&f.address, reason)},
            "properties": {
                "severity": severity.as_str(),
                "findingSeverity": f.severity.as_str(),
                "type": &*f.kind,
                "actions": f.actions,
                "reasons": f.reasons.iter().map(|r| r.code()).collect::<Vec<_>>(),
            },
        }));
    }
}

/// The SARIF document of `report`.
pub fn to_sarif(report: &Report, inputs: &Inputs<'_>) -> Value {
    // The artifacts: the plan JSON (its digest is always known, even when
    // it came from stdin or was rendered), and the binary plan file.
    let mut artifacts = Vec::new();
    let mut json_artifact = json!({
        "hashes": {"sha-256": report.plan_json_digest.hex()},
        "mimeType": "application/json",
        "roles": ["analysisTarget"],
    });
    let (key, value) = match inputs.plan_json {
        Some(p) => ("location", json!({"uri": path_uri(p)})),
        None => ("description", json!({"text": "the plan JSON, read from stdin or rendered from the plan file"})),
    };
    json_artifact[key] = value;
    artifacts.push(json_artifact);
    let mut primary = inputs.plan_json.map(|p| (0, path_uri(p)));
    if let Some(p) = inputs.plan_file {
        let mut a = json!({"location": {"uri": path_uri(p)}, "roles": ["analysisTarget"]});
        if let Some(d) = &report.plan_file_digest {
            a["hashes"] = json!({"sha-256": d.hex()});
        }
        artifacts.push(a);
        // The plan that will be applied is where the findings are.
        primary = Some((artifacts.len() - 1, path_uri(p)));
    }
    let artifact = primary.as_ref().map(|(i, u)| (*i, u.as_str()));

    let mut results = Vec::new();
    for f in &report.findings {
        finding_results(f, artifact, &mut results);
    }
    for e in &report.exempted {
        for r in &e.reasons {
            results.push(json!({
                "ruleId": r.code(),
                "ruleIndex": rule_index(*r),
                "level": "note",
                "message": {"text": format!("{} ({}): exempted until {}: {}", e.address, e.actions.join(", "), e.expires, e.justification)},
                "locations": [location(&e.address, artifact)],
                "partialFingerprints": {"changegateResourceReason/v1": fingerprint(&e.address, *r)},
                "suppressions": [{"kind": "external", "status": "accepted", "justification": e.justification}],
                "properties": {"type": e.kind, "actions": e.actions, "expires": e.expires.to_string()},
            }));
        }
    }
    let notifications: Vec<Value> = report
        .notes
        .iter()
        .map(|n| {
            let kind = serde_json::to_value(n.kind).expect("a note kind serialises");
            json!({
                "level": "note",
                "message": {"text": format!("{}: {}", n.address, n.detail)},
                "descriptor": {"id": kind},
                "locations": [{"logicalLocations": [logical(&n.address)]}],
            })
        })
        .collect();
    let mut invocation = json!({"executionSuccessful": true});
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }
    let mut properties = json!({
        "risky": report.risky,
        "summary": report.summary,
        "plan_json_digest": report.plan_json_digest,
    });
    for (key, value) in [
        ("plan_file_digest", report.plan_file_digest.as_ref().map(ToString::to_string)),
        ("plan_json_canonical_digest", report.plan_json_canonical_digest.as_ref().map(ToString::to_string)),
        ("format_version", report.format_version.clone()),
        ("terraform_version", report.terraform_version.clone()),
    ] {
        if let Some(v) = value {
            properties[key] = Value::String(v);
        }
    }
    let mut run = json!({
        "tool": {"driver": {
            "name": "changegate",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "informationUri": INFORMATION_URI,
            "rules": Reason::ALL.iter().map(|r| rule(*r)).collect::<Vec<_>>(),
        }},
        "invocations": [invocation],
        "artifacts": artifacts,
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": properties,
    });
    if let Some(stack) = inputs.stack {
        run["automationDetails"] = json!({"id": format!("changegate/plan-check/{stack}/")});
    }
    json!({"$schema": SCHEMA, "version": VERSION, "runs": [run]})
}

/// The SARIF document of a drift check: a result per reason of each
/// drifted object (rule `drift` when no rule singles it out), its level from
/// the drift's severity (access drift is an error).
pub(crate) fn drift_to_sarif(report: &super::drift::DriftReport, plan_json: Option<&Path>) -> Value {
    let mut json_artifact = json!({
        "hashes": {"sha-256": report.plan_json_digest.hex()},
        "mimeType": "application/json",
        "roles": ["analysisTarget"],
    });
    match plan_json {
        Some(p) => json_artifact["location"] = json!({"uri": path_uri(p)}),
        None => {
            json_artifact["description"] =
                json!({"text": "the plan JSON, read from stdin or rendered from the plan file"});
        }
    }
    let artifact = plan_json.map(|p| (0, path_uri(p)));
    let artifact = artifact.as_ref().map(|(i, u)| (*i, u.as_str()));
    let drift_index = Reason::ALL.len();
    let mut results = Vec::new();
    for d in &report.resources {
        let message = format!("{} ({}) changed outside Terraform: {}", d.address, d.actions.join(", "), d.detail);
        let rules: Vec<(String, usize)> = if d.reasons.is_empty() {
            vec![("drift".to_owned(), drift_index)]
        } else {
            d.reasons.iter().map(|r| (r.code().to_owned(), rule_index(*r))).collect()
        };
        for (id, index) in rules {
            results.push(json!({
                "ruleId": id,
                "ruleIndex": index,
                "level": level(d.severity),
                "message": {"text": message},
                "locations": [location(&d.address, artifact)],
                "partialFingerprints": {"changegateDrift/v1": Sha256Digest::of(format!("{}\u{0}{id}", d.address).as_bytes()).hex()},
                "properties": {"severity": d.severity.as_str(), "type": d.kind, "actions": d.actions},
            }));
        }
    }
    let mut rules: Vec<Value> = Reason::ALL.iter().map(|r| rule(*r)).collect();
    rules.push(json!({
        "id": "drift",
        "name": "ChangedOutsideTerraform",
        "shortDescription": {"text": "An object changed outside Terraform"},
        "fullDescription": {"text": "The real object differs from Terraform's state: a change that skipped the pipeline."},
        "help": {"text": "Find who changed it; bring the code or the object back in line, then run the drift check again.",
                 "markdown": "Find who changed it; bring the code or the object back in line, then run the drift check again."},
        "helpUri": format!("{INFORMATION_URI}#drift"),
        "defaultConfiguration": {"level": "note"},
        "properties": {"tags": ["security", "terraform", "drift"]},
    }));
    let run = json!({
        "tool": {"driver": {
            "name": "changegate",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "informationUri": INFORMATION_URI,
            "rules": rules,
        }},
        "invocations": [{"executionSuccessful": true}],
        "artifacts": [json_artifact],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "automationDetails": {"id": format!("changegate/drift/{}/{}/", report.environment, report.stack)},
        "properties": {"drifted": report.drifted, "drift_digest": report.drift_digest, "plan_json_digest": report.plan_json_digest},
    });
    json!({"$schema": SCHEMA, "version": VERSION, "runs": [run]})
}

/// [`to_sarif`], pretty-printed, with a final newline.
pub(crate) fn to_sarif_text(report: &Report, inputs: &Inputs<'_>) -> String {
    serde_json::to_string_pretty(&to_sarif(report, inputs)).expect("a SARIF document serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::plan::PlanRules;

    const PLAN: &str = r#"{"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": [
      {"address": "module.net.aws_security_group.web", "mode": "managed", "type": "aws_security_group", "name": "web",
       "change": {"actions": ["delete", "create"], "before": {"name": "web"}, "after": {"name": "web"}}},
      {"address": "aws_iam_policy.ci", "mode": "managed", "type": "aws_iam_policy", "name": "ci",
       "change": {"actions": ["create"], "before": null, "after": {"policy": "{\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::b/*\"}]}"}}},
      {"address": "aws_instance.app", "mode": "managed", "type": "aws_instance", "name": "app",
       "change": {"actions": ["update"], "before": {"tags": {}}, "after": {"tags": {"v": "2"}}}}]}"#;

    fn report() -> Report {
        crate::steps::plan::check(PLAN.as_bytes(), &PlanRules::default()).unwrap()
    }

    #[test]
    fn a_result_per_reason_with_its_own_level_and_the_resource_as_logical_location() {
        let r = report();
        let doc = to_sarif(&r, &Inputs { plan_json: Some(Path::new("plans/web plan.json")), ..Inputs::default() });
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), Reason::ALL.len());
        let results = run["results"].as_array().unwrap();
        let got: Vec<(&str, &str, &str)> = results
            .iter()
            .map(|x| {
                let fqn = x["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].as_str().unwrap();
                (fqn, x["ruleId"].as_str().unwrap(), x["level"].as_str().unwrap())
            })
            .collect();
        // Each reason of a finding is its own result, at its own level; the
        // instance's tag change is no finding.
        assert_eq!(
            got,
            [
                ("module.net.aws_security_group.web", "delete", "warning"),
                ("module.net.aws_security_group.web", "security_group", "warning"),
                ("aws_iam_policy.ci", "policy", "warning"),
                ("aws_iam_policy.ci", "iam", "note"),
            ]
        );
        for x in results {
            let i = x["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], x["ruleId"]);
            let loc = &x["locations"][0];
            assert_eq!(loc["physicalLocation"]["artifactLocation"]["uri"], "plans/web%20plan.json");
        }
        assert_eq!(results[0]["locations"][0]["logicalLocations"][0]["name"], "aws_security_group.web");
        assert!(results[2]["message"]["text"].as_str().unwrap().starts_with("aws_iam_policy.ci (create): "));
        assert_eq!(run["artifacts"][0]["hashes"]["sha-256"], r.plan_json_digest.hex());
        assert_eq!(run["properties"]["risky"], true);
    }

    #[test]
    fn the_plan_file_is_the_artifact_of_the_results_when_given() {
        let mut r = report();
        r.plan_file_digest = Some(Sha256Digest::of(b"binary"));
        let inputs = Inputs { plan_json: None, plan_file: Some(Path::new("/w/plan.tfplan")), stack: Some("net") };
        let doc = to_sarif(&r, &inputs);
        let run = &doc["runs"][0];
        assert!(run["artifacts"][0].get("location").is_none(), "stdin has no location");
        assert_eq!(run["artifacts"][1]["location"]["uri"], "file:///w/plan.tfplan");
        assert_eq!(run["artifacts"][1]["hashes"]["sha-256"], Sha256Digest::of(b"binary").hex());
        let art = &run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(art["index"], 1);
        assert_eq!(run["automationDetails"]["id"], "changegate/plan-check/net/");
    }

    #[test]
    fn without_any_file_the_results_have_only_the_resource() {
        let doc = to_sarif(&report(), &Inputs::default());
        let loc = &doc["runs"][0]["results"][0]["locations"][0];
        assert!(loc.get("physicalLocation").is_none());
        assert!(loc["logicalLocations"][0]["fullyQualifiedName"].is_string());
    }

    #[test]
    fn names_and_uris() {
        assert_eq!(rule_name(Reason::DeletionProtectionOff), "DeletionProtectionOff");
        assert_eq!(rule_name(Reason::Iam), "Iam");
        assert_eq!(path_uri(Path::new("a/b-c_d.json")), "a/b-c_d.json");
        assert_eq!(path_uri(Path::new("a#b?c%")), "a%23b%3Fc%25");
        assert_eq!(path_uri(Path::new("/tmp/ü")), "file:///tmp/%C3%BC");
    }
}
