//! Landed content against approved content: for each merge, squash or
//! rebase landing of a pull request, the tree that landed and the tree of
//! merging the approved head onto the landing's parent (research
//! `review-verification.md` §3.3: tree equality is the rigorous check).
//!
//! Which landings to compare is decided from the review's own
//! classification ([`wanted`], pure). Computing the merged trees needs the
//! commits' objects and their merge base: with the `git-objects` cargo
//! feature, [`compare`] fetches them into a temporary bare repository (over
//! HTTPS, the GitHub token as the password) and merges with libgit2.
//! Without the feature the record says the content was not checked; the
//! review then accepts only GitHub's own merges (`merge_content_unchecked`
//! otherwise) and reports `verified-squash` landings as undecidable, never
//! as passing.

use crate::model::analysis::{LandingKind, ReviewReport};
use crate::model::evidence::Evidence;

/// One comparison to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    /// The landing the check is recorded under (the last of a rebase run).
    pub(crate) landing: String,
    /// The commit the pull request landed onto (a rebase run's first parent).
    pub(crate) parent: String,
    /// The pull request's approved head.
    pub(crate) head: String,
}

/// The comparisons a record needs, from its review: every merge landing
/// (`F^1` with the head), every squash landing, and every rebase run (the
/// first commit's parent with the head, recorded at the run's last commit).
#[cfg_attr(
    not(feature = "git-objects"),
    expect(dead_code, reason = "only the git-objects content check compares trees")
)]
pub(crate) fn wanted(e: &Evidence, review: &ReviewReport) -> Vec<Wanted> {
    let parent_of = |sha: &str| e.range.commits.iter().find(|c| c.sha == sha).and_then(|c| c.parents.first()).cloned();
    let head_of = |n: u64| e.pulls.get(&n.to_string()).map(|p| p.head.clone());
    let mut out: Vec<Wanted> = Vec::new();
    let mut run: Option<(u64, String)> = None; // (pull, parent of the run's first commit)
    for l in &review.landings {
        let (Some(n), Some(parent)) = (l.pull, parent_of(&l.sha)) else {
            run = None;
            continue;
        };
        let Some(head) = head_of(n) else {
            run = None;
            continue;
        };
        match l.kind {
            LandingKind::Merge | LandingKind::Squash => {
                run = None;
                out.push(Wanted { landing: l.sha.clone(), parent, head });
            }
            LandingKind::Rebase => {
                let start = match &run {
                    Some((p, start)) if *p == n => start.clone(),
                    _ => parent,
                };
                run = Some((n, start.clone()));
                // Recorded at every commit of the run: the review reads the last.
                out.push(Wanted { landing: l.sha.clone(), parent: start, head });
            }
            _ => run = None,
        }
    }
    out
}

#[cfg(feature = "git-objects")]
pub(crate) use fetch::compare;

#[cfg(feature = "git-objects")]
mod fetch {
    use std::collections::{BTreeMap, BTreeSet};

    use git2::{FetchOptions, Oid, RemoteCallbacks, Repository};

    use crate::clients::http::Secret;
    use crate::model::evidence::TreeCheck;
    use crate::steps::analyze::content::Wanted;

    /// Fetches the commits of `wanted` from `url` into a temporary bare
    /// repository and computes each check. The token is sent only over
    /// HTTPS. An error (network, missing object) fails every check: the
    /// caller records it as a gap.
    pub(crate) fn compare(
        url: &str,
        token: Option<&Secret>,
        wanted: &[Wanted],
    ) -> Result<BTreeMap<String, TreeCheck>, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary repository: {e}"))?;
        let repo = Repository::init_bare(dir.path()).map_err(|e| format!("temporary repository: {e}"))?;
        let shas: BTreeSet<&str> =
            wanted.iter().flat_map(|w| [w.landing.as_str(), w.parent.as_str(), w.head.as_str()]).collect();
        // By object id: GitHub serves any reachable commit. Full history, so
        // merge bases are present.
        let refspecs: Vec<String> = shas.iter().map(|s| format!("+{s}:refs/changegate/{s}")).collect();
        let mut callbacks = RemoteCallbacks::new();
        if let Some(t) = token {
            let t = t.clone();
            callbacks.credentials(move |_, _, _| git2::Cred::userpass_plaintext("x-access-token", t.expose()));
        }
        let mut options = FetchOptions::new();
        options.remote_callbacks(callbacks);
        let mut remote = repo.remote_anonymous(url).map_err(|e| scrub(&e, token))?;
        remote
            .fetch(&refspecs, Some(&mut options), None)
            .map_err(|e| format!("fetch from {}: {}", shown(url), scrub(&e, token)))?;

        let mut out = BTreeMap::new();
        for w in wanted {
            out.insert(w.landing.clone(), check(&repo, w));
        }
        Ok(out)
    }

    fn check(repo: &Repository, w: &Wanted) -> TreeCheck {
        let mut c = TreeCheck {
            parent: w.parent.clone(),
            head: w.head.clone(),
            landed_tree: String::new(),
            merged_tree: None,
            conflict: false,
            error: None,
        };
        let result = (|| -> Result<(), git2::Error> {
            let commit = |s: &str| repo.find_commit(Oid::from_str(s)?);
            let landed = commit(&w.landing)?;
            c.landed_tree = landed.tree_id().to_string();
            let (parent, head) = (commit(&w.parent)?, commit(&w.head)?);
            let merged = if repo.graph_descendant_of(head.id(), parent.id())? || head.id() == parent.id() {
                // A fast-forward: the head's tree is the result.
                head.tree_id()
            } else {
                let base = repo.merge_base(parent.id(), head.id())?;
                let base_tree = repo.find_commit(base)?.tree()?;
                let mut index = repo.merge_trees(&base_tree, &parent.tree()?, &head.tree()?, None)?;
                if index.has_conflicts() {
                    c.conflict = true;
                    return Ok(());
                }
                index.write_tree_to(repo)?
            };
            c.merged_tree = Some(merged.to_string());
            Ok(())
        })();
        if let Err(e) = result {
            c.error = Some(e.message().to_owned());
        }
        c
    }

    fn shown(url: &str) -> &str {
        url.split('?').next().unwrap_or(url)
    }

    fn scrub(e: &git2::Error, token: Option<&Secret>) -> String {
        let m = e.message().to_owned();
        match token {
            Some(t) if !t.expose().is_empty() => m.replace(t.expose(), "***"),
            _ => m,
        }
    }
}
