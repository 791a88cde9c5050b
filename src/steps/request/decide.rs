//! The request decision, pure: given this build's binding and the tickets
//! found for it, use one, create one, or refuse.

use crate::config::jira::Statuses;
use crate::model::binding::{Binding, TicketRecord};

/// A ticket as found in Jira.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// Key.
    pub(crate) key: String,
    /// Numeric id (creation order; the lowest wins a race).
    pub(crate) id: u64,
    /// Status name.
    pub(crate) status: String,
    /// The `changegate` property, when the ticket has one.
    pub(crate) record: Option<TicketRecord>,
}

/// What `request` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Exit 1: this build may not use the ticket.
    Refuse {
        /// The ticket.
        key: String,
        /// Why, for the user.
        reason: String,
    },
    /// No ticket for this deploy yet: create one.
    Create,
    /// Use this ticket.
    Use {
        /// The ticket.
        key: String,
        /// The binding changed (a rerun from start rebuilt the artifact, or a
        /// person's ticket is adopted): record it; any approval is void.
        rebind: bool,
        /// This workflow is new to the ticket: record it and its hold.
        add_workflow: bool,
        /// Other live tickets for the same deploy: cancel as duplicates.
        duplicates: Vec<String>,
    },
}

/// Decides from the tickets found by this deploy's idempotency label.
pub(crate) fn decide(binding: &Binding, workflow_id: &str, found: &[Candidate], statuses: &Statuses) -> Decision {
    let key = binding.idempotency_key();
    // The label is a hash prefix; the record must carry the whole key.
    let ours: Vec<&Candidate> =
        found.iter().filter(|c| c.record.as_ref().is_some_and(|r| r.idempotency_key == key)).collect();
    let mut live: Vec<&Candidate> = ours.iter().copied().filter(|c| !statuses.is_closed(&c.status)).collect();
    live.sort_by_key(|c| c.id);
    if let Some((winner, rest)) = live.split_first() {
        let record = winner.record.as_ref().expect("filtered on the record");
        return Decision::Use {
            key: winner.key.clone(),
            rebind: record.binding != *binding,
            add_workflow: !record.workflows.iter().any(|w| w.id == workflow_id),
            duplicates: rest.iter().map(|c| c.key.clone()).collect(),
        };
    }
    if let Some(declined) = ours.iter().find(|c| c.status.eq_ignore_ascii_case(&statuses.declined)) {
        return Decision::Refuse {
            key: declined.key.clone(),
            reason: format!("the change ticket {} for this deploy was declined", declined.key),
        };
    }
    Decision::Create
}

/// Decides for a ticket named with `--ticket`.
pub(crate) fn decide_adoption(
    binding: &Binding,
    workflow_id: &str,
    ticket: &Candidate,
    statuses: &Statuses,
) -> Decision {
    if statuses.is_closed(&ticket.status) {
        return Decision::Refuse {
            key: ticket.key.clone(),
            reason: format!("{} is {}: a closed ticket cannot be used for a new deploy", ticket.key, ticket.status),
        };
    }
    match &ticket.record {
        Some(r) if !r.binding.same_deploy(binding) => Decision::Refuse {
            key: ticket.key.clone(),
            reason: format!("{} is bound to another build: {}", ticket.key, binding.differences(&r.binding).join("; ")),
        },
        Some(r) => Decision::Use {
            key: ticket.key.clone(),
            rebind: r.binding != *binding,
            add_workflow: !r.workflows.iter().any(|w| w.id == workflow_id),
            duplicates: Vec::new(),
        },
        // A ticket a person created: adopt it.
        None => Decision::Use { key: ticket.key.clone(), rebind: true, add_workflow: true, duplicates: Vec::new() },
    }
}

