//! Drift: what changed outside Terraform since the last apply. Terraform
//! and OpenTofu report it in every plan, and a refresh-only plan
//! (`plan -refresh-only`) is made of nothing else: `resource_drift`, one
//! element per object whose real state differs from the state file, `before`
//! as recorded and `after` as found. Each element is judged by the same rules
//! as a planned change ([`super::rules::assess`]): drift that opened a
//! security group, widened a policy or exposed a bucket is `high`; any other
//! drift is `low`, and still drift (exit 1). Drift in who may do what (IAM,
//! policies, security groups and firewalls, public exposure) is `high`
//! whatever the rule's severity for a planned change: access changed outside
//! the pipeline is the unauthorised change this check exists for. An update
//! whose only differences are between empty values (`null`, `""`, `[]`,
//! `{}`: a provider normalising what it read) is not drift. Sensitive values
//! are never shown: details are the rules' texts. See docs/drift.md.

use std::fmt::Write as _;
use std::io::Read;

use serde::Serialize;

use super::address;
use super::configuration::{Configuration, Sets};
use super::model::{Action, Raw, ResourceChange, View};
use super::report::{md_code, md_text, safe};
use super::rules::{self, Hit, Reason, Severity};
use super::walk::{self, PlanError};
use crate::base::digest::Sha256Digest;
use crate::config::plan::PlanRules;

/// The version of the drift JSON contract (fields are only ever added).
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// One object that changed outside Terraform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Drifted {
    /// Resource address.
    pub(crate) address: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// What the drift amounts to (`update`: changed, `delete`: gone).
    pub(crate) actions: Vec<String>,
    /// The rules the drift trips (empty: drift no rule singles out).
    pub(crate) reasons: Vec<Reason>,
    /// `high`, `medium` or `low` (`low` when no rule applies).
    pub(crate) severity: Severity,
    /// What changed, for a reviewer (never a sensitive value).
    pub(crate) detail: String,
}

/// A drift element waiting for the configuration.
#[derive(Debug)]
struct Pending {
    drifted: Drifted,
    modules: Vec<String>,
    name: String,
    hits: Vec<Hit>,
}

/// The result of a drift check.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DriftReport {
    /// Always [`SCHEMA_VERSION`].
    pub(crate) schema_version: u32,
    /// Anything drifted.
    pub(crate) drifted: bool,
    /// The environment the plan is of.
    pub(crate) environment: String,
    /// The stack (Terraform root module) the plan is of.
    pub(crate) stack: String,
    /// `format_version` of the plan.
    pub(crate) format_version: Option<String>,
    /// `terraform_version` of the plan.
    pub(crate) terraform_version: Option<String>,
    /// The objects that drifted, in plan order.
    pub(crate) resources: Vec<Drifted>,
    /// SHA-256 of the plan JSON as read.
    pub(crate) plan_json_digest: Sha256Digest,
    /// SHA-256 of what drifted (addresses, actions, reasons): equal digests,
    /// the same drift.
    pub(crate) drift_digest: Sha256Digest,
}

/// Judges one `resource_drift` element (pure). Data sources and ephemeral
/// values do not drift; a no-op is not drift.
fn judge(rc: &ResourceChange<'_>, index: usize, rules: &PlanRules) -> Result<Option<Pending>, PlanError> {
    match rc.mode.as_ref() {
        "managed" => {}
        "data" | "ephemeral" => return Ok(None),
        other => {
            return Err(PlanError::Malformed(format!(
                "resource_drift[{index}]: unknown mode {other:?}; changegate refuses what it cannot judge"
            )));
        }
    }
    if !rc.change.actions.changes() {
        return Ok(None);
    }
    let updated = rc.change.actions.0.iter().all(|a| *a == Action::Update);
    if updated && !materially_changed(rc) {
        return Ok(None);
    }
    let address = rc.full_address().ok_or_else(|| {
        PlanError::Malformed(format!("resource_drift[{index}]: neither an address nor a type and name"))
    })?;
    let (modules, rest) = address::split_modules(&address).ok_or_else(|| {
        PlanError::Malformed(format!("resource_drift[{index}]: address {address:?} is not well formed"))
    })?;
    let name = rc.name.as_deref().map_or_else(|| address::resource_name(rest), str::to_owned);
    let view = View::new(rc);
    let hits = rules::assess(&view, rules);
    let deleted = rc.change.actions.0.contains(&Action::Delete) && !rc.change.actions.0.contains(&Action::Create);
    let drifted = Drifted {
        address,
        kind: rc.kind.to_string(),
        actions: rc.change.actions.names(),
        reasons: Vec::new(),
        severity: Severity::Low,
        detail: if deleted { "deleted outside Terraform".into() } else { "changed outside Terraform".into() },
    };
    Ok(Some(Pending { drifted, modules, name, hits }))
}

