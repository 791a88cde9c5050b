//! The plan gate (README.md, `changegate plan-check`): is a Terraform/OpenTofu
//! plan risky?
//!
//! [`check`] streams `terraform show -json` output from any reader: it hashes
//! the bytes, detects the encoding, walks the top-level object with a
//! validating scanner, and reads each `resource_changes` element in the same
//! pass (`element`: fields borrowed, attributes kept as raw JSON) and judges
//! it as it passes ([`rules::assess`], pure). Judgements that depend on the
//! `configuration` section (read after the changes) are settled at the end,
//! then exemptions are applied ([`settle`], pure). Plans that cannot be
//! judged are refused with a [`PlanError`], never passed.

mod address;
mod configuration;
pub(crate) mod drift;
mod element;
pub(crate) mod encoding;
mod model;
mod policy_doc;
mod prefetch;
pub(crate) mod render;
pub(crate) mod report;
pub(crate) mod rules;
pub(crate) mod sarif;
mod scan;
mod walk;

use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;

use self::configuration::{Configuration, Sets};
use self::model::{Bucket, ResourceChange, View};
use self::report::{Exempted, Finding, Judged, Note, NoteKind, ReasonHit, Report, SCHEMA_VERSION, Summary};
use self::rules::{Hit, Reason};
use self::scan::ChunkSource;
use crate::base::digest::Sha256Digest;
use crate::base::glob::glob_match;
use crate::config::plan::{Exemption, PlanRules};

pub(crate) use self::model::{Action, Actions};
pub use self::walk::PlanError;

/// A resource change with at least one hit, waiting for the configuration.
#[derive(Debug)]
struct Pending {
    address: String,
    /// Shared by every change of its type (see [`Pendings`]).
    kind: Arc<str>,
    /// Only for a hit that waits for the configuration: a large plan can
    /// have tens of thousands of pending changes, and few need it.
    configured: Option<Box<ConfigKey>>,
    actions: Actions,
    hits: Vec<Hit>,
    /// Its index in the listed changes, when they are listed.
    change: Option<usize>,
}

/// The pending changes of a plan, and their resource types, each kept once:
/// a large plan has tens of thousands of changes of a few hundred types.
#[derive(Debug, Default)]
struct Pendings {
    list: Vec<Pending>,
    kinds: HashSet<Arc<str>>,
}

impl Pendings {
    /// The one copy of `kind`.
    fn kind(&mut self, kind: &str) -> Arc<str> {
        if let Some(k) = self.kinds.get(kind) {
            return k.clone();
        }
        let k: Arc<str> = kind.into();
        self.kinds.insert(k.clone());
        k
    }
}

/// Where a resource is in the configuration: its module path and name.
#[derive(Debug)]
struct ConfigKey {
    modules: Vec<String>,
    name: String,
}

/// Checks a plan read from `input` against `rules`. The input is read and
/// hashed on a second thread while this one parses.
pub fn check<R: Read + Send>(input: R, rules: &PlanRules) -> Result<Report, PlanError> {
    check_with(input, rules, false)
}

/// [`check`], and lists every resource change judged in
/// [`Report::changes`] (for the JUnit report: one case per change). Memory
/// grows with the number of changes, so only when asked.
pub(crate) fn check_listing<R: Read + Send>(input: R, rules: &PlanRules) -> Result<Report, PlanError> {
    check_with(input, rules, true)
}

fn check_with<R: Read + Send>(input: R, rules: &PlanRules, list: bool) -> Result<Report, PlanError> {
    let (mut report, digest) = walk::read_hashed(input, |reader| parse(reader, rules, list))?;
    report.plan_json_digest = digest;
    Ok(report)
}

/// Parses and judges the plan; the digest is filled in by the caller. With
/// `list`, every resource change judged is listed (`--junit`).
fn parse<S: ChunkSource>(source: S, rules: &PlanRules, list: bool) -> Result<Report, PlanError> {
    let mut summary = Summary::default();
    let mut pending = Pendings::default();
    let mut notes = Vec::new();
    let mut changes = list.then(Vec::new);
    let top = walk::walk(source, walk::Section::Changes, |rc, i| {
        judge(rc, i, rules, &mut summary, &mut pending, &mut notes, changes.as_mut())
    })?;
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        risky: false,
        format_version: top.format_version,
        terraform_version: top.terraform_version,
        summary,
        findings: Vec::new(),
        exempted: Vec::new(),
        notes,
        plan_json_digest: Sha256Digest([0; 32]),
        plan_file_digest: None,
        plan_json_canonical_digest: None,
        rendered_by: None,
        changes,
    };
    settle(&mut report, pending.list, top.configuration.as_ref(), rules);
    Ok(report)
}

