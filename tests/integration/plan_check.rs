//! `changegate plan-check` end to end: refusals, formats, the JSON contract,
//! sensitive values, configuration, stdin and digests.

use serde_json::{Value, json};

use crate::support::{Run, repo, sha256sum, temp_file};

/// A minimal plan around some resource changes.
fn plan(changes: Value) -> String {
    let mut doc = json!({"format_version": "1.2", "terraform_version": "1.9.8", "planned_values": {}});
    doc["resource_changes"] = changes;
    doc.to_string()
}

fn check_stdin(doc: &str, extra: &[&str]) -> crate::support::Output {
    let mut args = vec!["plan-check", "-"];
    args.extend_from_slice(extra);
    Run::new(args).stdin(doc).run()
}

/// Every input that cannot be judged is refused with exit 2 and a message
/// that names the problem; none of them passes.
#[test]
fn inputs_that_cannot_be_judged_are_refused() {
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "the input is empty"),
        ("whitespace", "  \n ".into(), "the input is empty"),
        ("not JSON", "Error: Failed to load plan".into(), "not valid JSON at byte 0"),
        ("truncated", plan(json!([]))[..40].to_owned(), "ends unexpectedly"),
        ("array", "[]".into(), "a plan is a JSON object"),
        ("object without plan keys", "{\"hello\": 1}".into(), "not a Terraform plan"),
        (
            "state, not plan",
            json!({"format_version": "1.0", "values": {"root_module": {}}}).to_string(),
            "of a state; show the saved plan file instead",
        ),
        (
            "errored",
            json!({"format_version": "1.2", "errored": true, "planned_values": {}}).to_string(),
            "marked `errored`",
        ),
        (
            "incomplete",
            json!({"format_version": "1.2", "complete": false, "planned_values": {}}).to_string(),
            "`complete: false`",
        ),
        (
            "deferred",
            json!({"format_version": "1.2", "planned_values": {}, "deferred_changes": [{"reason": "provider_config_unknown"}]})
                .to_string(),
            "1 deferred change",
        ),
        (
            "major version",
            json!({"format_version": "2.0", "planned_values": {}}).to_string(),
            "major version this changegate does not read",
        ),
        (
            "bad version",
            json!({"format_version": 1.2, "planned_values": {}}).to_string(),
            "`format_version`",
        ),
        (
            "unknown mode",
            plan(json!([{"address": "x.y", "mode": "mystery", "type": "x", "change": {"actions": ["create"]}}])),
            "unknown mode \"mystery\"",
        ),
        (
            "no actions",
            plan(json!([{"address": "x.y", "mode": "managed", "type": "x", "change": {"actions": []}}])),
            "`actions` is empty",
        ),
        (
            "change missing",
            plan(json!([{"address": "x.y", "mode": "managed", "type": "x"}])),
            "resource_changes[0]: missing field `change`",
        ),
        ("trailing garbage", format!("{} {{}}", plan(json!([]))), "after the plan object"),
        ("control character", "{\"format_version\": \"1.\u{1}2\"}".into(), "control characters must be escaped"),
        (
            "duplicate key",
            "{\"format_version\":\"1.2\",\"resource_changes\":[],\"resource_changes\":[]}".into(),
            "appears twice",
        ),
    ];
    for (name, doc, message) in cases {
        let out = check_stdin(&doc, &[]);
        assert_eq!(out.code, 2, "{name}: exit {} stdout {}", out.code, out.stdout);
        assert!(out.stdout.is_empty(), "{name}: no report for a refused plan");
        assert!(out.stderr.contains(message), "{name}: {:?} does not contain {message:?}", out.stderr);
    }
}

