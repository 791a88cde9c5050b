//! The command line itself: help text, version, usage errors, exit codes.

use crate::support::Run;

/// The help text is a user interface: any change shows up as a diff.
#[test]
fn top_level_help_is_stable() {
    let out = Run::new(["--help"]).run();
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("help", out.stdout);
}

#[test]
fn plan_check_help_is_stable() {
    let out = Run::new(["plan-check", "--help"]).run();
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("plan_check_help", out.stdout);
}

#[test]
fn request_help_is_stable() {
    let out = Run::new(["request", "--help"]).run();
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("request_help", out.stdout);
}

#[test]
fn validate_and_close_help_are_stable() {
    for (cmd, name) in [("validate", "validate_help"), ("close", "close_help")] {
        let out = Run::new([cmd, "--help"]).run();
        assert_eq!(out.code, 0);
        insta::assert_snapshot!(name, out.stdout);
    }
}

fn changegate() -> assert_cmd::Command {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_changegate"))
}

#[test]
fn version_names_the_crate_version() {
    changegate().arg("--version").assert().success().stdout(format!("changegate {}\n", env!("CARGO_PKG_VERSION")));
}

/// A usage error cannot decide anything: exit 2, never 0 or 1.
#[test]
fn usage_errors_exit_2() {
    let out = changegate().args(["plan-check", "--format", "yaml", "x.json"]).assert().code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("invalid value 'yaml'"), "{stderr}");
    changegate().arg("no-such-command").assert().code(2);
    changegate().assert().code(2);
}

/// README's first command: the whole process, narrated, on nothing but this
/// machine. Each step's outcome is checked by the demo itself; here the
/// story must reach its end, and keep what it says about each step.
#[test]
fn demo_runs_the_whole_process_against_the_stand_ins() {
    let keep = tempfile::tempdir().unwrap();
    let out = Run::new(["demo", "--keep", &keep.path().display().to_string()]).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for line in [
        "$ changegate request --environment production",
        "ok: the analysis sent PRODCM-2 to Manual review",
        "squash_landing_not_reviewed_sha",
        "version_bump_exempt: package.json: version 1.0.0 -> 1.1.0",
        "ok: the attached evidence gives the same decision",
        "ok: the bot resumed hold_change",
        "RISKY: 4 resource changes need review",
        "ok: validate refused the unreviewed plan",
        "ok: the bot resumed hold_plan_review",
        "ok: validate passed with the reviewed plan",
        "ok: PRODCM-2 is Done",
        "status: Done, resolution: Done",
        "Alice Approver: Manual review -> Approved",
        "The demo went as the process says it must.",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?} in:\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("NOT AS EXPECTED"), "{}", out.stdout);
    // The stand-ins' credentials and the receipt key never show.
    for secret in ["ci-token", "bot-token", "alice-token", "circle-token", "gh-token"] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "{secret} leaked:\n{}", out.stdout);
    }
    // --keep leaves what the jobs wrote and what the site holds, and says so.
    for f in ["changegate.json", "changegate.toml", "plan.json", "acme-web/package.json", "site/jira.json"] {
        assert!(keep.path().join(f).exists(), "{f} was not kept");
    }
    let kept = out.stdout.split("\nKept in ").nth(1).expect("the demo lists what it kept");
    assert!(kept.starts_with(&keep.path().canonicalize().unwrap().display().to_string()), "{kept}");
    for line in ["acme-web/", "changegate.json", "plan.tfplan", "site/jira.json", "site/attachments/"] {
        let listed = kept.lines().find(|l| l.trim_start().starts_with(line));
        assert!(listed.is_some_and(|l| l.len() > 48), "{line} is not listed with what it is:\n{kept}");
    }
    // No credential is in any field, property, comment, history entry or
    // attachment of the site, nor in any file the jobs wrote.
    let mut texts = vec![std::fs::read_to_string(keep.path().join("site/jira.json")).unwrap()];
    for dir in [keep.path().join("site/attachments"), keep.path().to_owned()] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                texts.push(String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned());
            }
        }
    }
    assert!(std::fs::read_dir(keep.path().join("site/attachments")).unwrap().count() >= 1, "the evidence is attached");
    for text in &texts {
        for secret in ["ci-token", "bot-token", "alice-token", "circle-token", "gh-token"] {
            assert!(!text.contains(secret), "{secret} is in the record");
        }
    }
}
