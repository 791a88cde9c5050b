//! The walk-through in `docs/setup.md` is this test's transcript: from an
//! empty Jira project, CircleCI organization and GitHub repository (the
//! stand-ins) to a site ready for the first gated deploy, each command with
//! what it printed and its exit code. The test fails when the document and
//! the run differ; `CHANGEGATE_BLESS=1 cargo test --test integration
//! setup_docs` writes the run into the document. Addresses of the run are
//! replaced by example ones (the stand-ins listen on a random local port).

use changegate::standins::circleci::ADMIN_TOKEN;

use crate::support::sandbox::Sandbox;
use crate::support::{Output, Run, repo};

const BEGIN: &str = "<!-- begin: transcript written by tests/integration/setup_docs.rs; do not edit -->\n";
const END: &str = "<!-- end: transcript -->\n";
const BOT: &str = "https://changegate-bot.example.com";

struct Transcript<'a> {
    sb: &'a Sandbox,
    text: String,
}

impl Transcript<'_> {
    fn say(&mut self, text: &str) {
        self.text.push_str(text.trim());
        self.text.push_str("\n\n");
    }

    /// Runs `changegate ARGS` with `env`, and writes the command, what it
    /// printed and its exit code; `site` is the example address of the
    /// stand-in's service.
    fn run(&mut self, shown_env: &str, args: &[&str], env: &[(&str, String)], site: &str) -> Output {
        let mut r = Run::new(args.iter().copied()).cwd(self.sb.path()).env("CHANGEGATE_HTTP_ATTEMPTS", "1");
        for (k, v) in env {
            r = r.env(k, v);
        }
        let out = r.run();
        let normalise = |s: &str| {
            s.replace(&self.sb.stand_ins.circleci_url(), site)
                .replace(&self.sb.stand_ins.url(), site)
                .replace(&format!("{}/", self.sb.path().display()), "./")
        };
        let mut shown = String::new();
        if !shown_env.is_empty() {
            shown.push_str(shown_env);
            shown.push('\n');
        }
        shown.push_str(&format!("$ changegate {}\n", args.join(" ")));
        shown.push_str(&normalise(&out.stdout));
        shown.push_str(&normalise(&out.stderr));
        self.text.push_str(&format!("```console\n{}```\n\nexit {}\n\n", shown, out.code));
        out
    }
}

#[test]
fn the_setup_guide_is_the_transcript_of_a_real_run() {
    let config = format!("{}\n\n{}", crate::setup_jira::START.trim_end(), crate::setup_ci::LOCK);
    let sb = Sandbox::with_config(&config);
    sb.stand_ins.with_jira(|j| j.site = changegate::standins::jira_site::Site::empty("PRODCM"));
    crate::setup_ci::circleci_org(&sb.stand_ins);
    let _git = crate::setup_ci::github_repo(&sb.stand_ins);
    let jira = [
        ("JIRA_BASE_URL", sb.stand_ins.url()),
        ("JIRA_USER_EMAIL", "admin@acme.test".to_owned()),
        ("JIRA_API_TOKEN", "admin-token".to_owned()),
        ("CHANGEGATE_JIRA_WEBHOOK_SECRETS", "jira-hook-secret".to_owned()),
    ];
    let jira_env = "$ export JIRA_BASE_URL=https://acme.atlassian.net JIRA_USER_EMAIL=admin@acme.com JIRA_API_TOKEN=...\n\
                    $ export CHANGEGATE_JIRA_WEBHOOK_SECRETS=...   # the bot's, as the bot has it";
    let mut t = Transcript { sb: &sb, text: String::new() };

    t.say(
        "The starting point: a company-managed Jira project `PRODCM` with Jira's defaults, and this \
         `changegate.toml` (no field ids, no statuses: setup finds or makes them):",
    );
    t.text.push_str(&format!("```toml\n{config}```\n\n"));
    t.say("### 1. Jira: read the site and print the plan (nothing is changed)");
    let plan = t.run(jira_env, &["setup", "jira"], &jira, "https://acme.atlassian.net");
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);

    t.say(
        "### 2. Jira: make it so\n\nWith an administrator's token (*Administer Jira*, and site administration for \
         the groups), `--apply` makes what the plan lists, registers the bot's webhook, writes the ids into \
         `changegate.toml` (its comments kept) and checks the result as `config check` does. Exit 1: the \
         groups are still empty.",
    );
    let applied = t.run("", &["setup", "jira", "--apply", "--bot-url", BOT], &jira, "https://acme.atlassian.net");
    assert_eq!(applied.code, 1, "{}{}", applied.stdout, applied.stderr);

    t.say(
        "### 3. People\n\nAn administrator adds the approvers to `change-approvers` and the on-call leads to \
         `change-break-glass` (admin.atlassian.com > Groups). A second run finds everything and changes \
         nothing:",
    );
    sb.stand_ins.with_jira(|j| {
        j.add_to_group("alice@acme.test", "change-approvers");
        j.add_to_group("bob@acme.test", "change-approvers");
        j.add_to_group("carol@acme.test", "change-break-glass");
    });
    let again = t.run("", &["setup", "jira", "--apply", "--bot-url", BOT], &jira, "https://acme.atlassian.net");
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);

    t.say(
        "### 4. CircleCI: the restricted production context, the CI context and the bot's webhook\n\nWith an \
         organization admin's personal token:",
    );
    let ci = [
        ("CIRCLECI_API_URL", sb.stand_ins.circleci_url()),
        ("CIRCLE_TOKEN", ADMIN_TOKEN.to_owned()),
        ("CHANGEGATE_CIRCLECI_WEBHOOK_SECRETS", "circleci-hook-secret".to_owned()),
    ];
    let ci_env = "$ export CIRCLE_TOKEN=...   # an organization admin's\n\
                  $ export CHANGEGATE_CIRCLECI_WEBHOOK_SECRETS=...   # the bot's";
    let out = t.run(
        ci_env,
        &["setup", "circleci", "--project", "web", "--bot-url", BOT, "--apply"],
        &ci,
        "https://circleci.com/api/v2",
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    t.say(
        "### 5. GitHub: what the bot's token may read, and the branch protection the review rules rely on \
         (read-only)",
    );
    let gh = [("GITHUB_API_URL", sb.stand_ins.url()), ("GITHUB_TOKEN", changegate::standins::github::TOKEN.to_owned())];
    let out = t.run(
        "$ export GITHUB_TOKEN=...   # the bot's",
        &["setup", "github", "--repo", crate::collect::REPO],
        &gh,
        "https://api.github.com",
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for secret in ["admin-token", "jira-hook-secret", "circleci-hook-secret", changegate::standins::github::TOKEN] {
        assert!(!t.text.contains(secret), "a secret in the transcript: {secret}");
    }

    let path = repo().join("docs/setup.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/setup.md has no transcript markers ({BEGIN:?} ... {END:?})");
    };
    let current = &doc[b + BEGIN.len()..e];
    if std::env::var_os("CHANGEGATE_BLESS").is_some() {
        let new = format!("{}{BEGIN}{}{}", &doc[..b], t.text, &doc[e..]);
        std::fs::write(&path, new).unwrap();
        return;
    }
    assert!(
        current == t.text,
        "docs/setup.md is not the transcript of this run: CHANGEGATE_BLESS=1 cargo test --test integration setup_docs \
         writes it. The run:\n{}",
        t.text
    );
}
