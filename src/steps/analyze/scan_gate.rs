//! The security scan gate (README.md, "The decision"; docs/evidence.md,
//! `scans`): a pure function from the evidence record to a verdict
//! on the deployed commit's scans.
//!
//! Only positive evidence counts: a scanner run bound to the exact commit
//! that finished without tool errors. Evidence comes from
//! - the SARIF artifacts of the deploy's scan jobs (`[scan] jobs`): bound
//!   through the job, which ran in the ticket's pipeline; the job must have
//!   succeeded, and a run naming another commit in its
//!   `versionControlProvenance` is not evidence for this one;
//! - SARIF files given by path (`--sarif`): taken as given by whoever ran
//!   the analysis in the deploy's job, unless they name another commit;
//! - GitHub code-scanning analyses of the commit (`[scan] code_scanning`).
//!
//! "No alerts" is not evidence: a required scanner without a bound run is
//! `scan_missing`. A `[scan] required` entry is satisfied by a bound run of
//! a scanner whose name it matches (the rule: `config::scan`, README
//! `[scan]`), and each entry needs a run of its own: entries are matched to
//! distinct runs (a maximum bipartite matching), so a broad pattern cannot
//! lend its run to another entry. The report says which run satisfied
//! which entry, and which scanner names were seen when one is not.
//!
//! A result blocks when it is a finding (`kind` fail, open or review), not
//! suppressed by accepted suppressions only, and its rule's
//! `security-severity` is at or above `blocking_severity` — or, without
//! one, its effective level is at or above `blocking_level`. A baseline
//! state never excuses a result: old debt still ships.
//!
//! The report and its codes are plain data in [`crate::model::analysis`].

use std::collections::BTreeMap;

use crate::base::sarif::RunFacts;
use crate::config::scan::{RequiredScanner, ScanConfig};
use crate::model::analysis::{Blocking, RequiredReport, ScanCode, ScanFinding, ScanReport, ScannerReport, Verdict};
use crate::model::evidence::{Evidence, GapArea, JobFact};

impl ScanCode {
    /// Which reason is the main one among failures: the most specific.
    fn rank(self) -> u8 {
        match self {
            ScanCode::ScanBlockingFinding => 0,
            ScanCode::ScanIncomplete => 1,
            ScanCode::ScanJobNotSuccessful => 2,
            ScanCode::ScanNotForDeploySha => 3,
            ScanCode::ScanUnreadable => 4,
            ScanCode::ScanMissing => 5,
            ScanCode::EvidenceIncomplete => 6,
            ScanCode::ScanPassed => 7,
        }
    }

    fn verdict(self) -> Verdict {
        match self {
            ScanCode::ScanPassed => Verdict::Pass,
            ScanCode::EvidenceIncomplete => Verdict::Undecidable,
            _ => Verdict::Fail,
        }
    }
}

fn key(tool: &str) -> String {
    tool.trim().to_lowercase()
}

/// Is this result a finding that blocks under `cfg`?
pub fn blocks(r: &crate::base::sarif::ResultFacts, cfg: &ScanConfig) -> bool {
    let finding = matches!(r.kind.as_str(), "fail" | "open" | "review");
    if !finding || r.suppressed {
        return false;
    }
    match r.security_severity {
        Some(s) => s >= cfg.blocking_severity,
        None => ScanConfig::level_rank(&r.level) >= ScanConfig::level_rank(&cfg.blocking_level),
    }
}

#[derive(Default)]
struct Acc {
    tool: String,
    /// One element per run bound to the commit.
    evidence: Vec<String>,
    results: usize,
    blocking: Vec<Blocking>,
    findings: Vec<ScanFinding>,
    bound: bool,
    satisfies: Vec<String>,
    /// Runs of files given by path that name no commit: not counted, and
    /// reported only when no other run of the scanner is bound.
    unbound: Vec<String>,
}

impl Acc {
    fn finding(&mut self, code: ScanCode, detail: String) {
        self.findings.push(ScanFinding { code, detail });
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Judges the scans of the deployed commit.
pub fn gate(e: &Evidence, cfg: &ScanConfig) -> ScanReport {
    let commit = e.binding.commit.to_ascii_lowercase();
    let mut gate_findings: Vec<ScanFinding> = Vec::new();
    let mut scanners: BTreeMap<String, Acc> = BTreeMap::new();
    let gaps = scan_gaps(e, cfg);
    if !gaps.is_empty() {
        gate_findings
            .push(ScanFinding { code: ScanCode::EvidenceIncomplete, detail: format!("not read: {}", gaps.join(", ")) });
    }
    let latest = judge_scan_jobs(e, cfg, &mut gate_findings);
    judge_sarif_documents(e, cfg, &latest, &commit, &mut scanners, &mut gate_findings);
    if cfg.code_scanning {
        judge_code_scanning(e, cfg, &commit, &mut scanners);
    }

    // Required scanners, each with a run of its own; or at least one.
    let required = required_reports(&cfg.required, &mut scanners, &commit, &mut gate_findings);
    if cfg.required.is_empty() && !scanners.values().any(|s| s.bound) {
        gate_findings.push(ScanFinding {
            code: ScanCode::ScanMissing,
            detail: format!("no scanner run for {}: absence of alerts is not evidence", short(&commit)),
        });
    }

    let scanners = scanner_reports(scanners, cfg);
    let (verdict, findings) = main_findings(gate_findings, &scanners, !gaps.is_empty(), &commit);
    ScanReport {
        verdict,
        findings,
        scanners,
        required,
        blocking_severity: cfg.blocking_severity,
        blocking_level: cfg.blocking_level.clone(),
    }
}

/// The accumulator of the scanner named `tool` (compared by [`key`]).
fn scanner<'a>(scanners: &'a mut BTreeMap<String, Acc>, tool: &str) -> &'a mut Acc {
    scanners.entry(key(tool)).or_insert_with(|| Acc { tool: tool.trim().to_owned(), ..Acc::default() })
}