/// Judges one `resource_changes` element (pure apart from the accumulators).
fn judge(
    rc: &ResourceChange<'_>,
    index: usize,
    rules: &PlanRules,
    summary: &mut Summary,
    pending: &mut Pendings,
    notes: &mut Vec<Note>,
    changes: Option<&mut Vec<Judged>>,
) -> Result<(), PlanError> {
    if rc.address.is_empty() {
        return Err(PlanError::Malformed(format!("resource_changes[{index}]: the element has no address")));
    }
    let actions = &rc.change.actions;
    match actions.bucket() {
        Bucket::Create => summary.create += 1,
        Bucket::Update => summary.update += 1,
        Bucket::Delete => summary.delete += 1,
        Bucket::Replace => summary.replace += 1,
        Bucket::NoOp => summary.no_op += 1,
        Bucket::Read => summary.read += 1,
        Bucket::Forget => summary.forget += 1,
    }
    match rc.mode.as_ref() {
        "managed" => {}
        // Reading data and opening ephemeral values change nothing.
        "data" | "ephemeral" => return Ok(()),
        other => {
            return Err(PlanError::Malformed(format!(
                "resource_changes[{index}] ({}): unknown mode {other:?}; this changegate judges only `managed` resources and refuses what it cannot judge",
                rc.address
            )));
        }
    }
    if let Some(prev) = &rc.previous_address {
        notes.push(Note {
            kind: NoteKind::Moved,
            address: rc.address.to_string(),
            detail: format!("moved from {prev}"),
        });
    }
    if rc.change.importing.is_some() {
        notes.push(Note {
            kind: NoteKind::Imported,
            address: rc.address.to_string(),
            detail: "imported into the state".into(),
        });
    }
    if actions.0.contains(&Action::Forget) {
        notes.push(Note {
            kind: NoteKind::Forgotten,
            address: rc.address.to_string(),
            detail: "removed from the state; the object itself is kept".into(),
        });
    }
    if !actions.changes() {
        return Ok(());
    }
    let change = changes.map(|c| {
        c.push(Judged {
            address: rc.address.to_string(),
            kind: rc.kind.to_string(),
            actions: actions.names(),
            finding: None,
            exempted: Vec::new(),
        });
        c.len() - 1
    });
    let view = View::new(rc);
    let mut hits = rules::assess(&view, rules);
    if hits.is_empty() {
        return Ok(());
    }
    // Kept until the end of the plan, tens of thousands of them: no spare
    // capacity.
    hits.shrink_to_fit();
    for h in &mut hits {
        h.detail.shrink_to_fit();
    }
    let (modules, rest) = address::split_modules(&rc.address).ok_or_else(|| {
        PlanError::Malformed(format!("resource_changes[{index}]: address {:?} is not well formed", rc.address))
    })?;
    let configured = hits.iter().any(|h| h.if_configured.is_some()).then(|| {
        let name = rc.name.as_deref().map_or_else(|| address::resource_name(rest), str::to_owned);
        Box::new(ConfigKey { modules, name })
    });
    let kind = pending.kind(&rc.kind);
    pending.list.push(Pending {
        address: rc.address.to_string(),
        kind,
        configured,
        actions: actions.clone(),
        hits,
        change,
    });
    Ok(())
}

/// Settles hits that depend on the configuration, applies exemptions and
/// fills the report's findings (pure).
fn settle(report: &mut Report, pending: Vec<Pending>, config: Option<&Configuration>, rules: &PlanRules) {
    let mut used = vec![false; rules.exemptions.len()];
    let mut assumed_no_config = false;
    let Report { findings, exempted, changes, .. } = report;
    let mut kept = 0;
    // A large plan has tens of thousands of pending changes: each becomes
    // its finding in the memory it held (collected in place; a finding is
    // no larger), rather than beside a second list as long.
    *findings = pending
        .into_iter()
        .filter_map(|mut p| {
            assumed_no_config |= settle_configured(&mut p, config);
            if p.hits.is_empty() {
                return None;
            }
            exempt(exempted, changes, &mut p, rules, &mut used);
            if p.hits.is_empty() {
                return None;
            }
            if let (Some(c), Some(changes)) = (p.change, changes.as_mut()) {
                changes[c].finding = Some(kept);
            }
            kept += 1;
            Some(finding_of(p))
        })
        .collect();
    if findings.len() < findings.capacity() / 2 {
        findings.shrink_to_fit();
    }
    settle_notes(report, rules, &used, assumed_no_config);
    report.risky = !report.findings.is_empty();
}

