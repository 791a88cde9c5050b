//! JUnit XML reports, so that CircleCI's Tests tab (`store_test_results`)
//! shows what a command judged and what blocked a deploy.
//!
//! Each command turns its verdict into [`Suite`]s with a pure function next
//! to the verdict (`plan::report`, `validate`, `decision::render`, `audit`);
//! this module only writes them. The XML is written by hand: every value
//! goes through [`escape`], which escapes the five markup characters, keeps
//! tabs and line breaks as character references where they would otherwise
//! be normalised away, and shows every other control character as a
//! visible `\u{..}` escape, since XML 1.0 cannot carry most of them at all.
//! No CDATA sections: escaped text is the same everywhere.

use std::fmt::Write as _;

/// One test suite: one command's judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    /// The suite's name (what was judged).
    pub(crate) name: String,
    /// Its cases, in report order.
    pub(crate) cases: Vec<Case>,
}

/// One test case: one thing judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Groups cases in CircleCI's Tests tab (`plan.resource`, `validate`, ...).
    pub(crate) classname: String,
    /// What was judged (a resource address, a condition, a commit).
    pub(crate) name: String,
    /// How it came out.
    pub(crate) result: CaseResult,
    /// Extra text for a reader (`<system-out>`), when any.
    pub(crate) output: Option<String>,
}

/// How a case came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CaseResult {
    /// Nothing stands in the way.
    Passed,
    /// The policy said no: `<failure>`.
    Failed(Problem),
    /// It could not be decided: `<error>` (never a pass).
    Error(Problem),
    /// Not judged, and why: `<skipped>`.
    #[allow(dead_code, reason = "the format's fourth result; no step reports a case it did not judge yet")]
    Skipped(String),
}

/// What a failure or error says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The `type` attribute: a stable code (or several, comma-separated).
    pub(crate) kind: String,
    /// The `message` attribute: one line.
    pub(crate) message: String,
    /// The element's text: every reason, one a line.
    pub(crate) detail: String,
}

impl Case {
    /// A case that passed.
    pub fn passed(classname: impl Into<String>, name: impl Into<String>) -> Self {
        Case::with_result(classname, name, CaseResult::Passed)
    }

    /// A case that failed.
    pub fn failed(
        classname: impl Into<String>,
        name: impl Into<String>,
        kind: impl Into<String>,
        message: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        let problem = Problem { kind: kind.into(), message: message.into(), detail: detail.into() };
        Case::with_result(classname, name, CaseResult::Failed(problem))
    }

    /// A case that could not be decided.
    pub fn error(
        classname: impl Into<String>,
        name: impl Into<String>,
        kind: impl Into<String>,
        message: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        let problem = Problem { kind: kind.into(), message: message.into(), detail: detail.into() };
        Case::with_result(classname, name, CaseResult::Error(problem))
    }

    fn with_result(classname: impl Into<String>, name: impl Into<String>, result: CaseResult) -> Self {
        Case { classname: classname.into(), name: name.into(), result, output: None }
    }

    /// The same case with `text` as its `<system-out>`.
    #[must_use]
    pub fn with_output(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.output = (!text.is_empty()).then_some(text);
        self
    }
}

/// Counts of a suite or a document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Cases.
    pub(crate) tests: usize,
    /// `<failure>`s.
    pub(crate) failures: usize,
    /// `<error>`s.
    pub(crate) errors: usize,
    /// `<skipped>`s.
    pub(crate) skipped: usize,
}

impl Suite {
    /// A suite.
    pub fn new(name: impl Into<String>, cases: Vec<Case>) -> Self {
        Suite { name: name.into(), cases }
    }

    /// Its counts.
    pub fn counts(&self) -> Counts {
        let mut c = Counts { tests: self.cases.len(), ..Counts::default() };
        for case in &self.cases {
            match case.result {
                CaseResult::Passed => {}
                CaseResult::Failed(_) => c.failures += 1,
                CaseResult::Error(_) => c.errors += 1,
                CaseResult::Skipped(_) => c.skipped += 1,
            }
        }
        c
    }
}

