//! A small builder around the `changegate` binary, and access to the shared
//! test data that lives beside the repository.

pub(crate) mod sandbox;

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary produced.
#[derive(Debug)]
pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `changegate` with arguments, optional stdin, environment and cwd.
#[must_use]
pub(crate) struct Run {
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
}

impl Run {
    pub(crate) fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> Self {
        Run { args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(), stdin: None, env: Vec::new(), cwd: None }
    }

    pub(crate) fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }

    pub(crate) fn run(self) -> Output {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_changegate"));
        // A developer's own configuration must not leak into the tests.
        cmd.args(&self.args).env_remove("CHANGEGATE_CONFIG").envs(self.env);
        cmd.current_dir(self.cwd.unwrap_or_else(|| tempfile::tempdir().unwrap().keep()));
        // The binary may stop reading early (a refused plan): assert_cmd
        // writes stdin on its own thread and ignores a closed pipe.
        cmd.write_stdin(self.stdin.unwrap_or_default());
        let out = cmd.output().expect("the changegate binary runs");
        Output {
            code: out.status.code().expect("exited normally"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

/// The repository root.
/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared test data (`../shared` beside the repository, or
/// `CHANGEGATE_SHARED_DIR`). Missing data fails the test loudly: a test that
/// cannot see its inputs must not pass by skipping.
pub(crate) fn shared(sub: &str) -> PathBuf {
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
pub(crate) fn temp_file(name: &str, text: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// SHA-256 of a file computed by coreutils, independent of our code.
pub(crate) fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum is installed");
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// Reads a JUnit XML file back with PyPI's `junitparser` (a maintained
/// reader, independent of our writer): the counts the file declares, the
/// counts of its cases, and each case with its result. A machine without
/// junitparser fails the test, naming the package (`.ci/run` installs it).
pub(crate) fn read_junit(path: &Path) -> serde_json::Value {
    let script = r#"
import json, sys
try:
    import junitparser
except ImportError:
    sys.exit("the Python package junitparser is not installed: pip install junitparser (.ci/run installs it)")
xml = junitparser.JUnitXml.fromfile(sys.argv[1])
suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
declared = {k: getattr(xml, k) for k in ("tests", "failures", "errors", "skipped")}
cases = []
for s in suites:
    for c in s:
        results = [{"tag": r._tag, "type": r.type, "message": r.message, "text": r.text} for r in c.result]
        cases.append({"suite": s.name, "classname": c.classname, "name": c.name, "results": results,
                      "system_out": c.system_out})
counted = {
    "tests": len(cases),
    "failures": sum(1 for c in cases for r in c["results"] if r["tag"] == "failure"),
    "errors": sum(1 for c in cases for r in c["results"] if r["tag"] == "error"),
    "skipped": sum(1 for c in cases for r in c["results"] if r["tag"] == "skipped"),
}
print(json.dumps({"declared": declared, "counted": counted, "suites": [s.name for s in suites], "cases": cases}))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 runs (with the junitparser package)");
    assert!(
        out.status.success(),
        "junitparser could not read {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["declared"], v["counted"], "the counts the file declares are those of its cases");
    v
}

/// `(tests, failures, errors)` of a JUnit file read by [`read_junit`].
pub(crate) fn junit_counts(v: &serde_json::Value) -> (u64, u64, u64) {
    let c = &v["counted"];
    (c["tests"].as_u64().unwrap(), c["failures"].as_u64().unwrap(), c["errors"].as_u64().unwrap())
}

/// Parses an HTML report with Python's `html.parser`, strictly: every
/// element closed in order, only the void elements HTML has, and nothing
/// that loads a resource: no script, link, image, frame, object, media,
/// font or base element, no `src`/`srcset`/`on*` attribute, no `url(`,
/// `@import` or `@font-face` in the style, and every `href` an http(s) URL.
/// Returns the page's text (entities decoded), its hrefs and its tags.
pub(crate) fn check_html(path: &Path) -> serde_json::Value {
    let script = r#"
import json, sys
from html.parser import HTMLParser
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BANNED = {"script", "link", "img", "iframe", "frame", "object", "embed", "video", "audio", "source", "track",
          "picture", "svg", "math", "base", "form", "input", "canvas", "noscript", "template"}
class Strict(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.text, self.hrefs, self.tags, self.style, self.problems = [], [], [], [], [], []
        self.doctype = None
    def handle_decl(self, decl):
        self.doctype = decl
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in BANNED:
            self.problems.append(f"<{tag}> loads or runs something")
        for name, value in attrs:
            if name in ("src", "srcset", "background", "poster", "data") or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "href":
                if not (value or "").startswith(("https://", "http://")):
                    self.problems.append(f"href {value!r} is not an http(s) link")
                self.hrefs.append(value)
            if name == "style":
                self.style.append(value or "")
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.problems.append(f"<{tag}/>: self-closing syntax")
    def handle_endtag(self, tag):
        if tag in VOID:
            self.problems.append(f"</{tag}> closes a void element")
        elif not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()
    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            self.style.append(data)
        else:
            self.text.append(data)
p = Strict()
p.feed(open(sys.argv[1], encoding="utf-8").read())
p.close()
if p.stack:
    p.problems.append(f"unclosed: {p.stack}")
if (p.doctype or "").lower() != "doctype html":
    p.problems.append(f"doctype {p.doctype!r}")
style = "".join(p.style).lower()
for banned in ("url(", "@import", "@font-face", "expression("):
    if banned in style:
        p.problems.append(f"{banned} in the style")
print(json.dumps({"problems": p.problems, "text": "".join(p.text), "hrefs": p.hrefs, "tags": p.tags}))
"#;
    let out = Command::new("python3").args(["-c", script]).arg(path).output().expect("python3 runs");
    assert!(out.status.success(), "html.parser: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["problems"], serde_json::json!([]), "{}", path.display());
    let raw = std::fs::read_to_string(path).unwrap();
    for banned in ["<script", "<link", "src=", "@import", "url(", "@font-face", "<img", "<iframe"] {
        assert!(!raw.contains(banned), "{banned} in {}", path.display());
    }
    v
}

/// What a flow test sent whose validity only the external checkers judge:
/// Jira documents (Atlassian's ADF schema) and evidence records
/// (`docs/evidence.schema.json`), both with Python's `jsonschema` and the
/// first with `../shared`. The flow test itself runs in a plain
/// `cargo test`; its ignored `..._valid` twin runs the same flow and checks
/// what it returns with [`Produced::check`].
#[derive(Debug, Default)]
#[must_use]
pub(crate) struct Produced {
    pub adf: Vec<serde_json::Value>,
    pub evidence: Vec<serde_json::Value>,
}

impl Produced {
    /// Validates everything collected; fails when nothing was.
    pub(crate) fn check(self) {
        assert!(!self.adf.is_empty() || !self.evidence.is_empty(), "the flow produced nothing to validate");
        if !self.adf.is_empty() {
            crate::contract::validate_adf(&self.adf);
        }
        for record in &self.evidence {
            crate::collect::validate_evidence(record).unwrap();
        }
    }
}
