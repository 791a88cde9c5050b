use super::*;
use crate::base::time::Date;
use crate::config::Config;

fn needs(extra: &str) -> Needs {
    let text = format!(
        "[jira]\nproject = \"PRODCM\"\nbot_account_ids = [\"bot-1\"]\n{extra}\n[emergency]\ngroup = \"change-break-glass\"\n"
    );
    let c = Config::parse(&text, "t", Date::new(2026, 12, 7).unwrap()).unwrap();
    Needs::from_config(&c, "change-approvers")
}

fn empty_site() -> Snapshot {
    Snapshot {
        site: "https://acme.atlassian.net".into(),
        project: Some(SiteProject { id: "10000".into(), key: "PRODCM".into(), style: "classic".into(), issues: 0 }),
        rights: Rights { administer: true, site_admin: true },
        issue_types: vec![("10002".into(), "Task".into())],
        issue_type_scheme: Some(("10000".into(), true, vec!["10002".into()])),
        statuses: vec![SiteStatus { id: "10002".into(), name: "Done".into(), category: "DONE".into() }],
        workflow_scheme: Some(SiteWorkflowScheme {
            id: "10000".into(),
            name: "Default Workflow Scheme".into(),
            default_workflow: "jira".into(),
            mappings: BTreeMap::new(),
        }),
        itss: Some(SiteItss { id: "1".into(), name: "Default".into(), mappings: vec![("default".into(), "1".into())] }),
        ..Snapshot::default()
    }
}

#[test]
fn an_empty_site_gets_everything_in_dependency_order() {
    let p = plan(&needs(""), &empty_site());
    assert_eq!(p.plan.blockers().count(), 0, "{:?}", p.plan);
    // Groups, the issue type and fields are ready; the workflow waits for
    // the groups its conditions name, the schemes for the workflow.
    assert!(p.ops.contains(&Op::CreateGroup("change-approvers".into())));
    assert!(p.ops.contains(&Op::CreateGroup("change-break-glass".into())));
    assert!(p.ops.contains(&Op::CreateIssueType("Change".into())));
    assert_eq!(p.ops.iter().filter(|o| matches!(o, Op::CreateField { .. })).count(), 19);
    assert!(!p.ops.iter().any(|o| matches!(o, Op::CreateWorkflow(_) | Op::CreateWorkflowScheme(_))));
    let done = p.plan.steps.iter().find(|s| s.kind == "status" && s.name == "Done").unwrap();
    assert_eq!(done.action, Action::Present, "an existing status is reused by name");
    assert_eq!(p.plan.outcome(), crate::base::outcome::Outcome::Deny);
}

#[test]
fn the_workflow_restricts_approval_to_the_approvers_and_the_bot() {
    let mut snap = empty_site();
    snap.groups.insert("change-approvers".into(), "g-appr".into());
    snap.groups.insert("change-break-glass".into(), "g-bg".into());
    let p = plan(&needs(""), &snap);
    let payload = p
        .ops
        .iter()
        .find_map(|o| match o {
            Op::CreateWorkflow(v) => Some(v.clone()),
            _ => None,
        })
        .expect("the workflow is ready once the groups exist");
    let transitions = payload["workflows"][0]["transitions"].as_array().unwrap();
    let cond = |name: &str| {
        transitions.iter().find(|t| t["name"] == name).unwrap()["conditions"]["conditions"][0]["parameters"].clone()
    };
    assert_eq!(cond("Approve"), json!({"groupIds": "g-appr", "accountIds": "bot-1"}));
    assert_eq!(cond("Decline"), json!({"groupIds": "g-appr", "accountIds": "bot-1"}));
    assert_eq!(cond("Emergency approve"), json!({"groupIds": "g-bg"}));
    assert_eq!(cond("Complete"), Value::Null, "unrestricted transitions carry no condition");
    // Existing statuses are referenced by id, new ones created.
    let done = payload["statuses"].as_array().unwrap().iter().find(|s| s["name"] == "Done").unwrap();
    assert_eq!(done["id"], "10002");
}

