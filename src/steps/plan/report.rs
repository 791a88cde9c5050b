//! The plan-check report and its three renderings: text (the CI log),
//! markdown (the CI step summary and the ticket) and JSON (a stable contract,
//! `schema_version` 1; fields are only ever added).
//!
//! No rendering ever prints an attribute value that the plan marks
//! sensitive: findings carry only texts built for them by the rules.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use super::rules::{Reason, Severity};
use crate::base::digest::Sha256Digest;
use crate::base::junit::{Case, Suite};
use crate::base::time::Date;

/// The version of the JSON contract.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The result of a plan check.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`].
    pub(crate) schema_version: u32,
    /// At least one finding remains after exemptions.
    pub risky: bool,
    /// `format_version` of the plan, when present.
    pub(crate) format_version: Option<String>,
    /// `terraform_version` of the plan (OpenTofu writes its own), when present.
    pub(crate) terraform_version: Option<String>,
    /// Counts of planned actions (a replace counts once, in `replace`).
    pub(crate) summary: Summary,
    /// Risky resource changes, in plan order.
    pub findings: Vec<Finding>,
    /// Findings accepted by an exemption in `changegate.toml`.
    pub(crate) exempted: Vec<Exempted>,
    /// Things a reviewer should know that are not risks (moves, imports,
    /// forgotten resources, expired or unused exemptions).
    pub(crate) notes: Vec<Note>,
    /// SHA-256 of the plan JSON bytes as read.
    pub plan_json_digest: Sha256Digest,
    /// SHA-256 of the binary plan file that will be applied, when given.
    pub(crate) plan_file_digest: Option<Sha256Digest>,
    /// SHA-256 of the plan JSON in canonical form, when it was rendered
    /// from the plan file (`--render-with`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plan_json_canonical_digest: Option<Sha256Digest>,
    /// The tool that rendered the JSON from the plan file, and its versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rendered_by: Option<crate::model::binding::Renderer>,
    /// Every resource change judged, in plan order, when the check listed
    /// them ([`super::check_listing`]). Not part of the JSON contract.
    #[serde(skip)]
    pub(crate) changes: Option<Vec<Judged>>,
}

/// One resource change that was judged: a managed resource whose actions
/// do something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Judged {
    /// Resource address.
    pub(crate) address: String,
    /// Resource type.
    pub(crate) kind: String,
    /// Planned actions.
    pub(crate) actions: Vec<String>,
    /// Its finding (an index into [`Report::findings`]), when risky.
    pub(crate) finding: Option<usize>,
    /// Its exemptions (indices into [`Report::exempted`]).
    pub(crate) exempted: Vec<usize>,
}

/// Counts of resource changes by action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    /// `["create"]` (and create-and-forget).
    pub(crate) create: u64,
    /// `["update"]`.
    pub(crate) update: u64,
    /// `["delete"]`.
    pub(crate) delete: u64,
    /// Delete and create in either order.
    pub(crate) replace: u64,
    /// `["no-op"]`.
    pub(crate) no_op: u64,
    /// `["read"]` (data sources).
    pub(crate) read: u64,
    /// `["forget"]`.
    pub(crate) forget: u64,
}

impl Summary {
    /// Resource changes that do something.
    pub(crate) fn changes(&self) -> u64 {
        self.create + self.update + self.delete + self.replace
    }
}

/// One risky resource change.
///
/// A large plan keeps tens of thousands of these until the report is
/// written, so they are compact: boxed slices and strings, and the reasons'
/// own details only when there is more than one reason (see
/// [`Finding::by_reason`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Resource address.
    pub address: String,
    /// Resource type (one copy per type in the plan).
    #[serde(rename = "type", serialize_with = "shared_text")]
    pub(crate) kind: Arc<str>,
    /// Planned actions.
    pub(crate) actions: Box<[String]>,
    /// Why it needs review (stable codes).
    pub reasons: Box<[Reason]>,
    /// The highest severity of its reasons.
    pub(crate) severity: Severity,
    /// What changed, for a reviewer.
    pub detail: Box<str>,
    /// Each reason with its own severity and detail, in `reasons` order,
    /// when there are several (SARIF has a result per reason; not part of
    /// the JSON contract). Empty for one reason: its severity and detail
    /// are the finding's own.
    #[serde(skip)]
    pub(crate) several: Box<[ReasonHit]>,
}

impl Finding {
    /// Each reason with the highest severity of its hits and what they
    /// found, in `reasons` order.
    pub fn by_reason(&self) -> impl Iterator<Item = (Reason, Severity, &str)> {
        let one = self.several.is_empty().then(|| self.reasons.first().map(|r| (*r, self.severity, &*self.detail)));
        one.flatten().into_iter().chain(self.several.iter().map(|h| (h.reason, h.severity, &*h.detail)))
    }
}

