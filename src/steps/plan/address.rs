//! Resource addresses: `module.a["x"].module.b[0].aws_iam_role.r["k"]`.
//!
//! Only the module path is needed (to find a resource's block in the
//! `configuration` section, which holds each module once, without instance
//! keys). Keys may contain dots, brackets and escaped quotes.

/// Splits an address into its module names (instance keys dropped) and the
/// resource part. `None` when the address is not well formed.
pub(super) fn split_modules(address: &str) -> Option<(Vec<String>, &str)> {
    let mut modules = Vec::new();
    let mut rest = address;
    while let Some(after) = rest.strip_prefix("module.") {
        let end = after.find(['[', '.']).unwrap_or(after.len());
        let name = &after[..end];
        if name.is_empty() {
            return None;
        }
        modules.push(name.to_owned());
        let mut tail = &after[end..];
        if tail.starts_with('[') {
            tail = skip_index(tail)?;
        }
        rest = match tail.strip_prefix('.') {
            Some(t) => t,
            None if tail.is_empty() => "",
            None => return None,
        };
    }
    Some((modules, rest))
}

/// Skips `[0]` or `["key with \"escapes\" and ]"]`; returns what follows.
fn skip_index(s: &str) -> Option<&str> {
    let body = s.strip_prefix('[')?;
    if let Some(quoted) = body.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => return quoted[i + 1..].strip_prefix(']'),
                _ => {}
            }
        }
        None
    } else {
        let end = body.find(']')?;
        Some(&body[end + 1..])
    }
}

/// `aws_s3_bucket.b["k"]` -> `b`.
pub(super) fn resource_name(rest: &str) -> String {
    let no_index = rest.split('[').next().unwrap_or(rest);
    no_index.rsplit('.').next().unwrap_or(no_index).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names() {
        assert_eq!(resource_name("aws_s3_bucket.b[\"k\"]"), "b");
        assert_eq!(resource_name("aws_s3_bucket.b"), "b");
    }

    #[test]
    fn root_and_nested_modules() {
        assert_eq!(split_modules("aws_s3_bucket.b"), Some((vec![], "aws_s3_bucket.b")));
        assert_eq!(
            split_modules("module.a.module.b[0].aws_iam_role.r[\"k\"]"),
            Some((vec!["a".into(), "b".into()], "aws_iam_role.r[\"k\"]"))
        );
        assert_eq!(
            split_modules(r#"module.replica_00["0001"].module.x["a.b]\"c"].data.aws_iam_policy_document.d"#),
            Some((vec!["replica_00".into(), "x".into()], "data.aws_iam_policy_document.d"))
        );
        assert_eq!(split_modules("module.a"), Some((vec!["a".into()], "")));
    }

    #[test]
    fn malformed() {
        assert_eq!(split_modules("module..x"), None);
        assert_eq!(split_modules("module.a[\"open.x"), None);
        assert_eq!(split_modules("module.a[0]x"), None);
    }
}
