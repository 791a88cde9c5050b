//! Resuming a recorded hold (`type: approval` job) through the CircleCI API
//! (DESIGN.md §1 "Resuming holds", §5 "The bot checks before it resumes").
//!
//! Before approving, the workflow's project, pipeline, branch and commit
//! must equal the ticket's binding: a hold in another build is never
//! resumed. A hold still `blocked` (the job it requires has not ended) is
//! retried for a bounded time; "already approved" is success. The judgement
//! is pure ([`judge`]); [`resume`] does the calls.

use std::time::{Duration, Instant};

use crate::circleci::{CircleCi, Job, Pipeline, Workflow};
use crate::http::ApiError;
use crate::request::binding::Binding;

/// Where a hold stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldState {
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
pub fn judge(
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
pub enum Resumed {
    /// This call approved it.
    Approved,
    /// It was approved already.
    AlreadyApproved,
}

/// Why a hold was not resumed.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
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

/// Resumes `hold` in `workflow_id` after checking it belongs to `binding`.
/// A blocked hold is looked at again every `poll` until `wait` has passed;
/// `still_approved` is asked right before the approval.
pub fn resume(
    ci: &CircleCi,
    binding: &Binding,
    workflow_id: &str,
    hold: &str,
    not_after: &[String],
    (wait, poll): (Duration, Duration),
    still_approved: &mut dyn FnMut() -> Result<bool, String>,
) -> Result<Resumed, HoldError> {
    let started = Instant::now();
    let (h, w) = (hold.to_owned(), workflow_id.to_owned());
    loop {
        let workflow = ci.workflow(workflow_id)?;
        let pipeline = ci.pipeline(&workflow.pipeline_id)?;
        let jobs = ci.workflow_jobs(workflow_id)?;
        match judge(binding, &workflow, &pipeline, &jobs, hold, not_after) {
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
    use crate::circleci::Vcs;
    use crate::request::binding::{BuildJob, DeployAction};

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
            vcs: Some(Vcs { revision: Some(commit.into()), branch: Some(branch.into()), tag: None }),
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
