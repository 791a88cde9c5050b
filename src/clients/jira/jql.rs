//! JQL building. Every value goes through [`string`]: branch, repository and
//! project names are user input, and a value must never be able to end its
//! string and add a clause.

/// A JQL string literal: double-quoted, with `"` and `\` escaped and control
/// characters (which JQL cannot carry) replaced by spaces.
pub(crate) fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_quoted() {
        assert_eq!(string("PRODCM"), "\"PRODCM\"");
    }

    /// Injection attempts stay inside one string literal.
    #[test]
    fn injection_attempts_stay_inside_the_literal() {
        for evil in [
            "main\" OR project = \"SECRET",
            "x\\\" OR 1=1 OR key = \"y",
            "feature/\"); DROP",
            "a\\",
            "line\nbreak\" OR labels is EMPTY",
        ] {
            let q = string(evil);
            let inner = &q[1..q.len() - 1];
            // Every quote inside is escaped, and no escape is left dangling.
            let mut escaped = false;
            for c in inner.chars() {
                match c {
                    '\\' => escaped = !escaped,
                    '"' => {
                        assert!(escaped, "unescaped quote in {q}");
                        escaped = false;
                    }
                    _ => escaped = false,
                }
            }
            assert!(!escaped, "dangling escape in {q}");
            assert!(!q.contains('\n'));
        }
    }
}
