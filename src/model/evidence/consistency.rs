//! Cross-checks of an evidence record against itself (`docs/evidence.md`,
//! "A record that contradicts itself"). The decision relies on some facts
//! because others agree with them: a tree check is about the landing it
//! names, the landings are the first-parent chain of the listed commits,
//! the listed commits are the whole range. A record in which they disagree
//! was altered or badly collected; it is undecidable, never a pass. Pure.

use std::collections::{BTreeMap, BTreeSet};

use super::{Evidence, GapArea};
use crate::model::evidence::RangeCommit;

/// The contradictions of `e`, one sentence each; empty for a consistent
/// record. Facts that a gap already says were not read are not compared.
pub(crate) fn contradictions(e: &Evidence) -> Vec<String> {
    let mut out = Vec::new();
    let commits: BTreeMap<&str, &RangeCommit> = e.range.commits.iter().map(|c| (c.sha.as_str(), c)).collect();
    let unread = |what: &[&str]| e.gaps.iter().any(|g| g.area == GapArea::Review && what.contains(&g.what.as_str()));

    range(e, &commits, unread(&["range", "landings"]), &mut out);
    content(e, &commits, &mut out);
    for (key, p) in &e.pulls {
        if *key != p.number.to_string() {
            out.push(format!("the pull request recorded under #{key} is #{}", p.number));
        }
    }
    out
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The range is the whole range, and its landings its first-parent chain.
fn range(e: &Evidence, commits: &BTreeMap<&str, &RangeCommit>, unread: bool, out: &mut Vec<String>) {
    let r = &e.range;
    let deployed = e.binding.commit.as_str();
    if unread {
        return;
    }
    if commits.len() != r.commits.len() {
        out.push("a commit is listed twice in the range".into());
    }
    match r.status.as_str() {
        "ahead" => {
            let Some(base) = &e.base else {
                out.push("the range is ahead of a base, but no base is recorded".into());
                return;
            };
            if r.total_commits != r.commits.len() as u64 {
                out.push(format!(
                    "GitHub counts {} commit(s) in the range, {} are listed and no gap says why",
                    r.total_commits,
                    r.commits.len()
                ));
            }
            match first_parent_chain(&r.commits, deployed, &base.commit) {
                Ok(chain) if chain == r.landings => {}
                Ok(_) => out.push(format!(
                    "the landings are not the first-parent chain from {} back to the base {}",
                    short(deployed),
                    short(&base.commit)
                )),
                Err(why) => {
                    out.push(format!("the listed commits do not reach the base {}: {why}", short(&base.commit)));
                }
            }
            // Every listed commit is an ancestor of the deployed one.
            let mut seen: BTreeSet<&str> = BTreeSet::new();
            let mut stack = vec![deployed];
            while let Some(sha) = stack.pop() {
                if sha == base.commit || !seen.insert(sha) {
                    continue;
                }
                if let Some(c) = commits.get(sha) {
                    stack.extend(c.parents.iter().map(String::as_str));
                }
            }
            if let Some(stray) = r.commits.iter().find(|c| !seen.contains(c.sha.as_str())) {
                out.push(format!(
                    "commit {} of the range is not an ancestor of {}",
                    short(&stray.sha),
                    short(deployed)
                ));
            }
        }
        "identical" | "first_deploy" | "behind" | "diverged" => {
            if !r.landings.is_empty() {
                out.push(format!("a range that is {} lists landings", r.status));
            }
            if r.status == "identical" && e.base.as_ref().is_some_and(|b| b.commit != deployed) {
                out.push(format!("the range is identical, but the base is not {}", short(deployed)));
            }
            if r.status == "first_deploy" && e.base.is_some() {
                out.push("a first deploy with a base".into());
            }
        }
        _ => {}
    }
}

/// Each tree check is about the landing it is recorded under.
fn content(e: &Evidence, commits: &BTreeMap<&str, &RangeCommit>, out: &mut Vec<String>) {
    let c = &e.content;
    if !c.available && !c.checks.is_empty() {
        out.push(format!("{} content check(s) are recorded, yet the content is marked unavailable", c.checks.len()));
    }
    for (sha, check) in &c.checks {
        let Some(at) = e.range.landings.iter().position(|l| l == sha) else {
            out.push(format!("a content check is recorded for {}, which is not a landing", short(sha)));
            continue;
        };
        match commits.get(sha.as_str()) {
            Some(commit) if commit.tree == check.landed_tree => {}
            Some(commit) => out.push(format!(
                "the content check of {} compares tree {}, but the commit's tree is {}",
                short(sha),
                short(&check.landed_tree),
                short(&commit.tree)
            )),
            None => out.push(format!("the landing {} is not among the range's commits", short(sha))),
        }
        // Its parent: the landing's first parent or, for a run of
        // single-parent landings (a rebase), the first parent of an earlier
        // landing of the run.
        let mut allowed: Vec<&str> = Vec::new();
        for (k, landing) in e.range.landings.iter().enumerate().skip(at) {
            let Some(commit) = commits.get(landing.as_str()) else { break };
            if k > at && commit.parents.len() != 1 {
                break;
            }
            allowed.extend(commit.parents.first().map(String::as_str));
            if commit.parents.len() != 1 {
                break;
            }
        }
        if !allowed.contains(&check.parent.as_str()) {
            out.push(format!(
                "the content check of {} merges onto {}, which is not the parent it landed on",
                short(sha),
                short(&check.parent)
            ));
        }
    }
}

/// The first-parent chain from `head` back to (not including) `base`, newest
/// first, from the range's commits. Fails when a first parent is neither in
/// the range nor the base (the range is incomplete).
pub(crate) fn first_parent_chain(commits: &[RangeCommit], head: &str, base: &str) -> Result<Vec<String>, String> {
    let by_sha: BTreeMap<&str, &RangeCommit> = commits.iter().map(|c| (c.sha.as_str(), c)).collect();
    let mut chain = Vec::new();
    let mut at = head;
    while at != base {
        let c = by_sha.get(at).ok_or_else(|| format!("commit {at} on the first-parent chain is not in the range"))?;
        chain.push(at.to_owned());
        at = c
            .parents
            .first()
            .map(String::as_str)
            .ok_or_else(|| format!("{at} has no parent before reaching the base"))?;
        if chain.len() > commits.len() {
            return Err("the first-parent chain loops".into());
        }
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(sha: &str, parents: &[&str]) -> RangeCommit {
        RangeCommit {
            sha: sha.into(),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            tree: "t".into(),
            author_id: None,
            committer_id: None,
            headline: String::new(),
            verified: false,
        }
    }

    #[test]
    fn first_parent_chain_skips_merged_branch_commits() {
        // base - a - m(a, x) - d ; x is a branch commit merged by m.
        let commits = [c("a", &["base"]), c("x", &["base"]), c("m", &["a", "x"]), c("d", &["m"])];
        assert_eq!(first_parent_chain(&commits, "d", "base").unwrap(), ["d", "m", "a"]);
        assert!(first_parent_chain(&commits[1..], "d", "base").unwrap_err().contains("not in the range"));
    }
}