/// One reason of a [`Finding`] with several: how severe it is and what it
/// found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReasonHit {
    /// The reason.
    pub(crate) reason: Reason,
    /// The highest severity of its hits.
    pub(crate) severity: Severity,
    /// What its hits found.
    pub(crate) detail: Box<str>,
}

/// A finding accepted by an exemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Exempted {
    /// Resource address.
    pub(crate) address: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// Planned actions.
    pub(crate) actions: Vec<String>,
    /// The reasons the exemption accepted.
    pub reasons: Vec<Reason>,
    /// The exemption's justification.
    pub(crate) justification: String,
    /// Its last day.
    #[serde(serialize_with = "date_text")]
    pub(crate) expires: Date,
}

fn shared_text<S: serde::Serializer>(t: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t)
}

fn date_text<S: serde::Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// Something worth knowing that is not a risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Note {
    /// What kind of note.
    pub(crate) kind: NoteKind,
    /// The resource (or exemption) address.
    pub(crate) address: String,
    /// Explanation.
    pub detail: String,
}

/// Kinds of [`Note`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NoteKind {
    /// Moved from another address.
    Moved,
    /// Being imported.
    Imported,
    /// Removed from state, object kept (`removed` block).
    Forgotten,
    /// An exemption past its date was not applied.
    ExemptionExpired,
    /// An exemption matched nothing in this plan.
    ExemptionUnused,
    /// A conservative assumption was made (e.g. no configuration section).
    Assumption,
}

impl NoteKind {
    fn label(self) -> &'static str {
        match self {
            NoteKind::Moved => "moved",
            NoteKind::Imported => "imported",
            NoteKind::Forgotten => "forgotten",
            NoteKind::ExemptionExpired => "exemption expired",
            NoteKind::ExemptionUnused => "exemption unused",
            NoteKind::Assumption => "assumption",
        }
    }
}

/// The reasons found across findings, in report order.
fn all_reasons(findings: &[Finding]) -> Vec<Reason> {
    let mut r: Vec<Reason> = findings.iter().flat_map(|f| f.reasons.iter().copied()).collect();
    r.sort();
    r.dedup();
    r
}

fn join_reasons(r: &[Reason]) -> String {
    r.iter().map(|r| r.code()).collect::<Vec<_>>().join(", ")
}