/// Facts that could not be read leave the gate undecidable — except code
/// scanning facts when code scanning is not evidence.
fn scan_gaps<'e>(e: &'e Evidence, cfg: &ScanConfig) -> Vec<&'e str> {
    e.gaps
        .iter()
        .filter(|g| g.area == GapArea::Scan)
        .filter(|g| {
            cfg.code_scanning || !g.what.to_ascii_lowercase().contains("code-scanning") && g.what != "code scanning"
        })
        .map(|g| g.what.as_str())
        .collect()
}

/// Scan jobs: the latest run of each configured job (a rerun adds a
/// workflow to the pipeline; the newest is what the deploy used), which
/// must have succeeded and stored a SARIF artifact.
fn judge_scan_jobs<'e>(
    e: &'e Evidence,
    cfg: &ScanConfig,
    gate_findings: &mut Vec<ScanFinding>,
) -> BTreeMap<&'e str, &'e JobFact> {
    let mut latest: BTreeMap<&str, &JobFact> = BTreeMap::new();
    for j in e.scans.jobs.iter().filter(|j| cfg.jobs.contains(&j.name)) {
        latest.insert(j.name.as_str(), j);
    }
    for name in &cfg.jobs {
        match latest.get(name.as_str()) {
            None => gate_findings.push(ScanFinding {
                code: ScanCode::ScanMissing,
                detail: format!("the scan job {name:?} is not in the deploy's workflows"),
            }),
            Some(j) if j.status != "success" => gate_findings.push(ScanFinding {
                code: ScanCode::ScanJobNotSuccessful,
                detail: format!("the scan job {name:?} is {}", j.status),
            }),
            Some(j) => {
                let mine = |a: &&crate::model::evidence::SarifArtifact| {
                    a.kind == "artifact"
                        && a.workflow_id == j.workflow_id
                        && a.job == j.name
                        && Some(a.job_number) == j.number
                };
                if !e.scans.sarif.iter().any(|a| mine(&a)) {
                    gate_findings.push(ScanFinding {
                        code: ScanCode::ScanMissing,
                        detail: format!("the scan job {name:?} stored no SARIF artifact (*.sarif)"),
                    });
                }
            }
        }
    }
    latest
}

/// SARIF documents: artifacts of the latest successful scan jobs, and files.
fn judge_sarif_documents(
    e: &Evidence,
    cfg: &ScanConfig,
    latest: &BTreeMap<&str, &JobFact>,
    commit: &str,
    scanners: &mut BTreeMap<String, Acc>,
    gate_findings: &mut Vec<ScanFinding>,
) {
    for a in &e.scans.sarif {
        let counted_job = a.kind != "artifact"
            || latest.get(a.job.as_str()).is_some_and(|j| {
                j.status == "success" && j.workflow_id == a.workflow_id && j.number == Some(a.job_number)
            });
        if !counted_job {
            continue;
        }
        let what = if a.kind == "artifact" {
            format!("job {} #{}, artifact {} {}", a.job, a.job_number, a.path, a.digest)
        } else {
            format!("file {} {}", a.path, a.digest)
        };
        let Some(runs) = &a.runs else {
            gate_findings.push(ScanFinding {
                code: ScanCode::ScanUnreadable,
                detail: format!("{what}: {}", a.error.as_deref().unwrap_or("unreadable")),
            });
            continue;
        };
        if runs.is_empty() {
            gate_findings.push(ScanFinding { code: ScanCode::ScanMissing, detail: format!("{what} holds no run") });
        }
        for (i, run) in runs.iter().enumerate() {
            // A scan job's artifact is this pipeline's, so of its commit; a
            // file given by path is bound to the commit only by what it says.
            let source = if a.kind == "artifact" { Bound::BySource } else { Bound::ByRevision };
            let s = scanner(scanners, &run.tool);
            judge_run(s, run, &nth_run(&what, i, runs.len()), (commit, source), cfg);
        }
    }
}

/// GitHub code scanning of the commit.
fn judge_code_scanning(e: &Evidence, cfg: &ScanConfig, commit: &str, scanners: &mut BTreeMap<String, Acc>) {
    for an in &e.scans.code_scanning {
        if an.commit_sha.to_ascii_lowercase() != commit {
            continue;
        }
        let s = scanner(scanners, &an.tool_name);
        let what = format!(
            "code-scanning analysis {}{}",
            an.id,
            an.category.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
        );
        if !an.error.is_empty() {
            s.finding(ScanCode::ScanIncomplete, format!("{what}: {}", an.error));
            continue;
        }
        if an.results_count == 0 {
            s.evidence.push(what);
            s.bound = true;
            continue;
        }
        match (&an.runs, &an.sarif_error) {
            (Some(runs), _) => {
                for (i, run) in runs.iter().enumerate() {
                    judge_run(s, run, &nth_run(&what, i, runs.len()), (commit, Bound::BySource), cfg);
                }
            }
            (None, Some(err)) => s.finding(ScanCode::ScanUnreadable, format!("{what}: {err}")),
            // Results whose severity was not read: a gap says why.
            (None, None) => s.finding(
                ScanCode::ScanUnreadable,
                format!("{what}: {} result(s) whose SARIF was not read", an.results_count),
            ),
        }
    }
}

