//! `*` globs: resource type patterns, exemption addresses, file patterns.

/// Whether `text` matches `pattern`, where each `*` stands for any run of
/// characters (none included) and everything else for itself.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let mut middle = parts.peekable();
    if middle.peek().is_none() {
        return rest.is_empty();
    }
    while let Some(part) = middle.next() {
        if middle.peek().is_none() {
            // The last part must end the text.
            return rest.len() >= part.len() && rest.ends_with(part);
        }
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("aws_iam_*", "aws_iam_role"));
        assert!(glob_match("*_policy_attachment", "aws_iam_role_policy_attachment"));
        assert!(glob_match("google_*_iam_*", "google_project_iam_member"));
        assert!(!glob_match("google_*_iam_*", "google_project_service"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exact2"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}