/// Reasons about who may do what: their drift is `high`.
fn is_access(r: Reason) -> bool {
    matches!(
        r,
        Reason::Policy
            | Reason::Iam
            | Reason::Attachment
            | Reason::SecurityGroup
            | Reason::ResourcePolicy
            | Reason::PublicExposure
            | Reason::IamWildcard
            | Reason::TrustPolicy
            | Reason::CloudIamFirewall
    )
}

/// Whether an update changes more than empty values into other empty ones.
fn materially_changed(rc: &ResourceChange<'_>) -> bool {
    let (before, after) = (&rc.change.before, &rc.change.after);
    let parse = |raw: Option<Raw<'_>>| raw.and_then(Raw::parse).unwrap_or(serde_json::Value::Null);
    before.names().chain(after.names()).any(|n| !same(&parse(before.raw(&n)), &parse(after.raw(&n))))
}

/// Equality where `null`, `""`, `[]` and `{}` are one empty value, and a
/// missing key equals an empty one.
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(x) => x.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    match (a, b) {
        _ if empty(a) && empty(b) => true,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.keys().chain(y.keys()).all(|k| same(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null)))
        }
        _ => a == b,
    }
}

/// Settles hits that depend on the configuration and fills each element's
/// reasons, severity and detail (pure).
fn settle(pending: Vec<Pending>, config: Option<&Configuration>) -> Vec<Drifted> {
    pending
        .into_iter()
        .map(|mut p| {
            let kind = p.drifted.kind.clone();
            // A value unknown in the drift's `after` is read from the
            // configuration as for a planned change; without one, assumed set.
            p.hits.retain(|h| match h.if_configured {
                None => true,
                Some(attr) => !matches!(config.map(|c| c.sets(&p.modules, &kind, &p.name, attr)), Some(Sets::No)),
            });
            let mut d = p.drifted;
            for h in &mut p.hits {
                if is_access(h.reason) {
                    h.severity = Severity::High;
                }
            }
            if let Some(sev) = p.hits.iter().map(|h| h.severity).max() {
                d.severity = sev;
                let mut reasons: Vec<Reason> = p.hits.iter().map(|h| h.reason).collect();
                reasons.sort();
                reasons.dedup();
                d.reasons = reasons;
                let mut details = vec![d.detail.clone()];
                for h in &p.hits {
                    if !details.contains(&h.detail) {
                        details.push(h.detail.clone());
                    }
                }
                d.detail = details.join("; ");
            }
            d
        })
        .collect()
}

/// Judges the drift in a plan read from `input`, for `environment` and
/// `stack`. The input is read and hashed on a second thread.
pub(crate) fn check<R: Read + Send>(
    input: R,
    rules: &PlanRules,
    environment: &str,
    stack: &str,
) -> Result<DriftReport, PlanError> {
    let ((top, drifted), digest) = walk::read_hashed(input, |reader| {
        let mut drifted = Vec::new();
        let top = walk::walk(reader, walk::Section::Drift, |rc, i| {
            drifted.extend(judge(rc, i, rules)?);
            Ok(())
        })?;
        Ok((top, drifted))
    })?;
    let resources = settle(drifted, top.configuration.as_ref());
    Ok(DriftReport::new(top.format_version, top.terraform_version, resources, digest, environment, stack))
}