/// Makes text from the plan safe for a terminal: control characters (which
/// could move the cursor or recolour the log) are shown escaped.
pub(crate) fn safe(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

impl Report {
    /// The one-line verdict.
    pub fn verdict_line(&self) -> String {
        let n = self.findings.len();
        if self.risky {
            format!(
                "RISKY: {n} resource change{} need{} review ({})",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" },
                join_reasons(&all_reasons(&self.findings))
            )
        } else {
            let exempt =
                if self.exempted.is_empty() { String::new() } else { format!(", {} exempted", self.exempted.len()) };
            format!("NOT RISKY: no risky change in {} resource changes{exempt}", self.summary.changes())
        }
    }

    fn summary_line(&self) -> String {
        let s = &self.summary;
        let mut line = format!(
            "Plan: {} to create, {} to update, {} to replace, {} to delete; {} unchanged, {} read, {} forgotten",
            s.create, s.update, s.replace, s.delete, s.no_op, s.read, s.forget
        );
        let tool = match (&self.terraform_version, &self.format_version) {
            (Some(t), Some(f)) => format!(" (Terraform/OpenTofu {}, format {})", safe(t), safe(f)),
            (None, Some(f)) => format!(" (format {})", safe(f)),
            (Some(t), None) => format!(" (Terraform/OpenTofu {})", safe(t)),
            (None, None) => String::new(),
        };
        line.push_str(&tool);
        line
    }

    /// Plain text for the CI log: summary, a table of findings, exemptions,
    /// notes, digests and the verdict as the last line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.summary_line());
        if !self.findings.is_empty() {
            let width = self.findings.iter().map(|f| safe(&f.address).chars().count()).max().unwrap_or(0).clamp(7, 72);
            let _ = writeln!(out, "\n{:<8}  {:<width$}  {:<16}  REASONS", "SEVERITY", "ADDRESS", "ACTIONS");
            for f in &self.findings {
                let _ = writeln!(
                    out,
                    "{:<8}  {:<width$}  {:<16}  {}",
                    f.severity.as_str(),
                    safe(&f.address),
                    f.actions.join(","),
                    join_reasons(&f.reasons)
                );
                let _ = writeln!(out, "{:<8}  {}", "", safe(&f.detail));
            }
        }
        if !self.exempted.is_empty() {
            let _ = writeln!(out, "\nExempted (accepted in changegate.toml):");
            for e in &self.exempted {
                let _ = writeln!(
                    out,
                    "  {}  {}  until {}: {}",
                    safe(&e.address),
                    join_reasons(&e.reasons),
                    e.expires,
                    safe(&e.justification)
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nNotes:");
            for n in &self.notes {
                let _ = writeln!(out, "  {}: {}: {}", n.kind.label(), safe(&n.address), safe(&n.detail));
            }
        }
        let _ = writeln!(out, "\nplan JSON digest: {}", self.plan_json_digest);
        if let Some(d) = &self.plan_file_digest {
            let _ = writeln!(out, "plan file digest: {d}");
        }
        let _ = writeln!(out, "{}", self.verdict_line());
        out
    }

    /// Markdown for a CI step summary or a ticket comment.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let head = if self.risky { "Plan check: risky, review required" } else { "Plan check: not risky" };
        let _ = writeln!(out, "### {head}\n");
        let _ = writeln!(out, "**{}**\n", md_text(&self.verdict_line()));
        let s = &self.summary;
        let _ = writeln!(out, "| create | update | replace | delete | unchanged | read | forgotten |");
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            s.create, s.update, s.replace, s.delete, s.no_op, s.read, s.forget
        );
        if !self.findings.is_empty() {
            let _ = writeln!(out, "| Severity | Address | Actions | Reasons | Detail |");
            let _ = writeln!(out, "|---|---|---|---|---|");
            for f in &self.findings {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    f.severity.as_str(),
                    md_code(&f.address),
                    f.actions.join(", "),
                    f.reasons.iter().map(|r| md_code(r.code())).collect::<Vec<_>>().join(" "),
                    md_text(&f.detail)
                );
            }
            out.push('\n');
        }
        if !self.exempted.is_empty() {
            let _ = writeln!(out, "**Exempted** (accepted in `changegate.toml`):\n");
            let _ = writeln!(out, "| Address | Reasons | Until | Justification |");
            let _ = writeln!(out, "|---|---|---|---|");
            for e in &self.exempted {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    md_code(&e.address),
                    join_reasons(&e.reasons),
                    e.expires,
                    md_text(&e.justification)
                );
            }
            out.push('\n');
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "**Notes**\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {}: {} {}", n.kind.label(), md_code(&n.address), md_text(&n.detail));
            }
            out.push('\n');
        }
        let tool = match (&self.terraform_version, &self.format_version) {
            (Some(t), Some(f)) => format!("Terraform/OpenTofu {}, plan format {}. ", md_text(t), md_text(f)),
            (None, Some(f)) => format!("Plan format {}. ", md_text(f)),
            _ => String::new(),
        };
        let _ = write!(out, "{tool}Plan JSON `{}`", self.plan_json_digest);
        if let Some(d) = &self.plan_file_digest {
            let _ = write!(out, ", plan file `{d}`");
        }
        out.push_str(".\n");
        out
    }

    /// The JSON contract, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// [`Self::to_json`] and a line break, written to `out` as it is
    /// serialised (a large plan's report is megabytes; it is never held
    /// whole). `out` should be buffered.
    pub fn write_json(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self).map_err(std::io::Error::from)?;
        out.write_all(b"\n")
    }

    /// The self-contained HTML page: the verdict, the counts, the findings
    /// table, exemptions, notes and digests; with a ticket (key and URL),
    /// a link to it and what was recorded there.
    pub fn to_html(&self, stack: &str, ticket: Option<(&str, &str)>, recorded: &[String]) -> String {
        use crate::base::html::{Tone, code, escape, link, list, table, verdict};
        let mut b = String::new();
        let _ = writeln!(
            b,
            "<p class=\"meta\">Stack {}{}</p>",
            code(stack),
            match ticket {
                Some((key, url)) => format!(" &middot; change ticket {}", link(url, key)),
                None => String::new(),
            }
        );
        b.push_str(&verdict(if self.risky { Tone::Bad } else { Tone::Good }, &self.verdict_line()));
        let s = &self.summary;
        b.push_str("<h2>Planned changes</h2>\n");
        b.push_str(&table(
            &["create", "update", "replace", "delete", "unchanged", "read", "forgotten"],
            &[[s.create, s.update, s.replace, s.delete, s.no_op, s.read, s.forget]
                .iter()
                .map(u64::to_string)
                .collect()],
        ));
        if !self.findings.is_empty() {
            let _ = writeln!(b, "<h2>Findings: {} change(s) need review</h2>", self.findings.len());
            let rows: Vec<Vec<String>> = self
                .findings
                .iter()
                .map(|f| {
                    vec![
                        format!("<span class=\"sev-{0}\">{0}</span>", escape(f.severity.as_str())),
                        code(&f.address),
                        escape(&f.actions.join(", ")),
                        f.reasons.iter().map(|r| code(r.code())).collect::<Vec<_>>().join(" "),
                        escape(&f.detail),
                    ]
                })
                .collect();
            b.push_str(&table(&["Severity", "Address", "Actions", "Reasons", "Detail"], &rows));
        }
        if !self.exempted.is_empty() {
            b.push_str("<h2>Exempted (accepted in changegate.toml)</h2>\n");
            let rows: Vec<Vec<String>> = self
                .exempted
                .iter()
                .map(|e| {
                    vec![
                        code(&e.address),
                        escape(&join_reasons(&e.reasons)),
                        escape(&e.expires.to_string()),
                        escape(&e.justification),
                    ]
                })
                .collect();
            b.push_str(&table(&["Address", "Reasons", "Until", "Justification"], &rows));
        }
        if !self.notes.is_empty() {
            b.push_str("<h2>Notes</h2>\n");
            let items: Vec<String> = self
                .notes
                .iter()
                .map(|n| format!("{}: {} {}", escape(n.kind.label()), code(&n.address), escape(&n.detail)))
                .collect();
            b.push_str(&list(&items));
        }
        if !recorded.is_empty() {
            b.push_str("<h2>Recorded on the change ticket</h2>\n");
            b.push_str(&list(&recorded.iter().map(|r| escape(r)).collect::<Vec<_>>()));
        }
        b.push_str("<h2>The plan</h2>\n");
        let mut facts = Vec::new();
        if let Some(t) = &self.terraform_version {
            facts.push(format!("Terraform/OpenTofu {}", escape(t)));
        }
        if let Some(f) = &self.format_version {
            facts.push(format!("plan format {}", escape(f)));
        }
        if let Some(r) = &self.rendered_by {
            let providers: Vec<String> = r.providers.iter().map(|(p, v)| format!("{p} {v}")).collect();
            let providers =
                if providers.is_empty() { String::new() } else { format!(" (providers: {})", providers.join(", ")) };
            facts.push(format!(
                "rendered by {} {}{}",
                escape(r.tool.command()),
                escape(&r.version),
                escape(&providers)
            ));
        }
        facts.push(format!("plan JSON {}", code(&self.plan_json_digest.to_string())));
        if let Some(d) = &self.plan_file_digest {
            facts.push(format!("plan file {}", code(&d.to_string())));
        }
        b.push_str(&list(&facts));
        let head = if self.risky { "Plan check: risky, review required" } else { "Plan check: not risky" };
        crate::base::html::page(head, &b)
    }

    /// The JUnit suite: a case per resource change judged (or, when the
    /// changes were not listed, per finding and exemption), a failure per
    /// risky one with its reasons. Exempted changes pass, saying so.
    pub fn to_junit(&self, stack: &str) -> Suite {
        let classname = format!("plan.{stack}");
        let failed = |f: &Finding| {
            let reasons = join_reasons(&f.reasons);
            Case::failed(
                &classname,
                &f.address,
                f.reasons.iter().map(|r| r.code()).collect::<Vec<_>>().join(","),
                format!("{} {} needs review: {reasons}", f.severity.as_str(), f.actions.join(",")),
                format!("{}\nreasons: {reasons}\ntype: {}", f.detail, f.kind),
            )
        };
        let exempted =
            |e: &Exempted| format!("exempted ({}) until {}: {}", join_reasons(&e.reasons), e.expires, e.justification);
        let cases = match &self.changes {
            Some(changes) => changes
                .iter()
                .map(|c| {
                    let case = match c.finding.and_then(|i| self.findings.get(i)) {
                        Some(f) => failed(f),
                        None => Case::passed(&classname, &c.address),
                    };
                    let notes: Vec<String> =
                        c.exempted.iter().filter_map(|i| self.exempted.get(*i)).map(exempted).collect();
                    case.with_output(notes.join("\n"))
                })
                .collect(),
            None => self
                .findings
                .iter()
                .map(failed)
                .chain(self.exempted.iter().map(|e| Case::passed(&classname, &e.address).with_output(exempted(e))))
                .collect(),
        };
        Suite::new(format!("changegate plan-check, stack {stack}: {}", self.verdict_line()), cases)
    }
}

/// Text in a markdown table cell: markup characters escaped, one line.
pub(crate) fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in safe(&s.replace(['\n', '\r'], " ")).chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '|' | '<' | '>' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A code span that holds any text: the fence is longer than any run of
/// backticks inside, and `|` is escaped for tables.
pub(crate) fn md_code(s: &str) -> String {
    let s = safe(&s.replace(['\n', '\r'], " ")).replace('|', "\\|");
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(md_code("a.b"), "`a.b`");
        assert_eq!(md_code("a[\"x`y\"]"), "``a[\"x`y\"]``");
        assert_eq!(md_code("`x`"), "`` `x` ``");
        assert_eq!(md_code("a|b"), "`a\\|b`");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(safe("a\u{1b}[31mred"), "a\\u{1b}[31mred");
        assert_eq!(md_text("x|y\nz*"), "x\\|y z\\*");
    }
}
