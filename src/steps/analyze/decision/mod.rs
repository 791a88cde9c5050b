//! The approval policy (README.md, "The decision"): a pure function from the evidence
//! record to a decision — recommend approval, or require a person — with
//! reasons. `changegate decide` runs it offline on a stored record;
//! `changegate analyze` runs the very same function on the record it has
//! just collected, so an auditor re-running a decision gets the same
//! verdict.
//!
//! The policy applied is the one stored in the record (`policy.content`),
//! read as of the record's decision time: never today's file, and never the
//! commit under review's.
//!
//! Approval is recommended only when every check passes: two-person review
//! of every commit, the scan gate, and the policy rules. A person must
//! approve on a first deploy, while another ticket or deploy of the same
//! repository and environment is pending, when the policy files changed in
//! the range, and on any failed or undecidable check. The bot approves on
//! its own only when, on top of that, `[approval] auto_approve` is set.
//!
//! The [`Decision`], its codes and the reports it combines are plain data
//! in [`crate::model::analysis`].

pub(crate) mod render;

use std::collections::BTreeSet;

use crate::base::time::{Date, Timestamp};
use crate::config::{Config, ConfigError};
use crate::model::analysis::{
    DECISION_VERSION, Decision, PolicyCode, PolicyRef, Reason, Recommendation, ReviewReport, Risk, ScanReport, Verdict,
};
use crate::model::evidence::{Evidence, GapArea};
use crate::steps::analyze::review;
use crate::steps::analyze::scan_gate;

/// The record could not be decided on (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The policy stored in the record does not parse.
    #[error("the policy stored in the record ({source_name}) is invalid: {error}")]
    Policy {
        /// Where the policy came from.
        source_name: String,
        /// Why.
        error: ConfigError,
    },
    /// The record's decision time is not a timestamp.
    #[error("the record's collected_at {0:?} is not an RFC 3339 timestamp")]
    Time(String),
}

/// The policy stored in a record, as of the record's decision time.
pub(crate) fn stored_policy(e: &Evidence) -> Result<Config, DecideError> {
    let at = Timestamp::parse(&e.collected_at).ok_or_else(|| DecideError::Time(e.collected_at.clone()))?;
    let today: Date = at.date();
    Config::parse(&e.policy.content, &e.policy.source, today)
        .map_err(|error| DecideError::Policy { source_name: e.policy.source.clone(), error })
}

/// Decides on a record with the policy it stores.
pub fn decide(e: &Evidence) -> Result<Decision, DecideError> {
    let config = stored_policy(e)?;
    Ok(decide_with(e, &config))
}

/// Decides on a record with a given policy (the pure core of [`decide`]).
pub fn decide_with(e: &Evidence, config: &Config) -> Decision {
    let review = review::verify(e, &config.review);
    let scan = scan_gate::gate(e, &config.scan);
    let mut reasons: Vec<Reason> = Vec::new();
    review_reason(&review, &mut reasons);
    scan_reason(&scan, &mut reasons);
    change_reasons(e, &mut reasons);
    stream_reasons(e, &mut reasons);
    drift_reason(e, &mut reasons);
    // Change windows and freezes, at the record's decision time.
    let at = crate::base::time::Timestamp::parse(&e.collected_at).unwrap_or(crate::base::time::Timestamp(0));
    match crate::config::windows::check(&config.windows, &config.freezes, &e.binding.environment, at) {
        crate::config::windows::WindowCheck::Open => {}
        crate::config::windows::WindowCheck::Outside(why) => add(&mut reasons, PolicyCode::OutsideChangeWindow, why),
        crate::config::windows::WindowCheck::Frozen(why) => add(&mut reasons, PolicyCode::ChangeFreeze, why),
    }
    let policy_gaps: Vec<&str> = e.gaps.iter().filter(|g| g.area == GapArea::Policy).map(|g| g.what.as_str()).collect();
    if !policy_gaps.is_empty() {
        add(&mut reasons, PolicyCode::EvidenceIncomplete, format!("not read: {}", policy_gaps.join(", ")));
    }

    // Facts the checks relied on must agree with the rest of the record.
    let contradictions = crate::model::evidence::consistency::contradictions(e);
    if !contradictions.is_empty() {
        add(
            &mut reasons,
            PolicyCode::EvidenceInconsistent,
            format!("the record contradicts itself: {}", contradictions.join("; ")),
        );
    }

    let verdict = review.verdict.max(scan.verdict).max(if policy_gaps.is_empty() && contradictions.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Undecidable
    });
    let recommendation = if reasons.is_empty() { Recommendation::Approve } else { Recommendation::ManualReview };
    let risk = risk_of(verdict, &reasons);
    Decision {
        schema_version: DECISION_VERSION,
        ticket: e.ticket.clone(),
        repository: e.repository.clone(),
        environment: e.binding.environment.clone(),
        commit: e.binding.commit.clone(),
        base: e.base.as_ref().map(|b| b.commit.clone()),
        decided_at: e.collected_at.clone(),
        verdict,
        recommendation,
        auto_approve: recommendation == Recommendation::Approve && config.approval.auto_approve,
        reasons,
        risk,
        review,
        scan,
        required_approvers: u32::try_from(config.jira.required_approvers).unwrap_or(u32::MAX),
        excluded_github_ids: excluded_ids(e),
        evidence_digest: e.digest(),
        policy: PolicyRef { source: e.policy.source.clone(), digest: e.policy.digest },
    }
}

