//! The commit list for the ticket description, from the local checkout.
//! For reading only: decisions never trust the checkout's history.

use std::path::Path;
use std::process::Command;

/// Most commits listed.
const LIMIT: usize = 500;

fn git(cwd: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(cwd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Commits in `(base, head]` on the first-parent line, newest first, and a
/// note when the list could not be made or is partial.
pub(super) fn commits_between(cwd: &Path, base: Option<&str>, head: &str) -> (Vec<(String, String)>, Option<String>) {
    if git(cwd, &["rev-parse", "--is-inside-work-tree"]).is_none() {
        return (
            Vec::new(),
            Some("No git checkout was found where the request ran, so the commit list is left out.".into()),
        );
    }
    if git(cwd, &["cat-file", "-e", &format!("{head}^{{commit}}")]).is_none() {
        return (
            Vec::new(),
            Some(format!("The commit {head} is not in the checkout, so the commit list is left out.")),
        );
    }
    let range = match base {
        None => head.to_owned(),
        Some(b) => {
            if git(cwd, &["merge-base", "--is-ancestor", b, head]).is_none() {
                return (
                    Vec::new(),
                    Some(format!(
                        "The last approved commit {b} is not an ancestor of {head} in this checkout (rewritten history, or a shallow clone); the analysis decides from GitHub."
                    )),
                );
            }
            format!("{b}..{head}")
        }
    };
    let limit = if base.is_none() { 50 } else { LIMIT };
    let log = git(cwd, &["log", "--first-parent", &format!("-n{}", limit + 1), "--format=%H%x1f%s", &range])
        .unwrap_or_default();
    let mut commits: Vec<(String, String)> =
        log.lines().filter_map(|l| l.split_once('\u{1f}').map(|(h, s)| (h.to_owned(), s.to_owned()))).collect();
    let note = if commits.len() > limit {
        commits.truncate(limit);
        Some(format!("Only the latest {limit} commits are listed."))
    } else if base.is_none() {
        Some(format!("First deploy: at most the latest {limit} commits are listed."))
    } else {
        None
    };
    (commits, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn commit(dir: &Path, msg: &str) -> String {
        run(dir, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--allow-empty", "-q", "-m", msg]);
        run(dir, &["rev-parse", "HEAD"])
    }

    #[test]
    fn lists_first_parent_commits_since_the_base() {
        let d = tempfile::tempdir().unwrap();
        run(d.path(), &["init", "-q", "-b", "main"]);
        let a = commit(d.path(), "a");
        let b = commit(d.path(), "b");
        let c = commit(d.path(), "c");
        let (list, note) = commits_between(d.path(), Some(&a), &c);
        assert_eq!(list, [(c.clone(), "c".into()), (b, "b".into())]);
        assert_eq!(note, None);
        let (_, note) = commits_between(d.path(), Some(&"0".repeat(40)), &c);
        assert!(note.unwrap().contains("not an ancestor"));
        let (first, note) = commits_between(d.path(), None, &c);
        assert_eq!(first.len(), 3);
        assert!(note.unwrap().starts_with("First deploy"));
    }

    #[test]
    fn no_checkout_is_a_note_not_an_error() {
        let d = tempfile::tempdir().unwrap();
        let (list, note) = commits_between(d.path(), None, "abc");
        assert!(list.is_empty());
        assert!(note.unwrap().contains("No git checkout"));
    }
}
