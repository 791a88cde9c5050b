//! A small builder around the `changegate` binary, and access to the shared
//! test data that lives beside the repository.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `changegate` with arguments, optional stdin, environment and cwd.
#[must_use]
pub struct Run {
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
}

impl Run {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> Self {
        Run { args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(), stdin: None, env: Vec::new(), cwd: None }
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }

    pub fn run(self) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_changegate"));
        cmd.args(&self.args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // A developer's own configuration must not leak into the tests.
        cmd.env_remove("CHANGEGATE_CONFIG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.current_dir(self.cwd.unwrap_or_else(|| tempfile::tempdir().unwrap().keep()));
        let mut child = cmd.spawn().expect("the changegate binary runs");
        let stdin = self.stdin.unwrap_or_default();
        let mut pipe = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            // The binary may stop reading early (a refused plan).
            let _ = pipe.write_all(&stdin);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        Output {
            code: out.status.code().expect("exited normally"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared test data (`../shared` beside the repository, or
/// `CHANGEGATE_SHARED_DIR`). Missing data fails the test loudly: a test that
/// cannot see its inputs must not pass by skipping.
pub fn shared(sub: &str) -> PathBuf {
    let base = std::env::var_os("CHANGEGATE_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared"));
    let dir = base.join(sub);
    assert!(
        dir.exists(),
        "shared test data {} is missing: clone the shared data beside the repository or set CHANGEGATE_SHARED_DIR",
        dir.display()
    );
    dir
}

/// Writes `text` to a file in a fresh temporary directory.
pub fn temp_file(name: &str, text: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// SHA-256 of a file computed by coreutils, independent of our code.
pub fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum is installed");
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// What a flow test sent whose validity only the external checkers judge:
/// Jira documents (Atlassian's ADF schema) and evidence records
/// (`docs/evidence.schema.json`), both with Python's `jsonschema` and the
/// first with `../shared`. The flow test itself runs in a plain
/// `cargo test`; its ignored `..._valid` twin runs the same flow and checks
/// what it returns with [`Produced::check`].
#[derive(Debug, Default)]
#[must_use]
pub struct Produced {
    pub adf: Vec<serde_json::Value>,
    pub evidence: Vec<serde_json::Value>,
}

impl Produced {
    /// Validates everything collected; fails when nothing was.
    pub fn check(self) {
        assert!(!self.adf.is_empty() || !self.evidence.is_empty(), "the flow produced nothing to validate");
        if !self.adf.is_empty() {
            crate::contract::validate_adf(&self.adf);
        }
        for record in &self.evidence {
            crate::collect::validate_evidence(record).unwrap();
        }
    }
}