/// Adds the reason `code` with its `detail`.
fn add(reasons: &mut Vec<Reason>, code: PolicyCode, detail: String) {
    reasons.push(Reason { code, detail });
}

/// The reason a review that did not pass gives: the range's findings and
/// the commits not approved (none for a first deploy alone).
fn review_reason(review: &ReviewReport, reasons: &mut Vec<Reason>) {
    let main =
        |findings: &[crate::model::analysis::Finding]| findings.first().map(|f| format!("{}: {}", f.code, f.detail));
    match review.verdict {
        Verdict::Pass => {}
        v => {
            let failing: Vec<String> = review
                .landings
                .iter()
                .filter(|l| l.verdict != Verdict::Pass)
                .map(|l| {
                    format!("{} {}", &l.sha[..l.sha.len().min(12)], l.findings.first().map_or("", |f| f.code.as_str()))
                })
                .collect();
            let range = review
                .findings
                .iter()
                .filter(|f| f.code != crate::model::analysis::Code::FirstDeploy)
                .map(|f| format!("{}: {}", f.code, f.detail))
                .collect::<Vec<_>>();
            let mut parts = range;
            if !failing.is_empty() {
                parts.push(format!("{} commit(s) not approved: {}", failing.len(), failing.join(", ")));
            }
            let only_first_deploy =
                parts.is_empty() && review.findings.iter().any(|f| f.code == crate::model::analysis::Code::FirstDeploy);
            if !only_first_deploy {
                let code = if v == Verdict::Fail { PolicyCode::ReviewFailed } else { PolicyCode::ReviewUndecidable };
                add(
                    reasons,
                    code,
                    if parts.is_empty() { main(&review.findings).unwrap_or_default() } else { parts.join("; ") },
                );
            }
        }
    }
}

/// The reason a scan gate that did not pass gives: its findings.
fn scan_reason(scan: &ScanReport, reasons: &mut Vec<Reason>) {
    match scan.verdict {
        Verdict::Pass => {}
        v => {
            let code = if v == Verdict::Fail { PolicyCode::ScanFailed } else { PolicyCode::ScanUndecidable };
            let details: Vec<String> = scan.findings.iter().map(|f| format!("{}: {}", f.code, f.detail)).collect();
            add(reasons, code, details.join("; "));
        }
    }
}

/// The reasons of what changed since the last approved deploy that a
/// person must review: the policy itself and the pipeline; or that there
/// is no such deploy.
fn change_reasons(e: &Evidence, reasons: &mut Vec<Reason>) {
    // The policy itself changed since the last approved deploy.
    if e.base.is_some() {
        let changed: Vec<&str> =
            e.policy_files.files.iter().filter(|(_, c)| c.before != c.after).map(|(path, _)| path.as_str()).collect();
        if !changed.is_empty() {
            add(
                reasons,
                PolicyCode::PolicyConfigChanged,
                format!("{} changed since the last approved deploy", changed.join(", ")),
            );
        }
        // The pipeline wires the gate: a change to it is a person's to review.
        let pipeline: Vec<&str> = e
            .pipeline_files
            .files
            .iter()
            .filter(|(path, c)| c.before != c.after && !changed.contains(&path.as_str()))
            .map(|(path, _)| path.as_str())
            .collect();
        if !pipeline.is_empty() {
            add(
                reasons,
                PolicyCode::PipelineConfigChanged,
                format!("{} changed since the last approved deploy", pipeline.join(", ")),
            );
        }
    }
    if e.base.is_none() {
        add(
            reasons,
            PolicyCode::FirstDeploy,
            format!("no earlier approved deploy of {} to {}", e.repository, e.binding.environment),
        );
    }
}

