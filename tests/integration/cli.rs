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

#[test]
fn version_names_the_crate_version() {
    let out = Run::new(["--version"]).run();
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout.trim(), format!("changegate {}", env!("CARGO_PKG_VERSION")));
}

/// A usage error cannot decide anything: exit 2, never 0 or 1.
#[test]
fn usage_errors_exit_2() {
    let out = Run::new(["plan-check", "--format", "yaml", "x.json"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid value 'yaml'"), "{}", out.stderr);
    assert_eq!(Run::new(["no-such-command"]).run().code, 2);
    assert_eq!(Run::new(Vec::<String>::new()).run().code, 2);
}