fn transition(name: &str, to: &str, groups: &[&str], accounts: &[&str]) -> SiteTransition {
    SiteTransition {
        name: name.into(),
        kind: "DIRECTED".into(),
        from: vec!["1".into(), "2".into(), "3".into()],
        to: to.into(),
        group_ids: groups.iter().map(|g| (*g).to_owned()).collect(),
        account_ids: accounts.iter().map(|g| (*g).to_owned()).collect(),
        other_conditions: false,
    }
}

fn site_with_workflow(approve: SiteTransition, extra: Option<SiteTransition>) -> Snapshot {
    let mut snap = empty_site();
    snap.groups.insert("change-approvers".into(), "g-appr".into());
    snap.groups.insert("change-break-glass".into(), "g-bg".into());
    snap.statuses =
        ["Open", "Waiting for input", "Manual review", "Approved", "Declined", "Done", "Failed", "Cancelled"]
            .iter()
            .enumerate()
            .map(|(i, n)| SiteStatus {
                id: (i + 1).to_string(),
                name: (*n).into(),
                category: match i {
                    0 => "TODO",
                    1..=3 => "IN_PROGRESS",
                    _ => "DONE",
                }
                .into(),
            })
            .collect();
    let mut transitions = vec![
        transition("Request input", "2", &[], &[]),
        transition("Send to review", "3", &[], &[]),
        transition("Send back", "3", &[], &[]),
        approve,
        transition("Emergency approve", "4", &["g-bg"], &[]),
        transition("Decline", "5", &["g-appr"], &["bot-1"]),
        transition("Complete", "6", &[], &[]),
        transition("Fail", "7", &[], &[]),
        transition("Cancel", "8", &[], &[]),
    ];
    for t in &mut transitions {
        t.from = vec!["1".into(), "2".into(), "3".into(), "4".into()];
    }
    transitions.extend(extra);
    snap.workflow = Some(SiteWorkflow { name: "changegate change".into(), statuses: Vec::new(), transitions });
    snap
}

#[test]
fn an_existing_workflow_as_needed_is_present() {
    let snap = site_with_workflow(transition("Approve", "4", &["g-appr"], &["bot-1"]), None);
    let p = plan(&needs(""), &snap);
    let w = p.plan.steps.iter().find(|s| s.kind == "workflow").unwrap();
    assert_eq!(w.action, Action::Present, "{}", w.detail);
}

#[test]
fn any_way_into_approved_open_to_others_is_reported() {
    // An unrestricted Approve: the CI user could approve its own deploy.
    let p = plan(&needs(""), &site_with_workflow(transition("Approve", "4", &[], &[]), None));
    let w = p.plan.steps.iter().find(|s| s.kind == "workflow").unwrap();
    assert_eq!(w.action, Action::Manual);
    assert!(
        w.detail.contains("\"Approve\" leads to Approved and is open to more than change-approvers"),
        "{}",
        w.detail
    );
    // A second, global way into Approved.
    let mut sneaky = transition("Fast track", "4", &[], &[]);
    sneaky.kind = "GLOBAL".into();
    let p = plan(&needs(""), &site_with_workflow(transition("Approve", "4", &["g-appr"], &["bot-1"]), Some(sneaky)));
    let w = p.plan.steps.iter().find(|s| s.kind == "workflow").unwrap();
    assert!(w.detail.contains("\"Fast track\" leads to Approved"), "{}", w.detail);
    // Approve also open to another group.
    let p = plan(&needs(""), &site_with_workflow(transition("Approve", "4", &["g-appr", "g-ci"], &["bot-1"]), None));
    assert_eq!(p.plan.steps.iter().find(|s| s.kind == "workflow").unwrap().action, Action::Manual);
}