/// The reasons other tickets of the stream give: deploying now, or open.
fn stream_reasons(e: &Evidence, reasons: &mut Vec<Reason>) {
    let running: Vec<&str> =
        e.pending.iter().filter(|p| p.workflows_active == Some(true)).map(|p| p.key.as_str()).collect();
    if !running.is_empty() {
        add(reasons, PolicyCode::RunningDeploy, format!("deploying now: {}", running.join(", ")));
    }
    if !e.pending.is_empty() {
        let keys: Vec<String> = e.pending.iter().map(|p| format!("{} ({})", p.key, p.status)).collect();
        add(
            reasons,
            PolicyCode::PendingTicket,
            format!("open for the same repository and environment: {}", keys.join(", ")),
        );
    }
}

/// The reason open drift of the environment gives: a person decides
/// whether this deploy may overwrite or re-apply those changes.
fn drift_reason(e: &Evidence, reasons: &mut Vec<Reason>) {
    if !e.open_drift.is_empty() {
        let tickets: Vec<String> = e
            .open_drift
            .iter()
            .map(|d| {
                let what = if d.stream_unknown {
                    format!("stream unknown, found {}", d.found_at)
                } else {
                    format!(
                        "stack {}: {} object(s) changed outside Terraform since {}",
                        d.stack, d.resources, d.found_at
                    )
                };
                match &d.note {
                    Some(note) => format!("{} ({what}; {note})", d.key),
                    None => format!("{} ({what})", d.key),
                }
            })
            .collect();
        add(
            reasons,
            PolicyCode::DriftOpen,
            format!(
                "drift is open for {}: {}; this deploy would overwrite or re-apply those changes, so a person decides",
                e.binding.environment,
                tickets.join(", ")
            ),
        );
    }
}

/// The risk: high on a failed verdict or a changed policy or pipeline, low
/// without reasons, else medium.
fn risk_of(verdict: Verdict, reasons: &[Reason]) -> Risk {
    if verdict == Verdict::Fail
        || reasons.iter().any(|r| matches!(r.code, PolicyCode::PolicyConfigChanged | PolicyCode::PipelineConfigChanged))
    {
        Risk::High
    } else if reasons.is_empty() {
        Risk::Low
    } else {
        Risk::Medium
    }
}

