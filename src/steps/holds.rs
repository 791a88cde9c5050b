//! Resuming a recorded hold (`type: approval` job) through the CircleCI API
//! (docs/trust-model.md, "The lock is CircleCI's").
//!
//! Before approving, the workflow's project, pipeline, branch and commit
//! must equal the ticket's binding: a hold in another build is never
//! resumed. A hold still `blocked` (the job it requires has not ended) is
//! retried for a bounded time; "already approved" is success. The judgement
//! is pure ([`judge`]); [`resume`] does the calls.

use std::time::{Duration, Instant};

use crate::clients::circleci::{CircleCi, Job, Pipeline, Workflow};
use crate::clients::http::ApiError;
use crate::model::binding::Binding;

/// Where a hold stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HoldState {
    /// Waiting for approval: approve this request id.
    Ready(String),
    /// Already approved.
    Approved,
    /// Not waiting yet: the jobs before it still run.
    Blocked,
    /// It will never wait again (workflow cancelled or failed, job not run).
    Gone(String),
    /// No approval job of that name in the workflow.
    Missing,
    /// The workflow is not the ticket's build.
    Mismatch(String),
}

/// The names of every job `job` requires, directly or not (CircleCI's
/// dependencies, by job id).
fn upstream<'a>(jobs: &'a [Job], job: &'a Job) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    let mut frontier: Vec<&str> = job.dependencies.iter().map(String::as_str).collect();
    while let Some(id) = frontier.pop() {
        if let Some(j) = jobs.iter().find(|j| j.id == id)
            && !out.contains(&j.name.as_str())
        {
            out.push(&j.name);
            frontier.extend(j.dependencies.iter().map(String::as_str));
        }
    }
    out
}

/// Judges a hold from the workflow, its pipeline and its jobs. `not_after`:
/// the ticket's other holds; a change hold downstream of one of them is not
/// this ticket's change hold (a plan hold named as a change hold, or another
/// environment's hold after this one's) and is never resumed as one.
pub(crate) fn judge(
    binding: &Binding,
    workflow: &Workflow,
    pipeline: &Pipeline,
    jobs: &[Job],
    hold: &str,
    not_after: &[String],
) -> HoldState {
    let vcs = pipeline.vcs.as_ref();
    let mismatch = if workflow.project_slug != binding.project_slug {
        Some(format!("project {} is not {}", workflow.project_slug, binding.project_slug))
    } else if workflow.pipeline_id != binding.pipeline_id || pipeline.id != binding.pipeline_id {
        Some(format!("pipeline {} is not {}", workflow.pipeline_id, binding.pipeline_id))
    } else if vcs.and_then(|v| v.revision.as_deref()) != Some(binding.commit.as_str()) {
        Some(format!(
            "commit {} is not {}",
            vcs.and_then(|v| v.revision.as_deref()).unwrap_or("(none)"),
            binding.commit
        ))
    } else if vcs.and_then(|v| v.branch.as_deref()).unwrap_or_default() != binding.branch {
        Some(format!("branch {} is not {}", vcs.and_then(|v| v.branch.as_deref()).unwrap_or("(none)"), binding.branch))
    } else {
        None
    };
    if let Some(m) = mismatch {
        return HoldState::Mismatch(m);
    }
    let Some(job) = jobs.iter().find(|j| j.name == hold && j.kind == "approval") else {
        return HoldState::Missing;
    };
    if let Some(before) = upstream(jobs, job).into_iter().find(|n| not_after.iter().any(|o| o == n)) {
        return HoldState::Mismatch(format!("{hold} comes after {before}, another hold of this ticket"));
    }
    match job.status.as_str() {
        // The approval request id; CircleCI uses the job id for it.
        "on_hold" => HoldState::Ready(job.approval_request_id.clone().unwrap_or_else(|| job.id.clone())),
        "success" => HoldState::Approved,
        "blocked" | "not_running" | "queued" => {
            if matches!(workflow.status.as_str(), "canceled" | "failed" | "error" | "unauthorized") {
                HoldState::Gone(format!("the workflow is {}", workflow.status))
            } else {
                HoldState::Blocked
            }
        }
        other => HoldState::Gone(format!("the hold is {other}")),
    }
}