/// A finding takes the place of its pending change.
const _: () = assert!(std::mem::size_of::<Finding>() <= std::mem::size_of::<Pending>());

/// Keeps the hits of `p` that wait for the configuration only when it sets
/// their attribute; one the configuration cannot tell is kept, assumed
/// configured. Returns whether that was assumed for want of a configuration.
fn settle_configured(p: &mut Pending, config: Option<&Configuration>) -> bool {
    let mut assumed_no_config = false;
    p.hits.retain_mut(|h| {
        let Some(attr) = h.if_configured else {
            return true;
        };
        // Set for every change with such a hit.
        let sets = |c: &Configuration| match p.configured.as_deref() {
            Some(k) => c.sets(&k.modules, &p.kind, &k.name, attr),
            None => Sets::NotFound,
        };
        match config.map(sets) {
            Some(Sets::No) => false,
            Some(Sets::Yes) => true,
            Some(Sets::NotFound) => {
                h.detail.push_str(" (resource not found in the plan's configuration; assumed configured)");
                true
            }
            None => {
                assumed_no_config = true;
                h.detail.push_str(" (the plan has no configuration section; assumed configured)");
                true
            }
        }
    });
    assumed_no_config
}

/// Applies the exemptions that match `p`: each reason goes to the first
/// exemption that accepts it, is recorded as exempted, and its hits are
/// dropped. Marks the exemptions `used`.
fn exempt(
    exempted: &mut Vec<Exempted>,
    changes: &mut Option<Vec<Judged>>,
    p: &mut Pending,
    rules: &PlanRules,
    used: &mut [bool],
) {
    let mut accepted: Vec<(Reason, &Exemption)> = Vec::new();
    for (i, ex) in rules.exemptions.iter().enumerate() {
        if !glob_match(&ex.address, &p.address) {
            continue;
        }
        for h in &p.hits {
            if ex.reasons.contains(&h.reason) && !accepted.iter().any(|(r, _)| *r == h.reason) {
                accepted.push((h.reason, ex));
                used[i] = true;
            }
        }
    }
    let mut by_exemption: Vec<(&Exemption, Vec<Reason>)> = Vec::new();
    for (r, ex) in &accepted {
        match by_exemption.iter_mut().find(|(e, _)| std::ptr::eq(*e, *ex)) {
            Some((_, rs)) => rs.push(*r),
            None => by_exemption.push((ex, vec![*r])),
        }
    }
    for (ex, mut reasons) in by_exemption {
        reasons.sort();
        if let (Some(i), Some(changes)) = (p.change, changes.as_mut()) {
            changes[i].exempted.push(exempted.len());
        }
        exempted.push(Exempted {
            address: p.address.clone(),
            kind: p.kind.to_string(),
            actions: p.actions.names(),
            reasons,
            justification: ex.justification.clone(),
            expires: ex.expires,
        });
    }
    p.hits.retain(|h| !accepted.iter().any(|(r, _)| *r == h.reason));
}

/// The finding of a change with hits left: its reasons, the highest
/// severity, and the distinct details, overall and (when there are several
/// reasons) by reason.
fn finding_of(p: Pending) -> Finding {
    let mut reasons: Vec<Reason> = p.hits.iter().map(|h| h.reason).collect();
    reasons.sort();
    reasons.dedup();
    let severity = p.hits.iter().map(|h| h.severity).max().expect("at least one hit");
    let distinct = |hits: &mut dyn Iterator<Item = &Hit>| {
        let mut details: Vec<&str> = Vec::new();
        for h in hits {
            if !details.contains(&h.detail.as_str()) {
                details.push(&h.detail);
            }
        }
        details.join("; ").into_boxed_str()
    };
    let several = if reasons.len() > 1 {
        reasons
            .iter()
            .map(|r| ReasonHit {
                reason: *r,
                severity: p
                    .hits
                    .iter()
                    .filter(|h| h.reason == *r)
                    .map(|h| h.severity)
                    .max()
                    .expect("a reason of a hit"),
                detail: distinct(&mut p.hits.iter().filter(|h| h.reason == *r)),
            })
            .collect()
    } else {
        Box::default()
    };
    let detail = distinct(&mut p.hits.iter());
    Finding {
        address: p.address,
        kind: p.kind,
        actions: p.actions.names().into_boxed_slice(),
        reasons: reasons.into_boxed_slice(),
        severity,
        detail,
        several,
    }
}