/// One report per scanner seen, with its own findings and verdict.
fn scanner_reports(scanners: BTreeMap<String, Acc>, cfg: &ScanConfig) -> Vec<ScannerReport> {
    scanners
        .into_values()
        .map(|mut s| {
            if !s.bound {
                for what in std::mem::take(&mut s.unbound) {
                    s.findings.push(ScanFinding { code: ScanCode::ScanNotForDeploySha, detail: what });
                }
            }
            if !s.blocking.is_empty() {
                s.findings.push(ScanFinding {
                    code: ScanCode::ScanBlockingFinding,
                    detail: format!(
                        "{} result(s) at or above the blocking threshold (security-severity >= {:.1}, else level {})",
                        s.blocking.len(),
                        cfg.blocking_severity,
                        cfg.blocking_level
                    ),
                });
            }
            let verdict = s.findings.iter().map(|f| f.code.verdict()).max().unwrap_or(Verdict::Pass);
            ScannerReport {
                tool: s.tool,
                verdict,
                evidence: s.evidence,
                results: s.results,
                blocking: s.blocking,
                findings: s.findings,
                satisfies: s.satisfies,
            }
        })
        .collect()
}

/// The gate's verdict and every reason, the main one first (`scan_passed`
/// alone on a pass).
fn main_findings(
    gate_findings: Vec<ScanFinding>,
    scanners: &[ScannerReport],
    gaps: bool,
    commit: &str,
) -> (Verdict, Vec<ScanFinding>) {
    let mut findings = gate_findings;
    for s in scanners {
        findings.extend(
            s.findings.iter().map(|f| ScanFinding { code: f.code, detail: format!("{}: {}", s.tool, f.detail) }),
        );
    }
    // With facts missing, "no run found" is not known to be true: the gate
    // is undecidable (never a pass) rather than failed, and decides again
    // once the facts can be read.
    if gaps {
        findings.retain(|f| f.code != ScanCode::ScanMissing);
    }
    findings.sort_by_key(|f| (std::cmp::Reverse(f.code.verdict()), f.code.rank()));
    let verdict = findings.iter().map(|f| f.code.verdict()).max().unwrap_or(Verdict::Pass);
    if findings.is_empty() {
        let tools: Vec<&str> = scanners.iter().map(|s| s.tool.as_str()).collect();
        findings.push(ScanFinding {
            code: ScanCode::ScanPassed,
            detail: format!("{} scanned {} with nothing blocking", tools.join(", "), short(commit)),
        });
    }
    (verdict, findings)
}

/// The description of run `i` of `n` in one document or analysis.
fn nth_run(what: &str, i: usize, n: usize) -> String {
    if n > 1 { format!("{what}, run {} of {n}", i + 1) } else { what.to_owned() }
}

/// Binds each required entry to a bound run of its own (runs are the
/// elements of the scanners' `evidence`), records on each scanner which
/// entries its runs satisfy, and adds a `scan_missing` finding for each
/// entry left without one — unless a matching scanner already failed for a
/// reason of its own, which says more.
fn required_reports(
    required: &[RequiredScanner],
    scanners: &mut BTreeMap<String, Acc>,
    commit: &str,
    gate_findings: &mut Vec<ScanFinding>,
) -> Vec<RequiredReport> {
    // The runs bound to the commit: (scanner key, index in its evidence).
    let runs: Vec<(String, usize)> =
        scanners.iter().flat_map(|(k, s)| (0..s.evidence.len()).map(move |i| (k.clone(), i))).collect();
    // An entry's candidates: runs of scanners it matches, those of a
    // scanner it names exactly first (the assignment people expect).
    let candidates: Vec<Vec<usize>> = required
        .iter()
        .map(|r| {
            let mut c: Vec<usize> = (0..runs.len()).filter(|&x| r.matches(&scanners[&runs[x].0].tool)).collect();
            c.sort_by_key(|&x| !r.is_exactly(&scanners[&runs[x].0].tool));
            c
        })
        .collect();
    let owner = assign(&candidates, runs.len());
    let mut bound_to: Vec<Option<usize>> = vec![None; required.len()];
    for (x, o) in owner.iter().enumerate() {
        if let Some(i) = o {
            bound_to[*i] = Some(x);
        }
    }
    let seen: Vec<String> = scanners.values().map(|s| s.tool.clone()).collect();
    let seen = if seen.is_empty() { "none".to_owned() } else { seen.join(", ") };
    let mut reports = Vec::new();
    for (i, r) in required.iter().enumerate() {
        let entry = r.as_str();
        if let Some(x) = bound_to[i] {
            let s = scanners.get_mut(&runs[x].0).expect("a scanner of the list");
            let run = s.evidence[runs[x].1].clone();
            s.satisfies.push(entry.to_owned());
            reports.push(RequiredReport {
                entry: entry.to_owned(),
                detail: format!("required {entry:?} satisfied by {} ({run})", s.tool),
                satisfied_by: Some(s.tool.clone()),
                run: Some(run),
            });
            continue;
        }
        let matching: Vec<&Acc> = scanners.values().filter(|s| r.matches(&s.tool)).collect();
        let failed: Vec<&str> = matching
            .iter()
            .filter(|s| s.findings.iter().any(|f| f.code != ScanCode::ScanMissing))
            .map(|s| s.tool.as_str())
            .collect();
        let mut taken: Vec<String> = candidates[i]
            .iter()
            .filter_map(|&x| {
                owner[x].map(|o| format!("{} satisfies {:?}", scanners[&runs[x].0].tool, required[o].as_str()))
            })
            .collect();
        taken.dedup();
        let detail = if !taken.is_empty() {
            format!(
                "no run of its own matching {entry:?} for {}: each matching run satisfies another entry ({})",
                short(commit),
                taken.join("; ")
            )
        } else if !failed.is_empty() {
            format!("no run matching {entry:?} bound to {}: {} did not pass", short(commit), failed.join(", "))
        } else {
            format!("no run matching {entry:?} for {}; seen: {seen}", short(commit))
        };
        if !taken.is_empty() || failed.is_empty() {
            gate_findings.push(ScanFinding { code: ScanCode::ScanMissing, detail: detail.clone() });
        }
        reports.push(RequiredReport { entry: entry.to_owned(), satisfied_by: None, run: None, detail });
    }
    reports
}