#[test]
fn invalid_utf8_bytes_are_refused() {
    let (_d, path) = temp_file("p.json", b"{\"format_version\": \"1.2\", \"x\": \"\xff\"}");
    let out = Run::new(["plan-check".to_owned(), path.display().to_string()]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not valid UTF-8 at byte 32"), "{}", out.stderr);
}

#[test]
fn missing_plan_file_is_an_error_naming_it() {
    let out = Run::new(["plan-check", "/nonexistent/plan.json"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot open the plan /nonexistent/plan.json"), "{}", out.stderr);
}

/// A plan with no `resource_changes` has no changes: a pass.
#[test]
fn plan_without_changes_passes() {
    let out = check_stdin(&json!({"format_version": "1.2", "planned_values": {}}).to_string(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.ends_with("NOT RISKY: no risky change in 0 resource changes\n"), "{}", out.stdout);
}

/// The JSON output is a contract: its keys, types and values.
#[test]
fn json_report_follows_the_contract() {
    let path = repo().join("examples/plan.json");
    let (_d, bin) = temp_file("plan.tfplan", b"binary plan bytes");
    let out = Run::new([
        "plan-check".to_owned(),
        path.display().to_string(),
        "--format".into(),
        "json".into(),
        "--plan-file".into(),
        bin.display().to_string(),
    ])
    .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["risky"], true);
    assert_eq!(r["format_version"], "1.2");
    assert_eq!(r["terraform_version"], "1.9.8");
    assert_eq!(
        r["summary"],
        json!({"create": 2, "update": 4, "delete": 0, "replace": 1, "no_op": 1, "read": 1, "forget": 0})
    );
    assert_eq!(r["plan_json_digest"], sha256sum(&path));
    assert_eq!(r["plan_file_digest"], sha256sum(&bin));
    let findings = r["findings"].as_array().unwrap();
    let addresses: Vec<&str> = findings.iter().map(|f| f["address"].as_str().unwrap()).collect();
    assert_eq!(
        addresses,
        [
            "aws_s3_bucket_policy.assets",
            "aws_iam_role.deploy",
            "aws_security_group_rule.https_in",
            "aws_instance.worker[0]"
        ]
    );
    let replace = &findings[3];
    assert_eq!(replace["type"], "aws_instance");
    assert_eq!(replace["actions"], json!(["create", "delete"]));
    assert_eq!(replace["reasons"], json!(["delete"]));
    assert_eq!(replace["severity"], "medium");
    assert!(replace["detail"].as_str().unwrap().contains("forced by ami"));
    for f in findings {
        for key in ["address", "type", "actions", "reasons", "severity", "detail"] {
            assert!(f.get(key).is_some(), "finding lacks {key}");
        }
    }
    // The reformatted-but-equal bucket policy is not a finding.
    assert!(!addresses.contains(&"aws_s3_bucket_policy.logs"));
}

/// The markdown and text renderings of the shipped example.
#[test]
fn text_and_markdown_renderings_are_stable() {
    let path = repo().join("examples/plan.json").display().to_string();
    let text = Run::new(["plan-check", &path]).run();
    insta::assert_snapshot!("example_text", text.stdout);
    let md = Run::new(["plan-check", &path, "--format", "markdown"]).run();
    assert_eq!(md.code, 1);
    insta::assert_snapshot!("example_markdown", md.stdout);
}

/// A plan with a sensitive policy and a database password: the policy is
/// compared (the change is found) but no format shows either value.
#[test]
fn sensitive_values_are_compared_but_never_shown() {
    let secret_policy_old = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::old-secret-bucket/*"}]}).to_string();
    let secret_policy_new = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::new-secret-bucket/*", "Principal": "*"}]}).to_string();
    let doc = plan(json!([
        {"address": "aws_iam_policy.p", "mode": "managed", "type": "aws_iam_policy", "name": "p",
         "change": {"actions": ["update"],
                    "before": {"name": "p", "policy": secret_policy_old},
                    "after": {"name": "p", "policy": secret_policy_new},
                    "before_sensitive": {"policy": true}, "after_sensitive": {"policy": true}}},
        {"address": "aws_db_instance.db", "mode": "managed", "type": "aws_db_instance", "name": "db",
         "change": {"actions": ["delete", "create"], "replace_paths": [["password"]],
                    "before": {"password": "hunter2-old-password", "publicly_accessible": false},
                    "after": {"password": "hunter3-new-password", "publicly_accessible": true},
                    "before_sensitive": {"password": true}, "after_sensitive": true}},
        {"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b",
         "change": {"actions": ["update"], "before": {"acl": "private"}, "after": {"acl": "public-read"},
                    "before_sensitive": {"acl": true}, "after_sensitive": {"acl": true}}}
    ]));
    for format in ["text", "markdown", "json"] {
        let out = check_stdin(&doc, &["--format", format]);
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        for secret in ["secret-bucket", "hunter2", "hunter3", "s3:GetObject", "public-read"] {
            assert!(!out.stdout.contains(secret), "{format} output shows {secret}:\n{}", out.stdout);
            assert!(!out.stderr.contains(secret), "{format} stderr shows {secret}");
        }
        assert!(out.stdout.contains("(sensitive)"), "{format}: {}", out.stdout);
        assert!(out.stdout.contains("aws_iam_policy.p"), "the sensitive policy change is still found");
    }
}

/// Moved, imported and forgotten resources are not risks but are reported.
#[test]
fn moved_imported_and_forgotten_resources_are_noted_not_flagged() {
    let doc = plan(json!([
        {"address": "aws_s3_bucket.new", "previous_address": "aws_s3_bucket.old", "mode": "managed",
         "type": "aws_s3_bucket", "name": "new", "change": {"actions": ["no-op"], "before": {}, "after": {}}},
        {"address": "aws_instance.i", "mode": "managed", "type": "aws_instance", "name": "i",
         "change": {"actions": ["no-op"], "before": {}, "after": {}, "importing": {"id": "i-123"}}},
        {"address": "aws_iam_role.kept", "mode": "managed", "type": "aws_iam_role", "name": "kept",
         "change": {"actions": ["forget"], "before": {}, "after": null}},
        {"address": "aws_iam_role.re", "mode": "managed", "type": "aws_iam_role", "name": "re",
         "change": {"actions": ["create", "forget"], "before": {}, "after": {}}}
    ]));
    let out = check_stdin(&doc, &["--format", "json"]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let kinds: Vec<&str> = r["notes"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["moved", "imported", "forgotten", "forgotten"]);
    // Forgetting destroys nothing; creating the new role is an IAM change.
    let findings: Vec<&str> =
        r["findings"].as_array().unwrap().iter().map(|f| f["address"].as_str().unwrap()).collect();
    assert_eq!(findings, ["aws_iam_role.re"]);
    assert_eq!(r["findings"][0]["reasons"], json!(["iam"]));
    assert_eq!(r["summary"]["forget"], 1);
    assert_eq!(r["summary"]["create"], 1);
}

/// Drift and data sources never count.
#[test]
fn drift_and_data_sources_never_count() {
    let doc = json!({"format_version": "1.2", "planned_values": {},
        "resource_drift": [{"address": "aws_security_group.sg", "mode": "managed", "type": "aws_security_group",
                            "change": {"actions": ["delete"]}}],
        "resource_changes": [{"address": "data.aws_iam_policy_document.d", "mode": "data",
                              "type": "aws_iam_policy_document", "name": "d", "change": {"actions": ["read"]}}]})
    .to_string();
    let out = check_stdin(&doc, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// A policy unknown until apply counts only when the configuration sets it.
#[test]
fn unknown_policy_on_create_depends_on_the_configuration() {
    let change = |kind: &str, name: &str| {
        json!({"address": format!("{kind}.{name}"), "mode": "managed", "type": kind, "name": name,
               "change": {"actions": ["create"], "before": null, "after": {}, "after_unknown": {"policy": true}}})
    };
    let mut doc: Value =
        serde_json::from_str(&plan(json!([change("aws_s3_bucket", "b"), change("aws_s3_bucket_policy", "p")])))
            .unwrap();
    doc["configuration"] = json!({"root_module": {"resources": [
        {"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b", "expressions": {"bucket": {}}},
        {"address": "aws_s3_bucket_policy.p", "mode": "managed", "type": "aws_s3_bucket_policy", "name": "p",
         "expressions": {"policy": {"references": ["data.aws_iam_policy_document.d.json"]}}}]}});
    let out = check_stdin(&doc.to_string(), &["--format", "json"]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let addresses: Vec<&str> =
        r["findings"].as_array().unwrap().iter().map(|f| f["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, ["aws_s3_bucket_policy.p"]);

    // Without a configuration section, the unknown is assumed configured.
    doc.as_object_mut().unwrap().remove("configuration");
    let out = check_stdin(&doc.to_string(), &["--format", "json"]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["findings"].as_array().unwrap().len(), 2);
    assert_eq!(r["notes"][0]["kind"], "assumption");
}

/// Reading from stdin and from a file give the same report and digest.
#[test]
fn stdin_and_file_agree() {
    let path = repo().join("examples/plan.json");
    let bytes = std::fs::read(&path).unwrap();
    let from_file =
        Run::new(["plan-check".to_owned(), path.display().to_string(), "--format".into(), "json".into()]).run();
    let from_stdin = Run::new(["plan-check", "--format", "json"]).stdin(bytes).run();
    assert_eq!(from_file.stdout, from_stdin.stdout);
    assert_eq!(from_file.code, 1);
}

#[test]
fn json_out_writes_the_report_beside_the_chosen_format() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("report.json");
    let out = Run::new([
        "plan-check".to_owned(),
        repo().join("examples/plan.json").display().to_string(),
        "--json-out".into(),
        json_path.display().to_string(),
    ])
    .run();
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("RISKY: 4 resource changes need review"));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(r["findings"].as_array().unwrap().len(), 4);
}

mod config {
    use super::*;

    fn example_with(config: &str) -> crate::support::Output {
        let (dir, _) = temp_file("changegate.toml", config);
        let plan = repo().join("examples/plan.json").display().to_string();
        Run::new(["plan-check", &plan, "--format", "json"]).cwd(dir.path()).run()
    }

    /// The shipped example configuration exempts the HTTPS rule.
    #[test]
    fn exemption_moves_a_finding_to_exempted() {
        let config = std::fs::read_to_string(repo().join("examples/changegate.toml")).unwrap();
        let out = example_with(&config);
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        let addresses: Vec<&str> =
            r["findings"].as_array().unwrap().iter().map(|f| f["address"].as_str().unwrap()).collect();
        assert!(!addresses.contains(&"aws_security_group_rule.https_in"));
        assert_eq!(r["exempted"][0]["address"], "aws_security_group_rule.https_in");
        assert_eq!(r["exempted"][0]["reasons"], json!(["security_group", "public_exposure"]));
        assert_eq!(r["exempted"][0]["expires"], "2027-03-31");
        assert!(r["exempted"][0]["justification"].as_str().unwrap().contains("NET-1042"));
        assert_eq!(out.code, 1, "other findings remain");
    }

    #[test]
    fn exemption_of_some_reasons_leaves_the_others() {
        let out = example_with(
            r#"
[[plan.exemptions]]
address = "aws_iam_role.deploy"
reasons = ["iam"]
justification = "deploy role changes are reviewed in the platform repo"
expires = 2099-01-01
"#,
        );
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        let deploy = r["findings"].as_array().unwrap().iter().find(|f| f["address"] == "aws_iam_role.deploy").unwrap();
        assert_eq!(deploy["reasons"], json!(["trust_policy"]));
        assert!(!deploy["detail"].as_str().unwrap().contains("IAM resource updated"));
    }

    #[test]
    fn expired_exemption_does_not_apply_and_is_noted() {
        let out = example_with(
            r#"
[[plan.exemptions]]
address = "aws_instance.worker[*]"
reasons = ["delete"]
justification = "workers are cattle"
expires = 2020-01-01
"#,
        );
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        assert!(r["findings"].as_array().unwrap().iter().any(|f| f["address"] == "aws_instance.worker[0]"));
        let note = r["notes"].as_array().unwrap().iter().find(|n| n["kind"] == "exemption_expired").unwrap();
        assert!(note["detail"].as_str().unwrap().contains("expired on 2020-01-01"));
    }

    #[test]
    fn glob_exemption_and_unused_exemption() {
        let out = example_with(
            r#"
[[plan.exemptions]]
address = "aws_instance.worker[*]"
reasons = ["delete"]
justification = "workers are cattle"
expires = 2099-01-01

[[plan.exemptions]]
address = "aws_lambda_function.gone"
reasons = ["delete"]
justification = "removed last quarter"
expires = 2099-01-01
"#,
        );
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        assert!(!r["findings"].as_array().unwrap().iter().any(|f| f["address"] == "aws_instance.worker[0]"));
        let unused: Vec<&Value> =
            r["notes"].as_array().unwrap().iter().filter(|n| n["kind"] == "exemption_unused").collect();
        assert_eq!(unused.len(), 1);
        assert_eq!(unused[0]["address"], "aws_lambda_function.gone");
    }

    #[test]
    fn switching_off_a_rule_and_adding_a_type() {
        // A table defined twice is a TOML error: reported with its place.
        let out = example_with("[plan.rules]\ntrust_policy = false\n[plan.rules]\npublic_exposure = false\n");
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains("changegate.toml:3:"), "{}", out.stderr);

        let out = example_with(
            "[plan]\nextra_risky_types = [\"aws_db_*\"]\nextra_type_severity = \"high\"\n\n[plan.rules]\ntrust_policy = false\n",
        );
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        let find = |a: &str| r["findings"].as_array().unwrap().iter().find(|f| f["address"] == a).cloned();
        assert_eq!(find("aws_iam_role.deploy").unwrap()["reasons"], json!(["iam"]));
        let db = find("aws_db_instance.main").unwrap();
        assert_eq!(db["reasons"], json!(["extra_type"]));
        assert_eq!(db["severity"], "high");
    }

    #[test]
    fn invalid_configuration_exits_2_with_the_place() {
        let out = example_with("[plan.rules]\ndelete = false\n");
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains("changegate.toml:2:1: `delete` is a seed rule"), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }

    #[test]
    fn config_is_found_by_flag_environment_and_circleci_folder() {
        let plan = repo().join("examples/plan.json").display().to_string();
        let bad = "[plan.rules]\nnope = true\n";
        let (dir, path) = temp_file("custom.toml", bad);
        let by_flag = Run::new(["plan-check", &plan, "--config", path.to_str().unwrap()]).run();
        assert!(by_flag.stderr.contains("unknown rule `nope`"), "{}", by_flag.stderr);
        let by_env = Run::new(["plan-check", &plan]).env("CHANGEGATE_CONFIG", path.to_str().unwrap()).run();
        assert!(by_env.stderr.contains("unknown rule `nope`"), "{}", by_env.stderr);
        std::fs::create_dir(dir.path().join(".circleci")).unwrap();
        std::fs::write(dir.path().join(".circleci/changegate.toml"), bad).unwrap();
        let by_folder = Run::new(["plan-check", &plan]).cwd(dir.path()).run();
        assert!(by_folder.stderr.contains(".circleci/changegate.toml"), "{}", by_folder.stderr);
        let missing = Run::new(["plan-check", &plan]).env("CHANGEGATE_CONFIG", "/nonexistent.toml").run();
        assert_eq!(missing.code, 2);
        assert!(missing.stderr.contains("cannot read the configuration /nonexistent.toml"), "{}", missing.stderr);
    }
}

/// Synthetic plans beside the real corpus: each kind of public exposure
/// through the binary, risky (exit 1) with its reason, and its private
/// twin safe (exit 0).
#[test]
fn network_acls_access_blocks_and_public_databases_are_public_exposure() {
    let cases = [
        (
            "aws_network_acl_rule",
            json!({"egress": false, "rule_action": "allow", "cidr_block": "0.0.0.0/0", "protocol": "tcp", "from_port": 22, "to_port": 22, "rule_number": 100, "network_acl_id": "acl-1"}),
            json!({"egress": false, "rule_action": "allow", "cidr_block": "10.1.0.0/16", "protocol": "tcp", "from_port": 22, "to_port": 22, "rule_number": 100, "network_acl_id": "acl-1"}),
        ),
        (
            "aws_network_acl",
            json!({"vpc_id": "vpc-1", "ingress": [{"action": "allow", "cidr_block": "", "ipv6_cidr_block": "::/0", "protocol": "tcp", "from_port": 443, "to_port": 443, "rule_no": 10, "icmp_code": 0, "icmp_type": 0}]}),
            json!({"vpc_id": "vpc-1", "ingress": [{"action": "allow", "cidr_block": "10.0.0.0/8", "ipv6_cidr_block": "", "protocol": "tcp", "from_port": 443, "to_port": 443, "rule_no": 10, "icmp_code": 0, "icmp_type": 0}]}),
        ),
        (
            "aws_s3_bucket_public_access_block",
            json!({"bucket": "b", "block_public_acls": false, "block_public_policy": false, "ignore_public_acls": true, "restrict_public_buckets": true}),
            json!({"bucket": "b", "block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}),
        ),
        (
            "aws_db_instance",
            json!({"identifier": "db", "engine": "postgres", "publicly_accessible": true}),
            json!({"identifier": "db", "engine": "postgres", "publicly_accessible": false}),
        ),
    ];
    let on = json!({"bucket": "b", "block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true});
    for (kind, public, private) in cases {
        for (after, want) in [(public, 1), (private, 0)] {
            // An update from the private form (a new resource for the ACLs and
            // the database), as Terraform writes it.
            let change = if kind == "aws_s3_bucket_public_access_block" {
                json!({"actions": ["update"], "before": on, "after": after, "after_unknown": {}})
            } else {
                json!({"actions": ["create"], "before": null, "after": after, "after_unknown": {}})
            };
            let doc = plan(json!([{"address": format!("{kind}.x"), "mode": "managed", "type": kind, "name": "x",
                "provider_name": "registry.terraform.io/hashicorp/aws", "change": change}]));
            let out = check_stdin(&doc, &["--format", "json"]);
            assert_eq!(out.code, want, "{kind}: {}{}", out.stdout, out.stderr);
            if want == 1 {
                assert!(out.stdout.contains("public_exposure"), "{kind}: {}", out.stdout);
            }
        }
    }
}
