//! A decision for people: text for a terminal, markdown for a CI summary or
//! an attachment, and an ADF comment for the ticket. All three show the
//! same facts: the recommendation and its reasons, one row per commit
//! (pull request, author, approvers, verdict, reason), one per scanner,
//! which run satisfied each required scanner, and the blocking scan
//! results.

use std::fmt::Write as _;

use serde_json::Value;

use crate::base::junit::{Case, Suite};
use crate::clients::jira::adf::{Doc, Inline};
use crate::model::analysis::Verdict;
use crate::model::analysis::{Decision, Recommendation};
use crate::model::evidence::Evidence;

/// Jira's limit on a comment body, in characters.
pub(crate) const COMMENT_LIMIT: usize = 32_767;

/// One row of the commit table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitRow {
    /// Short SHA.
    pub(crate) commit: String,
    /// First line of the message.
    pub(crate) headline: String,
    /// `#N`, or `-`.
    pub(crate) pull: String,
    /// Pull request author's login, or the commit author's id.
    pub(crate) author: String,
    /// Approvers that count.
    pub(crate) approvers: String,
    /// `pass`, `fail`, `undecidable`.
    pub(crate) verdict: String,
    /// Main reason code and detail.
    pub(crate) reason: String,
}

fn short(sha: &str) -> String {
    sha[..sha.len().min(12)].to_owned()
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() > n { format!("{}...", s.chars().take(n - 3).collect::<String>()) } else { s.to_owned() }
}

/// The commit table, oldest first.
pub(crate) fn commit_rows(d: &Decision, e: &Evidence) -> Vec<CommitRow> {
    d.review
        .landings
        .iter()
        .map(|l| {
            let author = l
                .pull
                .and_then(|n| e.pulls.get(&n.to_string()))
                .and_then(|p| p.author.as_ref())
                .map(|a| a.login.clone())
                .or_else(|| {
                    e.range
                        .commits
                        .iter()
                        .find(|c| c.sha == l.sha)
                        .and_then(|c| c.author_id)
                        .map(|id| format!("id {id}"))
                })
                .unwrap_or_else(|| "unknown".to_owned());
            let main = l.findings.first().or(l.flags.first());
            CommitRow {
                commit: short(&l.sha),
                headline: clip(&l.headline, 72),
                pull: l.pull.map_or_else(|| "-".to_owned(), |n| format!("#{n}")),
                author,
                approvers: if l.approvers.is_empty() {
                    "-".to_owned()
                } else {
                    l.approvers.iter().map(|a| a.login.as_str()).collect::<Vec<_>>().join(", ")
                },
                verdict: l.verdict.as_str().to_owned(),
                reason: main.map_or_else(String::new, |f| clip(&format!("{}: {}", f.code, f.detail), 160)),
            }
        })
        .collect()
}

fn headline(d: &Decision) -> String {
    match (d.recommendation, d.auto_approve) {
        (Recommendation::Approve, true) => format!("changegate analysis of {}: every check passed, approved", d.ticket),
        (Recommendation::Approve, false) => {
            format!("changegate analysis of {}: every check passed, approval recommended", d.ticket)
        }
        (Recommendation::ManualReview, _) => {
            format!("changegate analysis of {}: a person must review and approve", d.ticket)
        }
    }
}

fn summary(d: &Decision, landings: usize) -> String {
    format!(
        "{} to {}: {} commit(s) landed in {}..{}; review {}, scans {}, risk {}.",
        d.repository,
        d.environment,
        landings,
        d.base.as_deref().map_or_else(|| "(first deploy)".to_owned(), short),
        short(&d.commit),
        d.review.verdict.as_str(),
        d.scan.verdict.as_str(),
        d.risk.as_str()
    )
}

fn people(d: &Decision) -> String {
    if d.recommendation == Recommendation::Approve && d.auto_approve {
        return String::new();
    }
    format!(
        "Approval needs {} person(s) mapped to GitHub accounts, none of them an author, committer or pusher of \
         these commits ({} excluded).",
        d.required_approvers,
        d.excluded_github_ids.len()
    )
}