/// What resuming did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resumed {
    /// This call approved it.
    Approved,
    /// It was approved already.
    AlreadyApproved,
}

/// Why a hold was not resumed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HoldError {
    /// A CircleCI call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The workflow is not the ticket's build: refused.
    #[error("refusing to resume {hold} in workflow {workflow}: {why}")]
    Mismatch {
        /// Hold name.
        hold: String,
        /// Workflow id.
        workflow: String,
        /// What differs.
        why: String,
    },
    /// No approval job of that name.
    #[error("workflow {workflow} has no approval job {hold:?}")]
    Missing {
        /// Hold name.
        hold: String,
        /// Workflow id.
        workflow: String,
    },
    /// The hold will not wait again.
    #[error("cannot resume {hold} in workflow {workflow}: {why}")]
    Gone {
        /// Hold name.
        hold: String,
        /// Workflow id.
        workflow: String,
        /// Why.
        why: String,
    },
    /// Still blocked after the bounded wait.
    #[error("{hold} in workflow {workflow} is still blocked after {waited:?}; a later event or reconcile resumes it")]
    StillBlocked {
        /// Hold name.
        hold: String,
        /// Workflow id.
        workflow: String,
        /// How long it waited.
        waited: Duration,
    },
}

/// Every job after the change hold `hold` waits for the plan hold `plan`,
/// except the jobs `plan` itself waits for (they make the plan). The
/// workflow's job list and dependencies are CircleCI's; pure.
pub(crate) fn plan_gate(jobs: &[Job], hold: &str, plan: &str) -> Result<(), String> {
    let Some(p) = jobs.iter().find(|j| j.name == plan && j.kind == "approval") else {
        return Err(format!("the workflow has no plan hold {plan:?} (an approval job) in front of apply"));
    };
    let makes_the_plan = upstream(jobs, p);
    if !makes_the_plan.contains(&hold) {
        return Err(format!("the plan hold {plan} does not come after {hold}"));
    }
    for j in jobs.iter().filter(|j| j.name != plan && !makes_the_plan.contains(&j.name.as_str())) {
        let after = upstream(jobs, j);
        if after.contains(&hold) && !after.contains(&plan) {
            return Err(format!("{} runs after {hold} without waiting for the plan hold {plan}", j.name));
        }
    }
    Ok(())
}