impl DriftReport {
    /// A report of `resources`.
    pub(crate) fn new(
        format_version: Option<String>,
        terraform_version: Option<String>,
        resources: Vec<Drifted>,
        plan_json_digest: Sha256Digest,
        environment: &str,
        stack: &str,
    ) -> DriftReport {
        let mut identity = String::new();
        for r in &resources {
            let reasons: Vec<&str> = r.reasons.iter().map(|x| x.code()).collect();
            let _ = writeln!(identity, "{}\t{}\t{}", r.address, r.actions.join(","), reasons.join(","));
        }
        DriftReport {
            schema_version: SCHEMA_VERSION,
            drifted: !resources.is_empty(),
            environment: environment.to_owned(),
            stack: stack.to_owned(),
            format_version,
            terraform_version,
            resources,
            plan_json_digest,
            drift_digest: Sha256Digest::of(identity.as_bytes()),
        }
    }

    /// One line: the verdict.
    pub(crate) fn verdict_line(&self) -> String {
        let at = format!("{} / {}", self.environment, self.stack);
        if self.resources.is_empty() {
            return format!("no drift: {at} is as Terraform's state says");
        }
        let high = self.resources.iter().filter(|r| r.severity == Severity::High).count();
        format!(
            "DRIFT: {} object(s) of {at} changed outside Terraform{}",
            self.resources.len(),
            if high > 0 { format!(", {high} of them high") } else { String::new() }
        )
    }

    /// The text rendering (the CI log).
    pub(crate) fn to_text(&self) -> String {
        let mut s = String::new();
        for r in &self.resources {
            let reasons: Vec<&str> = r.reasons.iter().map(|x| x.code()).collect();
            let _ = writeln!(
                s,
                "  {:<6} {} ({}) {}{}: {}",
                r.severity.as_str(),
                safe(&r.address),
                r.actions.join(", "),
                safe(&r.kind),
                if reasons.is_empty() { String::new() } else { format!(" [{}]", reasons.join(", ")) },
                safe(&r.detail)
            );
        }
        let _ = writeln!(s, "{}", self.verdict_line());
        s
    }