#[test]
fn a_team_managed_project_is_refused() {
    let mut snap = empty_site();
    snap.project.as_mut().unwrap().style = "next-gen".into();
    let p = plan(&needs(""), &snap);
    assert_eq!(p.plan.steps.len(), 1);
    assert_eq!(p.plan.steps[0].action, Action::Refused);
    assert!(p.ops.is_empty());
    assert_eq!(p.plan.outcome(), crate::base::outcome::Outcome::Undecided);
}

#[test]
fn without_administer_jira_the_plan_names_the_permission() {
    let mut snap = empty_site();
    snap.rights = Rights { administer: false, site_admin: false };
    let p = plan(&needs(""), &snap);
    assert!(p.ops.is_empty(), "nothing is attempted: {:?}", p.ops);
    let perms: Vec<String> = p
        .plan
        .blockers()
        .filter_map(|s| match &s.action {
            Action::Blocked { permission } => Some(permission.clone()),
            _ => None,
        })
        .collect();
    assert!(perms.iter().any(|p| p == "Administer Jira"));
    assert!(perms.iter().any(|p| p.contains("site-admins")), "groups need site administration: {perms:?}");
    assert_eq!(p.plan.outcome(), crate::base::outcome::Outcome::Undecided);
}

#[test]
fn a_project_with_issues_is_switched_by_hand() {
    let mut snap = site_with_workflow(transition("Approve", "4", &["g-appr"], &["bot-1"]), None);
    snap.project.as_mut().unwrap().issues = 12;
    snap.issue_types.push(("10001".into(), "Change".into()));
    snap.issue_type_scheme = Some(("10000".into(), true, vec!["10002".into(), "10001".into()]));
    snap.our_workflow_scheme = Some(SiteWorkflowScheme {
        id: "10100".into(),
        name: "changegate PRODCM".into(),
        default_workflow: "jira".into(),
        mappings: [("10001".to_owned(), "changegate change".to_owned())].into_iter().collect(),
    });
    let p = plan(&needs(""), &snap);
    let assign = p.plan.steps.iter().find(|s| s.name.starts_with("project PRODCM: use")).unwrap();
    assert_eq!(assign.action, Action::Manual);
    assert!(assign.detail.contains("Switch scheme"), "{}", assign.detail);
    assert!(!p.ops.iter().any(|o| matches!(o, Op::AssignWorkflowScheme { .. })));
}

#[test]
fn fields_are_reused_by_name_and_a_wrong_type_is_not_overwritten() {
    let mut snap = empty_site();
    snap.fields.push(SiteField {
        id: "customfield_1".into(),
        name: "Environment".into(),
        type_key: Some(type_key(FieldType::Text).into()),
        context: None,
    });
    snap.fields.push(SiteField {
        id: "customfield_2".into(),
        name: "Risk level".into(),
        type_key: Some(type_key(FieldType::Text).into()),
        context: None,
    });
    let p = plan(&needs(""), &snap);
    assert_eq!(p.field_ids.get(&TicketField::Environment), Some(&("customfield_1".to_owned(), FieldType::Text)));
    let risk = p.plan.steps.iter().find(|s| s.name == "Risk level").unwrap();
    assert_eq!(risk.action, Action::Manual);
    assert!(
        !p.ops
            .iter()
            .any(|o| matches!(o, Op::CreateField { name, .. } if name == "Environment" || name == "Risk level"))
    );
}

#[test]
fn missing_select_options_are_added() {
    let mut snap = empty_site();
    snap.fields.push(SiteField {
        id: "customfield_3".into(),
        name: "Change type".into(),
        type_key: Some(type_key(FieldType::Select).into()),
        context: Some(("c1".into(), vec!["standard".into()])),
    });
    let p = plan(&needs(""), &snap);
    assert!(p.ops.contains(&Op::AddOptions {
        field: "customfield_3".into(),
        context: "c1".into(),
        values: vec!["normal".into(), "emergency".into()]
    }));
}