/// Plain text for a terminal.
pub(crate) fn text(d: &Decision, e: &Evidence) -> String {
    let mut o = String::new();
    let rows = commit_rows(d, e);
    let _ = writeln!(o, "{}", headline(d));
    let _ = writeln!(o, "{}", summary(d, rows.len()));
    for r in &d.reasons {
        let _ = writeln!(o, "  reason {}: {}", r.code, r.detail);
    }
    if !rows.is_empty() {
        let _ = writeln!(o, "\ncommits (oldest first):");
        for r in &rows {
            let _ = writeln!(
                o,
                "  {} {:<11} {:<6} {:<16} approved by {:<20} {}",
                r.commit, r.verdict, r.pull, r.author, r.approvers, r.reason
            );
        }
    }
    for f in &d.review.findings {
        let _ = writeln!(o, "  range: {}: {}", f.code, f.detail);
    }
    let _ = writeln!(o, "\nscans:");
    for s in &d.scan.scanners {
        let _ = writeln!(
            o,
            "  {:<24} {:<11} {} finding(s), {} blocking; {}",
            s.tool,
            s.verdict.as_str(),
            s.results,
            s.blocking.len(),
            if s.evidence.is_empty() { "no evidence for this commit".to_owned() } else { s.evidence.join("; ") }
        );
        for b in s.blocking.iter().take(20) {
            let _ = writeln!(o, "      blocking {} {}", b.rule, blocking_detail(b));
        }
    }
    for r in &d.scan.required {
        let _ = writeln!(o, "  {}", required_line(r));
    }
    for f in &d.scan.findings {
        let _ = writeln!(o, "  scan: {}: {}", f.code, f.detail);
    }
    let p = people(d);
    if !p.is_empty() {
        let _ = writeln!(o, "\n{p}");
    }
    let _ = writeln!(
        o,
        "\ndecided at {} with policy {} ({}); evidence {}",
        d.decided_at, d.policy.source, d.policy.digest, d.evidence_digest
    );
    o
}

/// `required "Semgrep" satisfied by Semgrep OSS (job semgrep #3, ...)`, or
/// why not.
fn required_line(r: &crate::model::analysis::RequiredReport) -> String {
    if r.satisfied_by.is_some() {
        r.detail.clone()
    } else {
        format!("required {:?} not satisfied: {}", r.entry, r.detail)
    }
}