/// Escapes `s` for XML text or a double- or single-quoted attribute.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept as references: a parser would turn a literal one into a
            // space in an attribute (and a CR into a LF anywhere).
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            // XML 1.0 cannot carry C0 controls even as references, and
            // C1 controls and non-characters are discouraged: shown escaped.
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// The document: a `<testsuites>` element holding `suites`.
pub(crate) fn to_xml(suites: &[Suite]) -> String {
    let mut total = Counts::default();
    for s in suites {
        let c = s.counts();
        total.tests += c.tests;
        total.failures += c.failures;
        total.errors += c.errors;
        total.skipped += c.skipped;
    }
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"changegate\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        total.tests, total.failures, total.errors, total.skipped
    );
    for s in suites {
        let c = s.counts();
        let _ = writeln!(
            o,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            escape(&s.name),
            c.tests,
            c.failures,
            c.errors,
            c.skipped
        );
        for case in &s.cases {
            let _ =
                write!(o, "    <testcase classname=\"{}\" name=\"{}\"", escape(&case.classname), escape(&case.name));
            if case.result == CaseResult::Passed && case.output.is_none() {
                o.push_str("/>\n");
                continue;
            }
            o.push_str(">\n");
            match &case.result {
                CaseResult::Passed => {}
                CaseResult::Failed(p) => problem(&mut o, "failure", p),
                CaseResult::Error(p) => problem(&mut o, "error", p),
                CaseResult::Skipped(why) => {
                    let _ = writeln!(o, "      <skipped message=\"{}\"/>", escape(why));
                }
            }
            if let Some(text) = &case.output {
                let _ = writeln!(o, "      <system-out>{}</system-out>", escape(text));
            }
            o.push_str("    </testcase>\n");
        }
        o.push_str("  </testsuite>\n");
    }
    o.push_str("</testsuites>\n");
    o
}

fn problem(o: &mut String, element: &str, p: &Problem) {
    let _ = writeln!(
        o,
        "      <{element} type=\"{}\" message=\"{}\">{}</{element}>",
        escape(&p.kind),
        escape(&p.message),
        escape(&p.detail)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(escape(r#"a<b>&"c"'d'"#), "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
        assert_eq!(escape("plain text, ünïcödé ✓"), "plain text, ünïcödé ✓");
        assert_eq!(escape("&amp;"), "&amp;amp;", "an entity in the input is text, escaped again");
    }

    #[test]
    fn line_breaks_survive_and_control_characters_are_shown() {
        assert_eq!(escape("a\tb\nc\r\nd"), "a&#9;b&#10;c&#13;&#10;d");
        assert_eq!(escape("red\u{1b}[31m\u{0}\u{7f}\u{85}"), "red\\u{1b}[31m\\u{0}\\u{7f}\\u{85}");
        assert_eq!(escape("\u{FFFE}\u{FFFF}"), "\\u{fffe}\\u{ffff}");
        // Nothing a parser would reject is left: no raw control character.
        let out = escape(&(0u8..=0x1f).map(char::from).collect::<String>());
        assert!(!out.chars().any(char::is_control), "{out}");
    }

    #[test]
    fn the_document_counts_cases_and_escapes_every_value() {
        let suites = vec![
            Suite::new(
                "plan <stack>",
                vec![
                    Case::passed("plan.resource", "aws_s3_bucket.logs"),
                    Case::failed(
                        "plan.resource",
                        "aws_iam_role.x[\"<script>\"]",
                        "iam,delete",
                        "needs review: iam, delete",
                        "line 1\nline 2 & more",
                    ),
                    Case::error("review", "abc", "undecidable", "could not decide", ""),
                    Case { result: CaseResult::Skipped("not reached".into()), ..Case::passed("validate", "receipt") },
                ],
            ),
            Suite::new("empty", vec![]),
        ];
        let xml = to_xml(&suites);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"changegate\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\">"), "{xml}");
        assert!(
            xml.contains(
                "<testsuite name=\"plan &lt;stack&gt;\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\">"
            )
        );
        assert!(xml.contains("<testsuite name=\"empty\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\">"));
        assert!(xml.contains("<testcase classname=\"plan.resource\" name=\"aws_s3_bucket.logs\"/>"));
        assert!(xml.contains(
            "name=\"aws_iam_role.x[&quot;&lt;script&gt;&quot;]\">\n      <failure type=\"iam,delete\" message=\"needs review: iam, delete\">line 1&#10;line 2 &amp; more</failure>"
        ));
        assert!(xml.contains("<error type=\"undecidable\" message=\"could not decide\"></error>"));
        assert!(xml.contains("<skipped message=\"not reached\"/>"));
        assert!(!xml.contains("<script"));
        assert!(!xml.contains("CDATA"));
        assert!(xml.ends_with("</testsuites>\n"));
    }

    #[test]
    fn output_is_written_as_system_out() {
        let xml = to_xml(&[Suite::new("s", vec![Case::passed("c", "n").with_output("exempted: <until 2027>")])]);
        assert!(xml.contains(
            "<testcase classname=\"c\" name=\"n\">\n      <system-out>exempted: &lt;until 2027&gt;</system-out>\n    </testcase>"
        ));
        assert_eq!(Case::passed("c", "n").with_output(""), Case::passed("c", "n"));
    }
}
