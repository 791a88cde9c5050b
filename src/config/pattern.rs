//! Regular expressions written in `changegate.toml` (the `regex` crate's
//! syntax): compiled once when the file is validated, compared by what was
//! written and how it applies, so a validated configuration stays
//! comparable.

use std::fmt;

use regex::{Regex, RegexBuilder};

/// How a [`Pattern`] is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// Found anywhere in the text, ignoring case (`[scan] required`).
    SearchIgnoringCase,
    /// The whole line, case as written (version-bump replacements).
    WholeLine,
}

/// A compiled regular expression from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    written: String,
    how: Match,
    regex: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written && self.how == other.how
    }
}

impl Eq for Pattern {}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// The reason of a `regex` error, on one line (its display is a multi-line
/// picture of the pattern with a caret).
fn reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: ").map(str::to_owned))
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl Pattern {
    /// Compiles `written`; the error says why it is not a regular expression.
    pub(crate) fn new(written: &str, how: Match) -> Result<Pattern, String> {
        // Checked alone first: a pattern valid on its own has balanced
        // groups, so the anchors around it below cannot be escaped.
        let alone = RegexBuilder::new(written).case_insensitive(how == Match::SearchIgnoringCase).build();
        let regex = match (alone, how) {
            (Err(e), _) => return Err(reason(&e)),
            (Ok(r), Match::SearchIgnoringCase) => r,
            (Ok(_), Match::WholeLine) => Regex::new(&format!("^(?:{written})$")).map_err(|e| reason(&e))?,
        };
        Ok(Pattern { written: written.to_owned(), how, regex })
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.written
    }

    /// Does `text` match?
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_cannot_be_escaped_and_searches_ignore_case() {
        let p = Pattern::new("a|b", Match::WholeLine).unwrap();
        assert!(p.is_match("a") && p.is_match("b"));
        assert!(!p.is_match("ab") && !p.is_match("xa") && !p.is_match("A"));
        // `a)|(.*` would undo the anchors: it is refused as it stands.
        assert!(Pattern::new("a)|(.*", Match::WholeLine).is_err());
        let s = Pattern::new("semgrep", Match::SearchIgnoringCase).unwrap();
        assert!(s.is_match("The Semgrep OSS"));
        assert_eq!(Pattern::new("(", Match::SearchIgnoringCase).unwrap_err(), "unclosed group");
        assert_eq!(s, Pattern::new("semgrep", Match::SearchIgnoringCase).unwrap());
        assert_ne!(s, Pattern::new("semgrep", Match::WholeLine).unwrap());
    }
}