fn blocking_detail(b: &crate::model::analysis::Blocking) -> String {
    let sev = b.security_severity.map_or_else(|| format!("level {}", b.level), |s| format!("security-severity {s:.1}"));
    match &b.location {
        Some(l) => format!("({sev}) at {l}"),
        None => format!("({sev})"),
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Markdown for a CI summary or the attachment.
pub(crate) fn markdown(d: &Decision, e: &Evidence) -> String {
    let mut o = String::new();
    let rows = commit_rows(d, e);
    let _ = writeln!(o, "### {}\n", headline(d));
    let _ = writeln!(o, "{}\n", summary(d, rows.len()));
    for r in &d.reasons {
        let _ = writeln!(o, "- **{}**: {}", r.code, md_cell(&r.detail));
    }
    if !d.reasons.is_empty() {
        o.push('\n');
    }
    if !rows.is_empty() {
        let _ =
            writeln!(o, "| Commit | Pull request | Author | Approvers | Verdict | Reason |\n|---|---|---|---|---|---|");
        for r in &rows {
            let _ = writeln!(
                o,
                "| `{}` {} | {} | {} | {} | {} | {} |",
                r.commit,
                md_cell(&r.headline),
                r.pull,
                md_cell(&r.author),
                md_cell(&r.approvers),
                r.verdict,
                md_cell(&r.reason)
            );
        }
        o.push('\n');
    }
    let _ = writeln!(o, "| Scanner | Verdict | Findings | Blocking | Evidence |\n|---|---|---|---|---|");
    for s in &d.scan.scanners {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            md_cell(&s.tool),
            s.verdict.as_str(),
            s.results,
            s.blocking.len(),
            md_cell(&s.evidence.join("; "))
        );
    }
    if !d.scan.required.is_empty() {
        o.push('\n');
    }
    for r in &d.scan.required {
        let _ = writeln!(o, "- {}", md_cell(&required_line(r)));
    }
    for f in d.scan.findings.iter().filter(|f| d.scan.verdict != Verdict::Pass || f.code.as_str() == "scan_passed") {
        let _ = writeln!(o, "\n- scan **{}**: {}", f.code, md_cell(&f.detail));
    }
    for s in &d.scan.scanners {
        for b in &s.blocking {
            let _ =
                writeln!(o, "- blocking: {} `{}` {}", md_cell(&s.tool), md_cell(&b.rule), md_cell(&blocking_detail(b)));
        }
    }
    let p = people(d);
    if !p.is_empty() {
        let _ = writeln!(o, "\n{p}");
    }
    let _ = writeln!(
        o,
        "\nDecided at {} with policy {} (`{}`); evidence `{}`.",
        d.decided_at,
        md_cell(&d.policy.source),
        d.policy.digest,
        d.evidence_digest
    );
    o
}

/// The self-contained HTML page of a decision: the verdict and its reasons,
/// one row per commit, one per scanner, the required scanners, what
/// blocks, and the policy and evidence digests; a link to the ticket when
/// its URL is known, and what was done there.
pub(crate) fn html(d: &Decision, e: &Evidence, ticket_url: Option<&str>, actions: &[String]) -> String {
    use crate::base::html::{Tone, code, escape, link, list, verdict};
    let rows = commit_rows(d, e);
    let mut b = String::new();
    let ticket = match ticket_url {
        Some(url) => link(url, &d.ticket),
        None => escape(&d.ticket),
    };
    let _ = writeln!(
        b,
        "<p class=\"meta\">Change ticket {ticket} &middot; {} to {} &middot; commit {}</p>",
        escape(&d.repository),
        escape(&d.environment),
        code(&short(&d.commit))
    );
    let tone = match (d.recommendation, d.verdict) {
        (Recommendation::Approve, _) => Tone::Good,
        (_, Verdict::Fail) => Tone::Bad,
        _ => Tone::Warn,
    };
    b.push_str(&verdict(tone, &headline(d)));
    let _ = writeln!(b, "<p>{}</p>", escape(&summary(d, rows.len())));
    if !d.reasons.is_empty() {
        b.push_str("<h2>Why a person must approve</h2>\n");
        let items: Vec<String> =
            d.reasons.iter().map(|r| format!("{}: {}", code(r.code.as_str()), escape(&r.detail))).collect();
        b.push_str(&list(&items));
    }
    let p = people(d);
    if !p.is_empty() {
        let _ = writeln!(b, "<p>{}</p>", escape(&p));
    }
    html_review(&mut b, d, &rows);
    html_scans(&mut b, d);
    if !actions.is_empty() {
        b.push_str("<h2>On the ticket</h2>\n");
        b.push_str(&list(&actions.iter().map(|a| escape(a)).collect::<Vec<_>>()));
    }
    b.push_str("<h2>Reproduce</h2>\n");
    b.push_str(&list(&[
        format!(
            "decided at {} with policy {} {}",
            escape(&d.decided_at),
            escape(&d.policy.source),
            code(&d.policy.digest.to_string())
        ),
        format!(
            "evidence {} (attached to the ticket): <code>changegate decide</code> re-decides it offline",
            code(&d.evidence_digest.to_string())
        ),
    ]));
    crate::base::html::page(&format!("changegate analysis of {}", d.ticket), &b)
}

/// The HTML of the two-person review: its verdict, a row per commit, and
/// the range's findings.
fn html_review(b: &mut String, d: &Decision, rows: &[CommitRow]) {
    use crate::base::html::{code, escape, list, table, verdict_word};
    let _ = writeln!(b, "<h2>Two-person review: {}</h2>", escape(d.review.verdict.as_str()));
    if !rows.is_empty() {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    format!("{} {}", code(&r.commit), escape(&r.headline)),
                    escape(&r.pull),
                    escape(&r.author),
                    escape(&r.approvers),
                    verdict_word(&r.verdict),
                    escape(&r.reason),
                ]
            })
            .collect();
        b.push_str(&table(&["Commit", "Pull request", "Author", "Approvers", "Verdict", "Reason"], &cells));
    }
    let range: Vec<String> =
        d.review.findings.iter().map(|f| format!("{}: {}", code(f.code.as_str()), escape(&f.detail))).collect();
    b.push_str(&list(&range));
}

/// The HTML of the security scans: their verdict, a row per scanner, and
/// what is required, what was found and what blocks.
fn html_scans(b: &mut String, d: &Decision) {
    use crate::base::html::{code, escape, list, table, verdict_word};
    let _ = writeln!(b, "<h2>Security scans: {}</h2>", escape(d.scan.verdict.as_str()));
    if !d.scan.scanners.is_empty() {
        let cells: Vec<Vec<String>> = d
            .scan
            .scanners
            .iter()
            .map(|s| {
                vec![
                    escape(&s.tool),
                    verdict_word(s.verdict.as_str()),
                    s.results.to_string(),
                    s.blocking.len().to_string(),
                    escape(&if s.evidence.is_empty() {
                        "none for this commit".to_owned()
                    } else {
                        s.evidence.join("; ")
                    }),
                ]
            })
            .collect();
        b.push_str(&table(&["Scanner", "Verdict", "Findings", "Blocking", "Evidence"], &cells));
    }
    let mut items: Vec<String> = d.scan.required.iter().map(|r| escape(&required_line(r))).collect();
    if d.scan.verdict != Verdict::Pass {
        items.extend(d.scan.findings.iter().map(|f| format!("{}: {}", code(f.code.as_str()), escape(&f.detail))));
    }
    for s in &d.scan.scanners {
        items.extend(
            s.blocking
                .iter()
                .map(|x| format!("blocking: {} {} {}", escape(&s.tool), code(&x.rule), escape(&blocking_detail(x)))),
        );
    }
    b.push_str(&list(&items));
}