    /// The markdown rendering (reports and tickets).
    pub(crate) fn to_markdown(&self) -> String {
        let mut s = format!("### Drift of {} / {}\n\n", md_text(&self.environment), md_text(&self.stack));
        if self.resources.is_empty() {
            s.push_str("No object changed outside Terraform.\n");
            return s;
        }
        s.push_str("| severity | resource | type | drift | rules | detail |\n|---|---|---|---|---|---|\n");
        for r in &self.resources {
            let reasons: Vec<&str> = r.reasons.iter().map(|x| x.code()).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.severity.as_str(),
                md_code(&r.address),
                md_code(&r.kind),
                r.actions.join(", "),
                reasons.join(", "),
                md_text(&r.detail)
            );
        }
        let _ = write!(s, "\n**{}**\n", md_text(&self.verdict_line()));
        s
    }

    /// JUnit test cases: one per drifted object (a failure), or one passing
    /// case saying the stream did not drift.
    pub(crate) fn to_junit(&self) -> crate::base::junit::Suite {
        use crate::base::junit::{Case, Suite};
        let class = format!("drift.{}.{}", self.environment, self.stack);
        let cases = if self.resources.is_empty() {
            vec![Case::passed(class, "no drift")]
        } else {
            self.resources
                .iter()
                .map(|r| {
                    let reasons: Vec<&str> = r.reasons.iter().map(|x| x.code()).collect();
                    let kind = if reasons.is_empty() { "drift".to_owned() } else { reasons.join(",") };
                    Case::failed(
                        class.clone(),
                        r.address.clone(),
                        kind,
                        format!("{} drift: {}", r.severity.as_str(), r.actions.join(", ")),
                        format!("{}\ntype: {}", r.detail, r.kind),
                    )
                })
                .collect()
        };
        Suite::new(format!("changegate drift of {} / {}: {}", self.environment, self.stack, self.verdict_line()), cases)
    }

    /// The JSON contract (`schema_version` 1).
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the drift report serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: &serde_json::Value) -> DriftReport {
        check(doc.to_string().as_bytes(), &PlanRules::default(), "production", "network").unwrap()
    }

    fn plan(drift: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"format_version": "1.2", "terraform_version": "1.9.8", "resource_drift": drift,
                           "resource_changes": [{"address": "aws_iam_policy.p", "mode": "managed", "type": "aws_iam_policy",
                               "name": "p", "change": {"actions": ["delete"], "before": {}, "after": null}}]})
    }

    #[test]
    fn no_drift_is_no_drift_whatever_the_plan_changes() {
        let r = run(&plan(serde_json::json!([])));
        assert!(!r.drifted);
        assert!(r.verdict_line().starts_with("no drift"));
    }

    #[test]
    fn an_opened_security_group_is_high_and_a_tag_is_low() {
        let r = run(&plan(serde_json::json!([
            {"address": "aws_security_group.web", "mode": "managed", "type": "aws_security_group", "name": "web",
             "change": {"actions": ["update"],
                        "before": {"ingress": [{"cidr_blocks": ["10.0.0.0/8"], "from_port": 22, "to_port": 22, "protocol": "tcp"}]},
                        "after": {"ingress": [{"cidr_blocks": ["0.0.0.0/0"], "from_port": 22, "to_port": 22, "protocol": "tcp"}]}}},
            {"address": "aws_instance.app", "mode": "managed", "type": "aws_instance", "name": "app",
             "change": {"actions": ["update"], "before": {"tags": {"a": "1"}}, "after": {"tags": {"a": "2"}}}},
            {"address": "aws_instance.normalised", "mode": "managed", "type": "aws_instance", "name": "normalised",
             "change": {"actions": ["update"], "before": {"tags": null, "ebs": [], "kms": null, "x": {"a": null}},
                        "after": {"tags": {}, "ebs": null, "kms": "", "x": {}}}},
            {"address": "data.aws_ami.x", "mode": "data", "type": "aws_ami", "name": "x",
             "change": {"actions": ["update"], "before": {}, "after": {}}}
        ])));
        assert!(r.drifted);
        assert_eq!(r.resources.len(), 2, "data sources and empty values read differently do not drift");
        assert_eq!(r.resources[0].severity, Severity::High, "{:?}", r.resources[0]);
        assert!(!r.resources[0].reasons.is_empty());
        assert_eq!(r.resources[1].severity, Severity::Low);
        assert!(r.resources[1].reasons.is_empty());
        assert_eq!(r.resources[1].detail, "changed outside Terraform");
        assert!(r.verdict_line().contains("2 object(s) of production / network"), "{}", r.verdict_line());
        assert!(r.verdict_line().contains("1 of them high"), "{}", r.verdict_line());
    }

    #[test]
    fn an_entry_without_an_address_is_named_from_its_parts() {
        let r = run(&plan(serde_json::json!([
            {"module_address": "module.jobs", "mode": "managed", "type": "aws_cloudwatch_event_rule", "name": "tick",
             "index": "eu", "change": {"actions": ["update"], "before": {"x": 1}, "after": {"x": 2}}}
        ])));
        assert_eq!(r.resources[0].address, "module.jobs.aws_cloudwatch_event_rule.tick[\"eu\"]");
    }

    #[test]
    fn the_drift_digest_changes_only_with_the_drift() {
        let one = serde_json::json!([{"address": "aws_instance.app", "mode": "managed", "type": "aws_instance", "name": "app",
            "change": {"actions": ["update"], "before": {"tags": {"a": "1"}}, "after": {"tags": {"a": "2"}}}}]);
        let a = run(&plan(one.clone()));
        let mut other = plan(one);
        other["terraform_version"] = serde_json::json!("1.9.9");
        let b = run(&other);
        assert_ne!(a.plan_json_digest, b.plan_json_digest);
        assert_eq!(a.drift_digest, b.drift_digest);
        let c = run(&plan(serde_json::json!([])));
        assert_ne!(a.drift_digest, c.drift_digest);
    }

    #[test]
    fn sensitive_values_never_appear() {
        let r = run(&plan(serde_json::json!([
            {"address": "aws_db_instance.db", "mode": "managed", "type": "aws_db_instance", "name": "db",
             "change": {"actions": ["update"], "before": {"password": "hunter2-old"}, "after": {"password": "hunter2-new"},
                        "before_sensitive": {"password": true}, "after_sensitive": {"password": true}}}
        ])));
        for out in [r.to_text(), r.to_markdown(), r.to_json()] {
            assert!(!out.contains("hunter2"), "{out}");
        }
    }
}