/// The report's notes on settling: a configuration assumed, exemptions
/// expired, and exemptions that matched nothing.
fn settle_notes(report: &mut Report, rules: &PlanRules, used: &[bool], assumed_no_config: bool) {
    if assumed_no_config {
        report.notes.push(Note {
            kind: NoteKind::Assumption,
            address: "configuration".into(),
            detail: "the plan has no `configuration` section; values unknown until apply were treated as configured"
                .into(),
        });
    }
    for ex in &rules.expired {
        report.notes.push(Note {
            kind: NoteKind::ExemptionExpired,
            address: ex.address.clone(),
            detail: format!("expired on {}; the change is judged without it. Renew it or remove it.", ex.expires),
        });
    }
    for (ex, used) in rules.exemptions.iter().zip(used) {
        if !used {
            report.notes.push(Note {
                kind: NoteKind::ExemptionUnused,
                address: ex.address.clone(),
                detail: "matched nothing in this plan".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: &str) -> Result<Report, PlanError> {
        check(doc.as_bytes(), &PlanRules::default())
    }

    #[test]
    fn duplicate_top_level_keys_are_refused() {
        let e = run(r#"{"format_version":"1.2","resource_changes":[],"resource_changes":[]}"#).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
    }

    #[test]
    fn plan_without_resource_changes_has_no_changes() {
        let r = run(r#"{"format_version":"1.2","planned_values":{}}"#).unwrap();
        assert!(!r.risky);
        assert_eq!(r.summary, Summary::default());
    }

    #[test]
    fn the_junit_suite_has_a_case_per_change_judged_and_a_failure_per_risky_one() {
        let doc = r#"{"format_version":"1.2","planned_values":{},"resource_changes":[
          {"address":"aws_s3_bucket.logs","mode":"managed","type":"aws_s3_bucket","name":"logs","change":{"actions":["create"],"after":{}}},
          {"address":"aws_iam_role.deploy","mode":"managed","type":"aws_iam_role","name":"deploy","change":{"actions":["update"],"before":{},"after":{}}},
          {"address":"aws_security_group.web","mode":"managed","type":"aws_security_group","name":"web","change":{"actions":["delete"],"before":{}}},
          {"address":"aws_instance.same","mode":"managed","type":"aws_instance","name":"same","change":{"actions":["no-op"]}},
          {"address":"data.aws_iam_policy_document.p","mode":"data","type":"aws_iam_policy_document","name":"p","change":{"actions":["read"]}}
        ]}"#;
        let config = crate::config::Config::parse(
            "[[plan.exemptions]]\naddress = \"aws_security_group.web\"\nreasons = [\"security_group\", \"delete\"]\njustification = \"retired <web>\"\nexpires = 2099-01-01\n",
            "t.toml",
            crate::base::time::Date::new(2026, 11, 27).unwrap(),
        )
        .unwrap();
        let report = check_listing(doc.as_bytes(), &config.plan).unwrap();
        let changes = report.changes.as_ref().unwrap();
        let addresses: Vec<&str> = changes.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(addresses, ["aws_s3_bucket.logs", "aws_iam_role.deploy", "aws_security_group.web"]);
        let suite = report.to_junit("default");
        let c = suite.counts();
        assert_eq!((c.tests, c.failures, c.errors), (3, 1, 0), "{suite:?}");
        let role = &suite.cases[1];
        assert_eq!(role.name, "aws_iam_role.deploy");
        let crate::base::junit::CaseResult::Failed(p) = &role.result else { panic!("{role:?}") };
        assert!(p.kind.split(',').any(|k| k == "iam"), "{p:?}");
        assert!(p.message.contains("needs review: iam"), "{p:?}");
        assert_eq!(suite.cases[0].result, crate::base::junit::CaseResult::Passed);
        assert_eq!(suite.cases[2].result, crate::base::junit::CaseResult::Passed);
        assert!(suite.cases[2].output.as_deref().unwrap().contains("retired <web>"));
        // Without the listing, the findings and exemptions alone.
        let plain = check(doc.as_bytes(), &config.plan).unwrap();
        assert!(plain.changes.is_none());
        let c = plain.to_junit("default").counts();
        assert_eq!((c.tests, c.failures), (2, 1));
    }
}