/// A maximum matching of entries to runs (Kuhn's augmenting paths, taking a
/// free run when there is one; the lists are short). `candidates[i]` are the runs entry `i` may take;
/// returns each run's entry.
fn assign(candidates: &[Vec<usize>], runs: usize) -> Vec<Option<usize>> {
    fn augment(i: usize, candidates: &[Vec<usize>], owner: &mut [Option<usize>], visited: &mut [bool]) -> bool {
        // A free run first: earlier entries keep theirs unless they must move.
        if let Some(&x) = candidates[i].iter().find(|&&x| owner[x].is_none()) {
            owner[x] = Some(i);
            return true;
        }
        for &x in &candidates[i] {
            if visited[x] {
                continue;
            }
            visited[x] = true;
            let free = match owner[x] {
                None => true,
                Some(j) => augment(j, candidates, owner, visited),
            };
            if free {
                owner[x] = Some(i);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; runs];
    for i in 0..candidates.len() {
        let mut visited = vec![false; runs];
        augment(i, candidates, &mut owner, &mut visited);
    }
    owner
}

/// Adds one run to a scanner's account.
/// What ties a run to the deployed commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// Where it came from: an artifact of a scan job of the deploy's own
    /// pipeline, or GitHub's analysis of the commit. A revision it names
    /// must still be the commit.
    BySource,
    /// Only the revision the run names (a SARIF file given by path): a run
    /// naming no commit is no scan of the deployed one.
    ByRevision,
}

fn judge_run(s: &mut Acc, run: &RunFacts, what: &str, (commit, bound): (&str, Bound), cfg: &ScanConfig) {
    if !run.revisions.is_empty() && !run.revisions.iter().any(|r| r.to_ascii_lowercase() == commit) {
        s.finding(
            ScanCode::ScanNotForDeploySha,
            format!("{what} scanned {}, not {}", run.revisions.join(", "), short(commit)),
        );
        return;
    }
    if run.revisions.is_empty() && bound == Bound::ByRevision {
        s.unbound.push(format!(
            "{what} names no commit (versionControlProvenance revisionId): a file given by path counts only for the commit it names, {}",
            short(commit)
        ));
        return;
    }
    if run.execution_successful == Some(false) || !run.tool_errors.is_empty() {
        let why = if run.tool_errors.is_empty() {
            "the run did not finish successfully".to_owned()
        } else {
            run.tool_errors.join("; ")
        };
        s.finding(ScanCode::ScanIncomplete, format!("{what}: {why}"));
        return;
    }
    s.bound = true;
    s.evidence.push(what.to_owned());
    for r in &run.results {
        if matches!(r.kind.as_str(), "fail" | "open" | "review") && !r.suppressed {
            s.results += 1;
        }
        if blocks(r, cfg) {
            s.blocking.push(Blocking {
                rule: r.rule.clone(),
                level: r.level.clone(),
                security_severity: r.security_severity,
                location: r.location.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::base::digest::Sha256Digest;
    use crate::model::binding::{Binding, BuildJob, DeployAction};
    use crate::model::evidence::CodeScanningAnalysis;
    use crate::model::evidence::SarifArtifact;

    const D: &str = "d00d00d00d00d00d00d00d00d00d00d00d00d00d";

    fn evidence() -> Evidence {
        let binding = Binding {
            project_slug: "gh/acme/web".into(),
            environment: "production".into(),
            action: DeployAction::Apply,
            branch: "main".into(),
            commit: D.into(),
            pipeline_id: "p".into(),
            pipeline_number: 1,
            build_job: BuildJob { name: "build".into(), number: 1, id: "j".into() },
        };
        Evidence::skeleton("PRODCM-1", binding, "2026-11-27T12:00:00Z")
    }

    fn cfg(jobs: &[&str], required: &[&str]) -> ScanConfig {
        ScanConfig {
            jobs: jobs.iter().map(|s| (*s).to_owned()).collect(),
            required: required.iter().map(|s| s.parse().unwrap()).collect(),
            ..ScanConfig::default()
        }
    }

    fn job(e: &mut Evidence, name: &str, status: &str, number: u64) {
        e.scans.jobs.push(JobFact {
            workflow_id: "w1".into(),
            name: name.into(),
            status: status.into(),
            number: Some(number),
        });
    }

    fn artifact(e: &mut Evidence, job: &str, number: u64, doc: &Value) {
        let bytes = serde_json::to_vec(doc).unwrap();
        let (runs, error) = crate::steps::analyze::collect::read_sarif_bytes(&bytes);
        e.scans.sarif.push(SarifArtifact {
            kind: "artifact".into(),
            workflow_id: "w1".into(),
            job: job.into(),
            job_number: number,
            path: format!("{job}.sarif"),
            digest: Sha256Digest::of(&bytes),
            runs,
            error,
            source: "test".into(),
        });
    }

    fn sarif(tool: &str, results: Value) -> Value {
        json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": tool, "rules": [
            {"id": "high", "properties": {"security-severity": "7.5"}},
            {"id": "medium", "properties": {"security-severity": "6.9"}, "defaultConfiguration": {"level": "error"}},
            {"id": "plain"}]}},
            "invocations": [{"executionSuccessful": true}], "results": results}]})
    }

    fn codes(r: &ScanReport) -> Vec<&'static str> {
        r.findings.iter().map(|f| f.code.as_str()).collect()
    }

    fn analysis(tool: &str, commit: &str, error: &str, results: u64) -> CodeScanningAnalysis {
        CodeScanningAnalysis {
            id: 7,
            commit_sha: commit.into(),
            reference: "refs/heads/main".into(),
            tool_name: tool.into(),
            category: None,
            error: error.into(),
            results_count: results,
            created_at: String::new(),
            runs: None,
            sarif_error: None,
        }
    }

    #[test]
    fn tc69_every_required_scanner_clean_passes() {
        let mut e = evidence();
        job(&mut e, "trivy", "success", 12);
        artifact(&mut e, "trivy", 12, &sarif("Trivy", json!([{"ruleId": "plain", "level": "note"}])));
        e.scans.code_scanning.push(analysis("CodeQL", D, "", 0));
        let r = gate(&e, &cfg(&["trivy"], &["trivy", "codeql"]));
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        assert_eq!(codes(&r), ["scan_passed"]);
    }

    #[test]
    fn tc70_no_evidence_is_scan_missing_not_clean() {
        let e = evidence();
        let r = gate(&e, &cfg(&[], &[]));
        assert_eq!((r.verdict, codes(&r)), (Verdict::Fail, vec!["scan_missing"]));
        let r = gate(&e, &cfg(&["trivy"], &["Trivy"]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(codes(&r).iter().all(|c| *c == "scan_missing"), "{r:?}");
    }

    #[test]
    fn tc71_tc88_runs_for_another_commit_are_not_evidence() {
        let mut e = evidence();
        e.scans.code_scanning.push(analysis("CodeQL", "0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0", "", 0));
        let r = gate(&e, &cfg(&[], &["CodeQL"]));
        assert_eq!(codes(&r), ["scan_missing"]);
        let mut e = evidence();
        job(&mut e, "trivy", "success", 12);
        let mut doc = sarif("Trivy", json!([]));
        doc["runs"][0]["versionControlProvenance"] = json!([{"repositoryUri": "x", "revisionId": "abc123"}]);
        artifact(&mut e, "trivy", 12, &doc);
        let r = gate(&e, &cfg(&["trivy"], &["Trivy"]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(codes(&r).contains(&"scan_not_for_deploy_sha"), "{r:?}");
        // Naming the commit binds it.
        let mut e2 = evidence();
        job(&mut e2, "trivy", "success", 12);
        doc["runs"][0]["versionControlProvenance"] = json!([{"repositoryUri": "x", "revisionId": D.to_uppercase()}]);
        artifact(&mut e2, "trivy", 12, &doc);
        assert_eq!(gate(&e2, &cfg(&["trivy"], &["Trivy"])).verdict, Verdict::Pass);
    }

    #[test]
    fn tc73_tool_errors_and_analysis_errors_are_incomplete() {
        let mut e = evidence();
        e.scans.code_scanning.push(analysis("CodeQL", D, "extractor crashed", 0));
        assert_eq!(codes(&gate(&e, &cfg(&[], &["CodeQL"]))), ["scan_incomplete"]);
        let mut e = evidence();
        job(&mut e, "semgrep", "success", 3);
        let mut doc = sarif("Semgrep", json!([]));
        doc["runs"][0]["invocations"] = json!([{"executionSuccessful": true,
            "toolExecutionNotifications": [{"level": "error", "message": {"text": "timeout"}}]}]);
        artifact(&mut e, "semgrep", 3, &doc);
        let r = gate(&e, &cfg(&["semgrep"], &[]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(codes(&r).contains(&"scan_incomplete"));
        doc["runs"][0]["invocations"] = json!([{"executionSuccessful": false}]);
        let mut e = evidence();
        job(&mut e, "semgrep", "success", 3);
        artifact(&mut e, "semgrep", 3, &doc);
        assert!(codes(&gate(&e, &cfg(&["semgrep"], &[]))).contains(&"scan_incomplete"));
    }

    #[test]
    fn tc74_to_tc80_severity_kind_suppression_and_baseline() {
        let c = cfg(&["s"], &[]);
        let judge = |results: Value| {
            let mut e = evidence();
            job(&mut e, "s", "success", 1);
            artifact(&mut e, "s", 1, &sarif("T", results));
            gate(&e, &c)
        };
        // 74: security-severity 7.5 with level warning blocks.
        assert_eq!(judge(json!([{"ruleId": "high", "level": "warning"}])).verdict, Verdict::Fail);
        // 75: 6.9 under a 7.0 threshold does not, whatever the level.
        assert_eq!(judge(json!([{"ruleId": "medium", "level": "error"}])).verdict, Verdict::Pass);
        // 76: no security-severity and level error blocks.
        assert_eq!(judge(json!([{"ruleId": "plain", "level": "error"}])).verdict, Verdict::Fail);
        // 77: no level anywhere is warning: counted, not blocking.
        let r = judge(json!([{"ruleId": "plain"}]));
        assert_eq!((r.verdict, r.scanners[0].results), (Verdict::Pass, 1));
        // 78: pass, notApplicable, informational are ignored; review and open block.
        for kind in ["pass", "notApplicable", "informational"] {
            assert_eq!(judge(json!([{"ruleId": "high", "kind": kind, "level": "none"}])).verdict, Verdict::Pass);
        }
        for kind in ["review", "open"] {
            assert_eq!(judge(json!([{"ruleId": "high", "kind": kind}])).verdict, Verdict::Fail, "{kind}");
        }
        // 79: only accepted suppressions.
        assert_eq!(
            judge(json!([{"ruleId": "high", "suppressions": [{"kind": "external", "status": "accepted"}]}])).verdict,
            Verdict::Pass
        );
        for st in [
            json!([{"status": "underReview"}]),
            json!([{"status": "rejected"}]),
            json!([{"status": "accepted"}, {"status": "rejected"}]),
        ] {
            assert_eq!(judge(json!([{"ruleId": "high", "suppressions": st}])).verdict, Verdict::Fail);
        }
        // 80: unchanged baseline still ships.
        assert_eq!(judge(json!([{"ruleId": "high", "baselineState": "unchanged"}])).verdict, Verdict::Fail);
    }

    #[test]
    fn tc85_tc87_job_status_decides_not_exit_codes() {
        // 85: a job that exited 0 with HIGH findings in its SARIF fails on the SARIF.
        let mut e = evidence();
        job(&mut e, "trivy", "success", 12);
        artifact(&mut e, "trivy", 12, &sarif("Trivy", json!([{"ruleId": "high"}])));
        let r = gate(&e, &cfg(&["trivy"], &[]));
        assert_eq!(codes(&r), ["scan_blocking_finding"]);
        assert_eq!(r.scanners[0].blocking[0].security_severity, Some(7.5));
        // 87: a scan job that did not succeed.
        for status in ["on_hold", "canceled", "not_run", "failed", "running"] {
            let mut e = evidence();
            job(&mut e, "trivy", status, 12);
            artifact(&mut e, "trivy", 12, &sarif("Trivy", json!([])));
            let r = gate(&e, &cfg(&["trivy"], &["trivy"]));
            assert_eq!(r.verdict, Verdict::Fail, "{status}");
            assert!(codes(&r).contains(&"scan_job_not_successful"), "{status}: {r:?}");
        }
    }

    #[test]
    fn a_rerun_counts_only_the_latest_job() {
        let mut e = evidence();
        job(&mut e, "trivy", "failed", 12);
        artifact(&mut e, "trivy", 12, &sarif("Trivy", json!([{"ruleId": "high"}])));
        e.scans.jobs.push(JobFact {
            workflow_id: "w2".into(),
            name: "trivy".into(),
            status: "success".into(),
            number: Some(15),
        });
        let bytes = serde_json::to_vec(&sarif("Trivy", json!([]))).unwrap();
        let (runs, error) = crate::steps::analyze::collect::read_sarif_bytes(&bytes);
        e.scans.sarif.push(SarifArtifact {
            kind: "artifact".into(),
            workflow_id: "w2".into(),
            job: "trivy".into(),
            job_number: 15,
            path: "trivy.sarif".into(),
            digest: Sha256Digest::of(&bytes),
            runs,
            error,
            source: "test".into(),
        });
        assert_eq!(gate(&e, &cfg(&["trivy"], &["trivy"])).verdict, Verdict::Pass);
    }

    #[test]
    fn unreadable_sarif_and_scan_gaps() {
        let mut e = evidence();
        job(&mut e, "s", "success", 1);
        artifact(&mut e, "s", 1, &json!({"runs": [{"tool": {"driver": {"name": "T"}}, "results": 42}]}));
        assert!(codes(&gate(&e, &cfg(&["s"], &[]))).contains(&"scan_unreadable"));
        let mut e = evidence();
        e.scans.code_scanning.push(analysis("CodeQL", D, "", 0));
        e.gaps.push(crate::model::evidence::Gap {
            area: GapArea::Scan,
            what: "jobs of workflow w1".into(),
            why: "503".into(),
        });
        let r = gate(&e, &cfg(&[], &[]));
        assert_eq!((r.verdict, codes(&r)[0]), (Verdict::Undecidable, "evidence_incomplete"));
        // Code scanning facts do not matter when code scanning is not evidence.
        let mut e = evidence();
        e.gaps.push(crate::model::evidence::Gap {
            area: GapArea::Scan,
            what: "code scanning".into(),
            why: "403".into(),
        });
        job(&mut e, "s", "success", 1);
        artifact(&mut e, "s", 1, &sarif("T", json!([])));
        let c = ScanConfig { code_scanning: false, ..cfg(&["s"], &[]) };
        assert_eq!(gate(&e, &c).verdict, Verdict::Pass);
        assert_eq!(gate(&e, &cfg(&["s"], &[])).verdict, Verdict::Undecidable);
    }

    #[test]
    fn code_scanning_results_are_judged_from_the_analysis_sarif() {
        let mut e = evidence();
        let mut a = analysis("CodeQL", D, "", 1);
        a.runs = crate::base::sarif::read(&sarif("CodeQL", json!([{"ruleId": "high"}]))).ok();
        e.scans.code_scanning.push(a);
        assert_eq!(codes(&gate(&e, &cfg(&[], &["codeql"]))), ["scan_blocking_finding"]);
        let mut e = evidence();
        e.scans.code_scanning.push(analysis("CodeQL", D, "", 3));
        let r = gate(&e, &cfg(&[], &[]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(codes(&r).contains(&"scan_unreadable"), "{r:?}");
    }

    /// Adds `doc` to `e` as a SARIF file given by path.
    fn file(e: &mut Evidence, path: &str, doc: &Value) {
        let bytes = serde_json::to_vec(doc).unwrap();
        let (runs, error) = crate::steps::analyze::collect::read_sarif_bytes(&bytes);
        e.scans.sarif.push(SarifArtifact {
            kind: "file".into(),
            workflow_id: String::new(),
            job: String::new(),
            job_number: 0,
            path: path.into(),
            digest: Sha256Digest::of(&bytes),
            runs,
            error,
            source: format!("file: {path}"),
        });
    }

    #[test]
    fn files_count_only_for_the_commit_they_name() {
        let only = |doc: &Value| {
            let mut e = evidence();
            file(&mut e, "grype.sarif", doc);
            gate(&e, &cfg(&[], &["grype"]))
        };
        // Naming no commit, a file given by path is no scan of the deployed one.
        let mut doc = sarif("Grype", json!([]));
        let r = only(&doc);
        assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
        assert!(codes(&r).contains(&"scan_not_for_deploy_sha"), "{r:?}");
        let provenance = |rev: &str| json!([{"repositoryUri": "https://github.com/acme/web", "revisionId": rev}]);
        doc["runs"][0]["versionControlProvenance"] = provenance(D);
        assert_eq!(only(&doc).verdict, Verdict::Pass);
        doc["runs"][0]["versionControlProvenance"] = provenance(&"e".repeat(40));
        assert!(codes(&only(&doc)).contains(&"scan_not_for_deploy_sha"));
        // The same document as an artifact of the deploy's scan job counts,
        // and a file naming no commit beside it is not counted, not a failure.
        let mut e = evidence();
        job(&mut e, "grype", "success", 3);
        artifact(&mut e, "grype", 3, &sarif("Grype", json!([])));
        assert_eq!(gate(&e, &cfg(&["grype"], &["grype"])).verdict, Verdict::Pass);
        file(&mut e, "old.sarif", &sarif("Grype", json!([{"ruleId": "high"}])));
        let r = gate(&e, &cfg(&["grype"], &["grype"]));
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
    }

    /// A record with one successful scan job per tool, each storing a clean
    /// SARIF run of that tool.
    fn clean_runs(tools: &[&str]) -> (Evidence, Vec<String>) {
        let mut e = evidence();
        let mut jobs = Vec::new();
        for (i, tool) in tools.iter().enumerate() {
            let name = format!("scan-{i}");
            job(&mut e, &name, "success", 3);
            artifact(&mut e, &name, 3, &sarif(tool, json!([])));
            jobs.push(name);
        }
        (e, jobs)
    }

    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    fn required(r: &ScanReport) -> Vec<(&str, Option<&str>)> {
        r.required.iter().map(|x| (x.entry.as_str(), x.satisfied_by.as_deref())).collect()
    }

    #[test]
    fn required_entries_match_the_names_scanners_write() {
        let (e, jobs) = clean_runs(&["Trivy", "grype", "Semgrep OSS", "CodeQL command-line toolchain", "LGTM.com"]);
        let r = gate(&e, &cfg(&strs(&jobs), &["Trivy", "Semgrep", "CodeQL", "grype", "lgtm"]));
        assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
        assert_eq!(
            required(&r),
            [
                ("Trivy", Some("Trivy")),
                ("Semgrep", Some("Semgrep OSS")),
                ("CodeQL", Some("CodeQL command-line toolchain")),
                ("grype", Some("grype")),
                ("lgtm", Some("LGTM.com")),
            ]
        );
        let semgrep = &r.required[1];
        assert_eq!(
            semgrep.detail,
            format!(
                "required \"Semgrep\" satisfied by Semgrep OSS (job scan-2 #3, artifact scan-2.sarif {})",
                e.scans.sarif[2].digest
            )
        );
        let row = r.scanners.iter().find(|s| s.tool == "Semgrep OSS").unwrap();
        assert_eq!(row.satisfies, ["Semgrep"]);
        assert_eq!(row.evidence, [semgrep.run.clone().unwrap()]);
    }

    #[test]
    fn an_unmatched_entry_names_the_scanners_seen() {
        let (e, jobs) = clean_runs(&["Trivy", "Semgrep OSS", "SnykCode"]);
        let r = gate(&e, &cfg(&strs(&jobs), &["Trivy", "Snyk"]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(codes(&r), ["scan_missing"]);
        assert_eq!(
            r.findings[0].detail,
            "no run matching \"Snyk\" for d00d00d00d00; seen: Semgrep OSS, SnykCode, Trivy"
        );
        assert_eq!(required(&r), [("Trivy", Some("Trivy")), ("Snyk", None)]);
        // Nothing seen at all.
        let r = gate(&evidence(), &cfg(&[], &["Trivy"]));
        assert_eq!(r.findings[0].detail, "no run matching \"Trivy\" for d00d00d00d00; seen: none");
        assert!(r.scanners.is_empty(), "an entry is not a scanner: {r:?}");
        // "Trivy" is not a prefix of the word "Trivyx".
        let (e, jobs) = clean_runs(&["Trivyx"]);
        assert_eq!(codes(&gate(&e, &cfg(&strs(&jobs), &["trivy"]))), ["scan_missing"]);
    }

    #[test]
    fn regex_entries_match_names() {
        let (e, jobs) = clean_runs(&["Snyk Open Source", "SnykCode"]);
        let r = gate(&e, &cfg(&strs(&jobs), &["/^snyk ?code$/", "/^Snyk Open/"]));
        assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
        assert_eq!(required(&r), [("/^snyk ?code$/", Some("SnykCode")), ("/^Snyk Open/", Some("Snyk Open Source"))]);
        let r = gate(&e, &cfg(&strs(&jobs), &["/^snyk$/"]));
        assert_eq!(codes(&r), ["scan_missing"]);
    }

    #[test]
    fn each_entry_needs_a_run_of_its_own() {
        // A broad pattern and a name: one Semgrep run cannot satisfy both.
        let (e, jobs) = clean_runs(&["Semgrep OSS"]);
        for entries in [["/s/", "Semgrep"], ["Semgrep", "/s/"]] {
            let r = gate(&e, &cfg(&strs(&jobs), &entries));
            assert_eq!((r.verdict, codes(&r)), (Verdict::Fail, vec!["scan_missing"]), "{entries:?}");
            assert!(r.findings[0].detail.contains("each matching run satisfies another entry"), "{r:#?}");
            assert_eq!(required(&r).iter().filter(|x| x.1.is_some()).count(), 1);
        }
        // The broad pattern does not take the run the name needs: whatever
        // the order, each entry gets its own scanner.
        let (e, jobs) = clean_runs(&["Semgrep OSS", "Snyk Open Source"]);
        for entries in [["/s/", "Semgrep"], ["Semgrep", "/s/"]] {
            let r = gate(&e, &cfg(&strs(&jobs), &entries));
            assert_eq!(r.verdict, Verdict::Pass, "{entries:?}: {r:#?}");
            let got: BTreeMap<&str, Option<&str>> = required(&r).into_iter().collect();
            assert_eq!(got["Semgrep"], Some("Semgrep OSS"));
            assert_eq!(got["/s/"], Some("Snyk Open Source"));
        }
        // A broad pattern satisfied by one scanner says nothing of another entry.
        let (e, jobs) = clean_runs(&["Trivy"]);
        let r = gate(&e, &cfg(&strs(&jobs), &["/./", "Snyk"]));
        assert_eq!(required(&r), [("/./", Some("Trivy")), ("Snyk", None)]);
        assert_eq!(r.verdict, Verdict::Fail);
        // Two runs of one scanner (two languages, say) are two runs.
        let mut e = evidence();
        job(&mut e, "codeql", "success", 4);
        let mut doc = sarif("CodeQL", json!([]));
        let run = doc["runs"][0].clone();
        doc["runs"].as_array_mut().unwrap().push(run);
        artifact(&mut e, "codeql", 4, &doc);
        let r = gate(&e, &cfg(&["codeql"], &["CodeQL", "/codeql/"]));
        assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
        let runs: Vec<&str> = r.required.iter().map(|x| x.run.as_deref().unwrap()).collect();
        assert!(runs[0].ends_with(", run 1 of 2") && runs[1].ends_with(", run 2 of 2"), "{runs:?}");
    }

    #[test]
    fn a_failed_run_of_a_required_scanner_is_reported_as_such() {
        let mut e = evidence();
        job(&mut e, "semgrep", "success", 3);
        let mut doc = sarif("Semgrep OSS", json!([]));
        doc["runs"][0]["invocations"] = json!([{"executionSuccessful": false}]);
        artifact(&mut e, "semgrep", 3, &doc);
        let r = gate(&e, &cfg(&["semgrep"], &["Semgrep"]));
        assert_eq!(codes(&r), ["scan_incomplete"]);
        assert_eq!(r.required[0].satisfied_by, None);
        assert!(r.required[0].detail.contains("Semgrep OSS did not pass"), "{r:#?}");
    }
}
