//! What is wrong with a configuration file: each problem with its line and
//! column, all of them collected in one run, and the error that lists them.
//! Every part of the configuration reports through [`Problems`].

use std::fmt;
use std::path::PathBuf;

/// One thing wrong in a configuration file, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub(crate) line: Option<usize>,
    /// 1-based column, when known.
    pub(crate) column: Option<usize>,
    /// What is wrong and what to do.
    pub(crate) message: String,
}

/// The configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--config` or `CHANGEGATE_CONFIG` cannot be read.
    #[error("cannot read the configuration {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file has problems; all of them are listed.
    #[error("{}", render_problems(origin, problems))]
    Invalid {
        /// The file (or `<text>`).
        origin: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

fn render_problems(origin: &str, problems: &[Problem]) -> String {
    let mut s = format!("invalid configuration {origin}:");
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.to_string_with(origin));
    }
    s
}

impl Problem {
    /// `origin:line:column: message`.
    pub fn to_string_with(&self, origin: &str) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{origin}:{l}:{c}: {}", self.message),
            (Some(l), None) => format!("{origin}:{l}: {}", self.message),
            _ => format!("{origin}: {}", self.message),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_with("changegate.toml"))
    }
}

/// Collects problems with positions computed from byte spans of the text.
#[derive(Debug)]
pub(crate) struct Problems<'t> {
    text: &'t str,
    /// The problems, in the order found.
    pub(super) list: Vec<Problem>,
}

impl<'t> Problems<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Problems { text, list: Vec::new() }
    }

    /// Records a problem at a byte span of the file.
    pub(crate) fn at(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.list.push(Problem { line: Some(line), column: Some(column), message: message.into() });
    }

    /// Records a problem at a byte span when there is one, else for the
    /// whole file.
    pub(crate) fn error(&mut self, span: Option<std::ops::Range<usize>>, message: &str) {
        match span {
            Some(s) => self.at(s, message),
            None => self.list.push(Problem { line: None, column: None, message: message.to_owned() }),
        }
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// An environment name as compared: trimmed, lower case.
pub(crate) fn env_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