/// Resumes `hold` in `workflow_id` after checking it belongs to `binding`
/// and, given a plan hold, that every deploy job waits for it
/// ([`plan_gate`]). A blocked hold is looked at again every `poll` until
/// `wait` has passed; `still_approved` is asked right before the approval.
pub(crate) fn resume(
    ci: &CircleCi,
    binding: &Binding,
    workflow_id: &str,
    hold: &str,
    (not_after, plan_hold): (&[String], Option<&str>),
    (wait, poll): (Duration, Duration),
    still_approved: &mut dyn FnMut() -> Result<bool, String>,
) -> Result<Resumed, HoldError> {
    let started = Instant::now();
    let (h, w) = (hold.to_owned(), workflow_id.to_owned());
    loop {
        let workflow = ci.workflow(workflow_id)?;
        let pipeline = ci.pipeline(&workflow.pipeline_id)?;
        let jobs = ci.workflow_jobs(workflow_id)?;
        let state = match (judge(binding, &workflow, &pipeline, &jobs, hold, not_after), plan_hold) {
            (HoldState::Ready(id), Some(plan)) => match plan_gate(&jobs, hold, plan) {
                Ok(()) => HoldState::Ready(id),
                Err(why) => HoldState::Mismatch(why),
            },
            (state, _) => state,
        };
        match state {
            HoldState::Ready(id) => {
                // The ticket may have moved while the hold was blocked (a
                // risky plan sent it back): look again right before.
                match still_approved() {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(HoldError::Gone {
                            hold: h,
                            workflow: w,
                            why: "the ticket is no longer approved for this binding".into(),
                        });
                    }
                    Err(why) => return Err(HoldError::Gone { hold: h, workflow: w, why }),
                }
                return match ci.approve(workflow_id, &id) {
                    Ok(()) => Ok(Resumed::Approved),
                    // A concurrent approver got there first.
                    Err(e) if e.status() == Some(400) && e.to_string().to_ascii_lowercase().contains("already") => {
                        Ok(Resumed::AlreadyApproved)
                    }
                    Err(e) => Err(e.into()),
                };
            }
            HoldState::Approved => return Ok(Resumed::AlreadyApproved),
            HoldState::Mismatch(why) => return Err(HoldError::Mismatch { hold: h, workflow: w, why }),
            HoldState::Missing => return Err(HoldError::Missing { hold: h, workflow: w }),
            HoldState::Gone(why) => return Err(HoldError::Gone { hold: h, workflow: w, why }),
            HoldState::Blocked => {
                if started.elapsed() + poll > wait {
                    return Err(HoldError::StillBlocked { hold: h, workflow: w, waited: started.elapsed() });
                }
                std::thread::sleep(poll);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::circleci::Vcs;
    use crate::model::binding::{BuildJob, DeployAction};

    fn binding() -> Binding {
        Binding {
            project_slug: "gh/acme/web".into(),
            environment: "production".into(),
            action: DeployAction::Apply,
            branch: "main".into(),
            commit: "c0ffee".into(),
            pipeline_id: "p1".into(),
            pipeline_number: 7,
            build_job: BuildJob { name: "build".into(), number: 1, id: "j".into() },
        }
    }

    fn workflow(status: &str) -> Workflow {
        Workflow {
            id: "w1".into(),
            name: "deploy".into(),
            status: status.into(),
            pipeline_id: "p1".into(),
            pipeline_number: 7,
            project_slug: "gh/acme/web".into(),
            created_at: None,
        }
    }

    fn pipeline(commit: &str, branch: &str) -> Pipeline {
        Pipeline {
            id: "p1".into(),
            number: 7,
            project_slug: "gh/acme/web".into(),
            state: None,
            vcs: Some(Vcs { revision: Some(commit.into()), branch: Some(branch.into()) }),
            trigger: None,
        }
    }

    fn hold(status: &str) -> Job {
        Job {
            id: "a1".into(),
            name: "hold_change".into(),
            kind: "approval".into(),
            status: status.into(),
            job_number: None,
            approval_request_id: Some("a1".into()),
            approved_by: None,
            dependencies: Vec::new(),
        }
    }

    #[test]
    fn a_hold_of_the_bound_build_is_judged_by_its_status() {
        let b = binding();
        let p = pipeline("c0ffee", "main");
        let j = |s: &str| judge(&b, &workflow("on_hold"), &p, &[hold(s)], "hold_change", &[]);
        assert_eq!(j("on_hold"), HoldState::Ready("a1".into()));
        assert_eq!(j("success"), HoldState::Approved);
        assert_eq!(j("blocked"), HoldState::Blocked);
        assert!(matches!(j("canceled"), HoldState::Gone(_)));
        assert_eq!(judge(&b, &workflow("on_hold"), &p, &[hold("on_hold")], "other", &[]), HoldState::Missing);
        assert!(matches!(
            judge(&b, &workflow("canceled"), &p, &[hold("blocked")], "hold_change", &[]),
            HoldState::Gone(_)
        ));
    }

    #[test]
    fn another_build_is_never_resumed() {
        let b = binding();
        for (w, p) in [
            (Workflow { project_slug: "gh/acme/other".into(), ..workflow("on_hold") }, pipeline("c0ffee", "main")),
            (Workflow { pipeline_id: "p2".into(), ..workflow("on_hold") }, pipeline("c0ffee", "main")),
            (workflow("on_hold"), pipeline("badbad", "main")),
            (workflow("on_hold"), pipeline("c0ffee", "feature")),
        ] {
            assert!(matches!(judge(&b, &w, &p, &[hold("on_hold")], "hold_change", &[]), HoldState::Mismatch(_)));
        }
    }

    /// A job `name` (id `name`) of `kind` requiring `deps`.
    fn job(name: &str, kind: &str, deps: &[&str]) -> Job {
        Job {
            id: name.into(),
            name: name.into(),
            kind: kind.into(),
            dependencies: deps.iter().map(|d| (*d).to_owned()).collect(),
            ..hold("blocked")
        }
    }

    #[test]
    fn every_deploy_job_after_the_change_hold_waits_for_the_plan_hold() {
        let base = [
            job("build", "build", &[]),
            job("request", "build", &["build"]),
            job("hold_change", "approval", &["request"]),
            job("plan", "build", &["hold_change"]),
            job("hold_plan_review", "approval", &["plan"]),
            job("apply", "build", &["hold_plan_review"]),
            job("close", "build", &["apply"]),
        ];
        assert_eq!(plan_gate(&base, "hold_change", "hold_plan_review"), Ok(()));
        // A deploy job beside the plan, after the change hold only.
        let mut side = base.to_vec();
        side.push(job("apply_now", "build", &["hold_change"]));
        let why = plan_gate(&side, "hold_change", "hold_plan_review").unwrap_err();
        assert!(why.contains("apply_now runs after hold_change without waiting"), "{why}");
        // A later job that waits for the plan hold too is fine.
        let mut late = base.to_vec();
        late.push(job("smoke", "build", &["hold_change", "apply"]));
        assert_eq!(plan_gate(&late, "hold_change", "hold_plan_review"), Ok(()));
        // No plan hold, or one not after the change hold.
        let without: Vec<Job> = base.iter().filter(|j| j.name != "hold_plan_review").cloned().collect();
        assert!(plan_gate(&without, "hold_change", "hold_plan_review").unwrap_err().contains("no plan hold"));
        let mut parallel = base.to_vec();
        parallel[4] = job("hold_plan_review", "approval", &["request"]);
        assert!(plan_gate(&parallel, "hold_change", "hold_plan_review").unwrap_err().contains("does not come after"));
        // A job named like the plan hold that is not an approval job.
        let mut fake = base.to_vec();
        fake[4] = job("hold_plan_review", "build", &["plan"]);
        assert!(plan_gate(&fake, "hold_change", "hold_plan_review").is_err());
    }

    #[test]
    fn a_hold_after_another_hold_of_the_ticket_is_not_its_change_hold() {
        let b = binding();
        let p = pipeline("c0ffee", "main");
        let mut first = hold("success");
        first.id = "h1".into();
        let plan = Job {
            id: "j2".into(),
            name: "plan".into(),
            kind: "build".into(),
            dependencies: vec!["h1".into()],
            ..hold("success")
        };
        let second = Job {
            id: "h2".into(),
            name: "hold_plan_review".into(),
            dependencies: vec!["j2".into()],
            ..hold("on_hold")
        };
        let jobs = [first, plan, second];
        let w = workflow("on_hold");
        assert_eq!(judge(&b, &w, &p, &jobs, "hold_plan_review", &[]), HoldState::Ready("a1".into()));
        let s = judge(&b, &w, &p, &jobs, "hold_plan_review", &["hold_change".to_owned()]);
        assert!(matches!(&s, HoldState::Mismatch(why) if why.contains("comes after hold_change")), "{s:?}");
    }
}