/// The JUnit suite of a decision: a case per landing (two-person review), a
/// case per required scanner, and a case for the approval policy, which
/// fails with every reason a person must approve. A check that could not be
/// decided is an error, never a pass.
pub(crate) fn junit(d: &Decision) -> Suite {
    let mut cases = Vec::new();
    for l in &d.review.landings {
        let pull = l.pull.map(|n| format!(" (#{n})")).unwrap_or_default();
        let name = format!("{} {}{pull}", short(&l.sha), clip(&l.headline, 72));
        let all = |f: &[crate::model::analysis::Finding]| {
            f.iter().map(|f| format!("{}: {}", f.code, f.detail)).collect::<Vec<_>>().join("\n")
        };
        let main = l.findings.first();
        let kind = main.map_or_else(|| l.verdict.as_str().to_owned(), |f| f.code.as_str().to_owned());
        let message = main.map_or_else(|| l.verdict.as_str().to_owned(), |f| format!("{}: {}", f.code, f.detail));
        let case = match l.verdict {
            Verdict::Pass => Case::passed("review", &name),
            Verdict::Fail => Case::failed("review", &name, kind, message, all(&l.findings)),
            Verdict::Undecidable => Case::error("review", &name, kind, message, all(&l.findings)),
        };
        let approvers = l.approvers.iter().map(|a| a.login.as_str()).collect::<Vec<_>>().join(", ");
        let mut notes =
            vec![format!("commit {}; approved by {}", l.sha, if approvers.is_empty() { "-" } else { &approvers })];
        notes.extend(l.flags.iter().map(|f| format!("noted {}: {}", f.code, f.detail)));
        if l.verdict == Verdict::Pass {
            notes.extend(l.findings.iter().map(|f| format!("{}: {}", f.code, f.detail)));
        }
        cases.push(case.with_output(notes.join("\n")));
    }
    for r in &d.scan.required {
        let name = format!("required {}", r.entry);
        let scanner = r.satisfied_by.as_ref().and_then(|t| d.scan.scanners.iter().find(|s| &s.tool == t));
        let case = match scanner {
            Some(s) if s.verdict == Verdict::Pass => Case::passed("scan", &name).with_output(&r.detail),
            Some(s) => {
                let kind =
                    s.findings.first().map_or_else(|| s.verdict.as_str().to_owned(), |f| f.code.as_str().to_owned());
                let message = format!(
                    "{} {}: {}",
                    s.tool,
                    s.verdict.as_str(),
                    s.findings.first().map_or("", |f| f.detail.as_str())
                );
                let mut lines = vec![r.detail.clone()];
                lines.extend(s.findings.iter().map(|f| format!("{}: {}", f.code, f.detail)));
                lines.extend(s.blocking.iter().map(|b| format!("blocking {} {}", b.rule, blocking_detail(b))));
                if s.verdict == Verdict::Undecidable {
                    Case::error("scan", &name, kind, message, lines.join("\n"))
                } else {
                    Case::failed("scan", &name, kind, message, lines.join("\n"))
                }
            }
            None => Case::failed("scan", &name, "scan_missing", required_line(r), required_line(r)),
        };
        cases.push(case);
    }
    let policy = match d.recommendation {
        Recommendation::Approve => Case::passed("policy", "approval policy").with_output(if d.auto_approve {
            "every check passed: approved"
        } else {
            "every check passed: approval recommended"
        }),
        Recommendation::ManualReview => {
            let codes: Vec<&str> = d.reasons.iter().map(|r| r.code.as_str()).collect();
            let lines: Vec<String> = d.reasons.iter().map(|r| format!("{}: {}", r.code, r.detail)).collect();
            Case::failed(
                "policy",
                "approval policy",
                codes.join(","),
                format!("a person must review and approve: {}", codes.join(", ")),
                lines.join("\n"),
            )
        }
    };
    cases.push(policy);
    Suite::new(headline(d), cases)
}