/// Tickets of the same repository and environment from older pipelines
/// whose workflows are all finished: nothing will ever deploy under them,
/// so they must not count as pending. `active` says, per candidate, whether
/// any of its recorded workflows is still running or on hold.
pub(crate) fn superseded(binding: &Binding, stream: &[(Candidate, bool)], statuses: &Statuses) -> Vec<String> {
    stream
        .iter()
        .filter(|(c, active)| {
            !active
                && !statuses.is_closed(&c.status)
                && c.record.as_ref().is_some_and(|r| {
                    r.binding.pipeline_number < binding.pipeline_number
                        && r.binding.project_slug == binding.project_slug
                })
        })
        .map(|(c, _)| c.key.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::jira::JiraConfig;
    use crate::model::binding::{WorkflowRef, tests::binding};

    fn statuses() -> Statuses {
        JiraConfig::default().statuses
    }

    fn ticket(key: &str, id: u64, status: &str, b: Option<&Binding>, workflows: &[&str]) -> Candidate {
        let record = b.map(|b| {
            let mut r = TicketRecord::new(b.clone(), None);
            r.workflows = workflows
                .iter()
                .map(|w| WorkflowRef { id: (*w).into(), hold: None, added_at: String::new() })
                .collect();
            r
        });
        Candidate { key: key.into(), id, status: status.into(), record }
    }

    #[test]
    fn nothing_found_means_create() {
        assert_eq!(decide(&binding(), "wf1", &[], &statuses()), Decision::Create);
    }

    #[test]
    fn same_workflow_again_is_a_no_op() {
        let b = binding();
        let d = decide(&b, "wf1", &[ticket("P-1", 1, "Approved", Some(&b), &["wf1"])], &statuses());
        assert_eq!(d, Decision::Use { key: "P-1".into(), rebind: false, add_workflow: false, duplicates: vec![] });
    }

    #[test]
    fn rerun_adds_the_workflow_and_rerun_from_start_rebinds() {
        let b = binding();
        let found = [ticket("P-1", 1, "Approved", Some(&b), &["wf1"])];
        assert_eq!(
            decide(&b, "wf2", &found, &statuses()),
            Decision::Use { key: "P-1".into(), rebind: false, add_workflow: true, duplicates: vec![] }
        );
        let mut rebuilt = b.clone();
        rebuilt.build_job.number += 1;
        assert_eq!(
            decide(&rebuilt, "wf3", &found, &statuses()),
            Decision::Use { key: "P-1".into(), rebind: true, add_workflow: true, duplicates: vec![] }
        );
    }

    #[test]
    fn lowest_id_wins_a_race_and_the_others_are_duplicates() {
        let b = binding();
        let found = [
            ticket("P-9", 9, "Open", Some(&b), &[]),
            ticket("P-7", 7, "Open", Some(&b), &["wf1"]),
            ticket("P-8", 8, "Open", Some(&b), &[]),
        ];
        match decide(&b, "wf1", &found, &statuses()) {
            Decision::Use { key, duplicates, .. } => {
                assert_eq!(key, "P-7");
                assert_eq!(duplicates, ["P-8", "P-9"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn declined_refuses_closed_ones_make_way_for_a_new_ticket() {
        let b = binding();
        let d = decide(&b, "wf1", &[ticket("P-1", 1, "Declined", Some(&b), &[])], &statuses());
        assert!(matches!(d, Decision::Refuse { ref reason, .. } if reason.contains("declined")), "{d:?}");
        for closed in ["Done", "Failed", "Cancelled"] {
            assert_eq!(decide(&b, "wf1", &[ticket("P-1", 1, closed, Some(&b), &[])], &statuses()), Decision::Create);
        }
    }

    #[test]
    fn a_label_without_the_full_key_is_not_ours() {
        let b = binding();
        let mut other = b.clone();
        other.pipeline_id = "another".into();
        let found = [ticket("P-1", 1, "Approved", Some(&other), &[]), ticket("P-2", 2, "Open", None, &[])];
        assert_eq!(decide(&b, "wf1", &found, &statuses()), Decision::Create);
    }

    #[test]
    fn adoption_checks_the_build() {
        let b = binding();
        let person = ticket("P-5", 5, "Open", None, &[]);
        assert_eq!(
            decide_adoption(&b, "wf1", &person, &statuses()),
            Decision::Use { key: "P-5".into(), rebind: true, add_workflow: true, duplicates: vec![] }
        );
        let mut other = b.clone();
        other.commit = "f".repeat(40);
        let d = decide_adoption(&b, "wf1", &ticket("P-6", 6, "Approved", Some(&other), &[]), &statuses());
        assert!(
            matches!(d, Decision::Refuse { ref reason, .. } if reason.contains("bound to another build") && reason.contains("commit")),
            "{d:?}"
        );
        let d = decide_adoption(&b, "wf1", &ticket("P-7", 7, "Done", Some(&b), &[]), &statuses());
        assert!(matches!(d, Decision::Refuse { ref reason, .. } if reason.contains("closed")), "{d:?}");
    }

    #[test]
    fn only_finished_older_pipelines_are_superseded() {
        let b = binding();
        let mut older = b.clone();
        older.pipeline_number = 41;
        let mut newer = b.clone();
        newer.pipeline_number = 43;
        let stream = [
            (ticket("P-1", 1, "Manual review", Some(&older), &["a"]), false),
            (ticket("P-2", 2, "Open", Some(&older), &["b"]), true),
            (ticket("P-3", 3, "Open", Some(&newer), &["c"]), false),
            (ticket("P-4", 4, "Done", Some(&older), &["d"]), false),
        ];
        assert_eq!(superseded(&b, &stream, &statuses()), ["P-1"]);
    }
}