/// Everyone whose work is being deployed: their approval of the ticket
/// does not count (no self-approval).
pub(crate) fn excluded_ids(e: &Evidence) -> Vec<u64> {
    let mut ids: BTreeSet<u64> = BTreeSet::new();
    for c in &e.range.commits {
        ids.extend(c.author_id);
        ids.extend(c.committer_id);
    }
    for p in e.pulls.values() {
        ids.extend(p.author.as_ref().and_then(|a| a.id));
        for c in &p.commits {
            ids.extend(c.author_id);
            if !c.committed_via_web {
                ids.extend(c.committer_id);
            }
        }
        for t in &p.timeline {
            if matches!(t.kind.as_str(), "HeadRefForcePushedEvent" | "PullRequestCommit") {
                ids.extend(t.actor.as_ref().and_then(|a| a.id));
            }
        }
    }
    ids.retain(|id| *id != 0 && *id != review::approvals::GHOST_ID);
    ids.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::binding::{Binding, BuildJob, DeployAction};
    use crate::model::evidence::CodeScanningAnalysis;
    use crate::model::evidence::{Base, FileChange, Gap, PendingTicket};

    const D: &str = "d00d00d00d00d00d00d00d00d00d00d00d00d00d";

    /// One row of the decision table: the facts, and what must come out.
    struct Row {
        review: Verdict,
        scan: Verdict,
        first_deploy: bool,
        pending: Option<bool>,
        policy_changed: bool,
        policy_gap: bool,
        auto: bool,
        want: Recommendation,
        want_auto: bool,
        want_codes: &'static [&'static str],
        want_risk: Risk,
    }

    /// Every check passes; auto-approval on.
    fn clean_row() -> Row {
        Row {
            review: Verdict::Pass,
            scan: Verdict::Pass,
            first_deploy: false,
            pending: None,
            policy_changed: false,
            policy_gap: false,
            auto: true,
            want: Recommendation::Approve,
            want_auto: true,
            want_codes: &[],
            want_risk: Risk::Low,
        }
    }

    fn evidence(r: &Row) -> Evidence {
        let binding = Binding {
            project_slug: "gh/acme/web".into(),
            environment: "production".into(),
            action: DeployAction::Apply,
            branch: "main".into(),
            commit: D.into(),
            pipeline_id: "p".into(),
            pipeline_number: 2,
            build_job: BuildJob { name: "build".into(), number: 5, id: "j".into() },
        };
        let mut e = Evidence::skeleton("PRODCM-2", binding, "2026-11-27T12:00:00Z");
        e.branch.default_branch = Some("main".into());
        e.branch.tip_status = Some("identical".into());
        if !r.first_deploy {
            // Diverged from an older commit, or the very commit deployed before.
            let (status, base) = match r.review {
                Verdict::Fail => ("diverged", "b".repeat(40)),
                _ => ("identical", D.to_owned()),
            };
            e.base = Some(Base { ticket: "PRODCM-1".into(), commit: base, source: "test".into() });
            e.range.status = status.into();
        }
        if r.review == Verdict::Undecidable {
            e.gaps.push(Gap { area: GapArea::Review, what: "range".into(), why: "timeout".into() });
        }
        let mut a = CodeScanningAnalysis {
            id: 1,
            commit_sha: D.into(),
            reference: "refs/heads/main".into(),
            tool_name: "CodeQL".into(),
            category: None,
            error: String::new(),
            results_count: 0,
            created_at: String::new(),
            runs: None,
            sarif_error: None,
        };
        match r.scan {
            Verdict::Fail => a.error = "extractor failed".into(),
            Verdict::Undecidable => {
                e.gaps.push(Gap { area: GapArea::Scan, what: "jobs of workflow w".into(), why: "503".into() });
            }
            Verdict::Pass => {}
        }
        e.scans.code_scanning.push(a);
        if let Some(active) = r.pending {
            e.pending.push(PendingTicket {
                key: "PRODCM-3".into(),
                status: "Open".into(),
                pipeline_number: Some(3),
                workflows_active: Some(active),
            });
        }
        let old = Some("[scan]\n".to_owned());
        let new = if r.policy_changed { Some("[scan]\nrequired = []\n".to_owned()) } else { old.clone() };
        e.policy_files.files.insert("changegate.toml".into(), FileChange { before: old, after: new });
        if r.policy_gap {
            e.gaps.push(Gap { area: GapArea::Policy, what: "pending tickets".into(), why: "503".into() });
        }
        e.policy.content = format!("[approval]\nauto_approve = {}\n", r.auto);
        e
    }

    #[test]
    fn the_decision_table() {
        use Recommendation::{Approve, ManualReview};
        use Verdict::{Fail, Pass, Undecidable};
        let row = |review, scan, auto, want, want_auto, want_codes, want_risk| Row {
            review,
            scan,
            first_deploy: false,
            pending: None,
            policy_changed: false,
            policy_gap: false,
            auto,
            want,
            want_auto,
            want_codes,
            want_risk,
        };
        let rows = vec![
            // Every check passes: approve; on its own only when enabled.
            row(Pass, Pass, true, Approve, true, &[], Risk::Low),
            row(Pass, Pass, false, Approve, false, &[], Risk::Low),
            // Any failed or undecidable check: a person.
            row(Fail, Pass, true, ManualReview, false, &["review_failed"], Risk::High),
            row(Undecidable, Pass, true, ManualReview, false, &["review_undecidable"], Risk::Medium),
            row(Pass, Fail, true, ManualReview, false, &["scan_failed"], Risk::High),
            row(Pass, Undecidable, true, ManualReview, false, &["scan_undecidable"], Risk::Medium),
            row(Fail, Fail, true, ManualReview, false, &["review_failed", "scan_failed"], Risk::High),
            Row {
                first_deploy: true,
                want_codes: &["first_deploy"],
                ..row(Pass, Pass, true, ManualReview, false, &[], Risk::Medium)
            },
            Row {
                pending: Some(false),
                want_codes: &["pending_ticket"],
                ..row(Pass, Pass, true, ManualReview, false, &[], Risk::Medium)
            },
            Row {
                pending: Some(true),
                want_codes: &["running_deploy", "pending_ticket"],
                ..row(Pass, Pass, true, ManualReview, false, &[], Risk::Medium)
            },
            Row {
                policy_changed: true,
                want_codes: &["policy_config_changed"],
                ..row(Pass, Pass, true, ManualReview, false, &[], Risk::High)
            },
            Row {
                policy_gap: true,
                want_codes: &["evidence_incomplete"],
                ..row(Pass, Pass, true, ManualReview, false, &[], Risk::Medium)
            },
        ];
        for (i, r) in rows.iter().enumerate() {
            let e = evidence(r);
            let d = decide(&e).unwrap();
            let codes: Vec<&str> = d.reasons.iter().map(|x| x.code.as_str()).collect();
            assert_eq!(d.recommendation, r.want, "row {i}: {codes:?}");
            assert_eq!(d.auto_approve, r.want_auto, "row {i}");
            assert_eq!(codes, r.want_codes, "row {i}");
            assert_eq!(d.risk, r.want_risk, "row {i}");
            let checks_pass = r.review == Pass && r.scan == Pass && !r.policy_gap && !r.first_deploy;
            assert_eq!(d.verdict == Verdict::Pass, checks_pass, "row {i}");
        }
    }

    #[test]
    fn the_analysis_says_which_run_satisfied_each_required_scanner() {
        let mut e = evidence(&clean_row());
        e.policy.content = "[scan]\nrequired = [\"codeql\", \"Snyk\"]\n".into();
        let d = decide(&e).unwrap();
        let ok = "required \"codeql\" satisfied by CodeQL (code-scanning analysis 1)";
        let missing = "required \"Snyk\" not satisfied: no run matching \"Snyk\" for d00d00d00d00; seen: CodeQL";
        let text = render::text(&d, &e);
        assert!(text.contains(&format!("\n  {ok}\n  {missing}\n")), "{text}");
        let md = render::markdown(&d, &e);
        assert!(md.contains(&format!("\n- {ok}\n- {missing}\n")), "{md}");
        let (adf, _) = render::adf(&d, &e, "a.md", "[m]");
        let adf = adf.to_string();
        assert!(adf.contains(&serde_json::to_string(ok).unwrap()), "{adf}");
        assert!(adf.contains(&serde_json::to_string(missing).unwrap()), "{adf}");
    }

    #[test]
    fn the_stored_policy_decides_as_of_the_record_time() {
        let r = clean_row();
        let mut e = evidence(&r);
        // A policy that does not parse cannot be decided on (exit 2).
        e.policy.content = "[approval]\nauto_approve = \"yes\"\n".into();
        assert!(matches!(decide(&e), Err(DecideError::Policy { .. })));
        e.policy.content = "[approval]\nauto_approve = true\n".into();
        e.collected_at = "yesterday".into();
        assert!(matches!(decide(&e), Err(DecideError::Time(_))));
        // The same record decides the same, every time.
        let e = evidence(&r);
        assert_eq!(decide(&e).unwrap(), decide(&e).unwrap());
        assert_eq!(decide(&e).unwrap().evidence_digest, e.digest());
    }

    #[test]
    fn authors_committers_and_pushers_are_excluded() {
        use crate::model::evidence::{Actor, PullCommit, PullFacts, TimelineEvent};
        let r = clean_row();
        let mut e = evidence(&r);
        let actor = |id| Some(Actor { kind: "User".into(), login: format!("u{id}"), id: Some(id) });
        e.pulls.insert(
            "1".into(),
            PullFacts {
                number: 1,
                merged: true,
                merged_at: None,
                base_ref: "main".into(),
                base_repository: "acme/web".into(),
                head: "h".into(),
                merge_commit: None,
                author: actor(1),
                files: Vec::new(),
                files_complete: true,
                commits: vec![PullCommit {
                    oid: "c".into(),
                    parents: Vec::new(),
                    tree: "t".into(),
                    parent_trees: Vec::new(),
                    author_id: Some(2),
                    committer_id: Some(3),
                    committed_via_web: false,
                    signed_by_github: false,
                    changed_files: Some(1),
                }],
                reviews: Vec::new(),
                timeline: vec![TimelineEvent {
                    kind: "HeadRefForcePushedEvent".into(),
                    created_at: String::new(),
                    actor: actor(4),
                    before: None,
                    after: None,
                    review: None,
                    previous_state: None,
                    previous_ref: None,
                    current_ref: None,
                }],
                source: String::new(),
            },
        );
        assert_eq!(excluded_ids(&e), [1, 2, 3, 4]);
    }
}