/// The ADF comment. Commit rows that do not fit Jira's comment limit are
/// left out with a pointer to `attachment`, which holds the full analysis;
/// the second value says whether any were left out. `marker` ends the
/// comment so a repeated analysis can recognise it.
pub(crate) fn adf(d: &Decision, e: &Evidence, attachment: &str, marker: &str) -> (Value, bool) {
    let rows = commit_rows(d, e);
    let build = |n: usize| adf_doc(d, &rows, n, attachment, marker);
    let fits = |v: &Value| serde_json::to_string(v).is_ok_and(|s| s.chars().count() <= COMMENT_LIMIT);
    let all = build(rows.len());
    if fits(&all) {
        return (all, false);
    }
    // The most rows that fit: the size grows with the rows.
    let (mut lo, mut hi) = (0, rows.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(&build(mid)) { lo = mid } else { hi = mid - 1 }
    }
    (build(lo), true)
}

/// The comment with the first `n` commit rows: the headline, the reasons,
/// the commits, the scans, and how to reproduce the decision.
fn adf_doc(d: &Decision, rows: &[CommitRow], n: usize, attachment: &str, marker: &str) -> Value {
    let mut doc = Doc::new().heading(4, &headline(d)).text(&summary(d, rows.len()));
    let reasons: Vec<Vec<Inline>> = d
        .reasons
        .iter()
        .map(|r| vec![Inline::Strong(r.code.as_str().to_owned()), Inline::Text(format!(": {}", clip(&r.detail, 600)))])
        .collect();
    doc = doc.bullets(reasons);
    if !rows.is_empty() {
        doc = adf_commits(doc, rows, n, attachment);
    }
    doc = adf_scans(doc, d);
    let p = people(d);
    if !p.is_empty() {
        doc = doc.text(&p);
    }
    doc.paragraph(vec![
        Inline::Text(format!("Decided at {} with policy {} ", d.decided_at, d.policy.source)),
        Inline::Code(d.policy.digest.to_string()),
        Inline::Text("; evidence ".to_owned()),
        Inline::Code(d.evidence_digest.to_string()),
        Inline::Text(format!(" (attached). Re-decide with `changegate decide`. {marker}")),
    ])
    .build()
}

/// The table of the first `n` commits, and where the rest are when not all
/// fit.
fn adf_commits(mut doc: Doc, rows: &[CommitRow], n: usize, attachment: &str) -> Doc {
    let cells: Vec<Vec<Vec<Inline>>> = rows
        .iter()
        .take(n)
        .map(|r| {
            vec![
                vec![Inline::Code(r.commit.clone()), Inline::Text(format!(" {}", r.headline))],
                vec![Inline::Text(r.pull.clone())],
                vec![Inline::Text(r.author.clone())],
                vec![Inline::Text(r.approvers.clone())],
                vec![Inline::Strong(r.verdict.clone())],
                vec![Inline::Text(if r.reason.is_empty() { "-".to_owned() } else { r.reason.clone() })],
            ]
        })
        .collect();
    doc = doc.table(&["Commit", "Pull request", "Author", "Approvers", "Verdict", "Reason"], cells);
    if n < rows.len() {
        doc = doc.paragraph(vec![
            Inline::Text(format!("... and {} more commit(s): the full table is in ", rows.len() - n)),
            Inline::Code(attachment.to_owned()),
            Inline::Text(".".to_owned()),
        ]);
    }
    doc
}

/// The scans: a row per scanner, what is required, and the first findings
/// when the scans do not pass.
fn adf_scans(mut doc: Doc, d: &Decision) -> Doc {
    let scans: Vec<Vec<Vec<Inline>>> = d
        .scan
        .scanners
        .iter()
        .map(|s| {
            vec![
                vec![Inline::Text(s.tool.clone())],
                vec![Inline::Strong(s.verdict.as_str().to_owned())],
                vec![Inline::Text(s.results.to_string())],
                vec![Inline::Text(s.blocking.len().to_string())],
                vec![Inline::Text(if s.evidence.is_empty() {
                    "none for this commit".to_owned()
                } else {
                    clip(&s.evidence.join("; "), 300)
                })],
            ]
        })
        .collect();
    if !scans.is_empty() {
        doc = doc.table(&["Scanner", "Verdict", "Findings", "Blocking", "Evidence"], scans);
    }
    let required: Vec<Vec<Inline>> =
        d.scan.required.iter().map(|r| vec![Inline::Text(clip(&required_line(r), 400))]).collect();
    doc = doc.bullets(required);
    if d.scan.verdict != Verdict::Pass {
        let items: Vec<Vec<Inline>> = d
            .scan
            .findings
            .iter()
            .take(20)
            .map(|f| {
                vec![Inline::Strong(f.code.as_str().to_owned()), Inline::Text(format!(": {}", clip(&f.detail, 300)))]
            })
            .collect();
        doc = doc.bullets(items);
    }
    doc
}
