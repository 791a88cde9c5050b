//! The lenient SARIF reader on every real file of the shared corpus
//! (Trivy, Grype, Semgrep, CodeQL), including the ones that break the
//! schema.

use changegate::config::scan::ScanConfig;
use changegate::digest::Sha256Digest;
use changegate::evidence::{Evidence, JobFact, SarifArtifact};
use changegate::request::binding::{Binding, BuildJob, DeployAction};
use changegate::review::Verdict;
use changegate::scan_gate;
use changegate::{evidence, sarif};

use crate::support::shared;

fn read(path: &str) -> Result<Vec<sarif::RunFacts>, sarif::SarifError> {
    let text = std::fs::read_to_string(shared("contracts/sarif").join(path)).unwrap();
    sarif::read(&serde_json::from_str(&text).unwrap())
}

#[test]
#[ignore = "external: needs ../shared/contracts/sarif; run with cargo test -- --include-ignored"]
fn every_real_sarif_file_is_read_or_refused_for_a_reason() {
    let dir = shared("contracts/sarif");
    let mut files = 0;
    for tool in std::fs::read_dir(&dir).unwrap() {
        let tool = tool.unwrap().path();
        if !tool.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&tool).unwrap() {
            let f = f.unwrap().path();
            let rel = f.strip_prefix(&dir).unwrap().display().to_string();
            let r = read(&rel);
            if rel == "codeql/invalid-sarif.sarif" {
                assert!(r.unwrap_err().to_string().contains("`results`"), "{rel}");
            } else {
                let runs = r.unwrap_or_else(|e| panic!("{rel}: {e}"));
                assert!(!runs.is_empty(), "{rel}");
                assert!(runs.iter().all(|r| !r.tool.is_empty()), "{rel}");
            }
            files += 1;
        }
    }
    assert!(files >= 14, "the corpus has at least 14 SARIF files, found {files}");
}

#[test]
#[ignore = "external: needs ../shared/contracts/sarif; run with cargo test -- --include-ignored"]
fn facts_of_known_files() {
    let trivy = &read("trivy/alpine-310.sarif").unwrap()[0];
    assert_eq!(trivy.tool, "Trivy");
    assert!(!trivy.results.is_empty());
    assert!(trivy.results.iter().all(|r| !r.suppressed));
    let errors = &read("semgrep/when-errors.sarif").unwrap()[0];
    assert!(!errors.tool_errors.is_empty() || errors.execution_successful == Some(false), "{errors:?}");
    let empty = &read("codeql/empty-sarif.sarif").unwrap()[0];
    assert!(empty.results.is_empty());
    // Zero line numbers break the schema but not the reader.
    assert!(!read("semgrep/sca-ansi-html.sarif").unwrap()[0].results.is_empty());
}

/// A record whose only scan evidence is `path`, stored by the successful
/// scan job `scan` of the deploy.
fn evidence_with(path: &std::path::Path) -> Evidence {
    let binding = Binding {
        project_slug: "gh/acme/web".into(),
        environment: "production".into(),
        action: DeployAction::Apply,
        branch: "main".into(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        pipeline_id: "p".into(),
        pipeline_number: 1,
        build_job: BuildJob { name: "build".into(), number: 1, id: "j".into() },
    };
    let mut e = Evidence::skeleton("PRODCM-1", binding, "2026-11-27T12:00:00Z");
    e.scans.jobs.push(JobFact {
        workflow_id: "w".into(),
        name: "scan".into(),
        status: "success".into(),
        number: Some(9),
    });
    let bytes = std::fs::read(path).unwrap();
    let (runs, error) = evidence::collect::read_sarif_bytes(&bytes);
    e.scans.sarif.push(SarifArtifact {
        kind: "artifact".into(),
        workflow_id: "w".into(),
        job: "scan".into(),
        job_number: 9,
        path: path.file_name().unwrap().to_string_lossy().into_owned(),
        digest: Sha256Digest::of(&bytes),
        runs,
        error,
        source: "test".into(),
    });
    e
}

/// The gate on every real file, under the default threshold
/// (security-severity >= 7.0, else level error). Expected verdicts were
/// read off the files by hand.
#[test]
#[ignore = "external: needs ../shared/contracts/sarif; run with cargo test -- --include-ignored"]
fn the_scan_gate_on_every_real_sarif_file() {
    let cfg = ScanConfig { jobs: vec!["scan".into()], ..ScanConfig::default() };
    let expected: &[(&str, Verdict, &str, usize)] = &[
        // file, verdict, main code, blocking results
        ("codeql/empty-sarif.sarif", Verdict::Pass, "scan_passed", 0),
        ("codeql/fingerprinting.input.sarif", Verdict::Pass, "scan_passed", 0),
        ("codeql/fingerprinting2.input.sarif", Verdict::Pass, "scan_passed", 0),
        ("codeql/invalid-sarif.sarif", Verdict::Fail, "scan_unreadable", 0),
        ("codeql/valid-sarif.sarif", Verdict::Pass, "scan_passed", 0),
        ("codeql/with-invalid-uri.sarif", Verdict::Pass, "scan_passed", 0),
        // CVSS 8.2 at level note and 8.5: security-severity decides.
        ("grype/directory.sarif", Verdict::Fail, "scan_blocking_finding", 2),
        ("grype/image.sarif", Verdict::Fail, "scan_blocking_finding", 2),
        ("semgrep/autofix.sarif", Verdict::Fail, "scan_blocking_finding", 2),
        ("semgrep/dataflow-traces.sarif", Verdict::Pass, "scan_passed", 0),
        ("semgrep/rule-board.sarif", Verdict::Fail, "scan_blocking_finding", 3),
        ("semgrep/sca-ansi-html.sarif", Verdict::Fail, "scan_blocking_finding", 1),
        // executionSuccessful is true, but an error notification says it did not finish.
        ("semgrep/when-errors.sarif", Verdict::Fail, "scan_incomplete", 0),
        // Four findings of CVSS 5.3: counted, not blocking.
        ("trivy/alpine-310.sarif", Verdict::Pass, "scan_passed", 0),
    ];
    let dir = shared("contracts/sarif");
    for (file, verdict, code, blocking) in expected {
        let r = scan_gate::gate(&evidence_with(&dir.join(file)), &cfg);
        assert_eq!(r.verdict, *verdict, "{file}: {r:#?}");
        assert_eq!(r.findings[0].code.as_str(), *code, "{file}: {r:#?}");
        let n: usize = r.scanners.iter().map(|s| s.blocking.len()).sum();
        assert_eq!(n, *blocking, "{file}");
    }
    let trivy = scan_gate::gate(&evidence_with(&dir.join("trivy/alpine-310.sarif")), &cfg);
    assert_eq!(trivy.scanners[0].results, 4);
    // Stricter thresholds block what the default lets through.
    let strict = ScanConfig { blocking_severity: 5.0, ..cfg.clone() };
    assert_eq!(scan_gate::gate(&evidence_with(&dir.join("trivy/alpine-310.sarif")), &strict).verdict, Verdict::Fail);
    let warn = ScanConfig { blocking_level: "warning".into(), ..cfg.clone() };
    assert_eq!(
        scan_gate::gate(&evidence_with(&dir.join("semgrep/dataflow-traces.sarif")), &warn).verdict,
        Verdict::Fail
    );
    // Any other file in the corpus: a pass never hides a blocking result or
    // a tool error.
    for tool in std::fs::read_dir(&dir).unwrap() {
        let tool = tool.unwrap().path();
        for f in std::fs::read_dir(&tool).into_iter().flatten() {
            let f = f.unwrap().path();
            let e = evidence_with(&f);
            let r = scan_gate::gate(&e, &cfg);
            if r.verdict == Verdict::Pass {
                for run in e.scans.sarif[0].runs.as_ref().unwrap() {
                    assert!(run.tool_errors.is_empty() && run.execution_successful != Some(false), "{}", f.display());
                    assert!(!run.results.iter().any(|x| scan_gate::blocks(x, &cfg)), "{}", f.display());
                }
            }
        }
    }
}

/// A record whose scan evidence is `files`, each stored by a successful
/// scan job of its own (`scan-0`, `scan-1`, ...).
fn evidence_of(files: &[&str]) -> Evidence {
    let dir = shared("contracts/sarif");
    let mut e = evidence_with(&dir.join(files[0]));
    e.scans.jobs.clear();
    e.scans.sarif.clear();
    for (i, file) in files.iter().enumerate() {
        let job = format!("scan-{i}");
        e.scans.jobs.push(JobFact {
            workflow_id: "w".into(),
            name: job.clone(),
            status: "success".into(),
            number: Some(9),
        });
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let (runs, error) = evidence::collect::read_sarif_bytes(&bytes);
        e.scans.sarif.push(SarifArtifact {
            kind: "artifact".into(),
            workflow_id: "w".into(),
            job,
            job_number: 9,
            path: file.to_string(),
            digest: Sha256Digest::of(&bytes),
            runs,
            error,
            source: "test".into(),
        });
    }
    e
}

/// `[scan] required` names scanners as people call them: the names the
/// real files carry ("Semgrep OSS", "CodeQL command-line toolchain") match.
#[test]
#[ignore = "external: needs ../shared/contracts/sarif; run with cargo test -- --include-ignored"]
fn required_scanners_match_the_names_real_scanners_write() {
    let files = [
        "trivy/alpine-310.sarif",
        "semgrep/dataflow-traces.sarif",
        "codeql/fingerprinting.input.sarif",
        "grype/image.sarif",
    ];
    let e = evidence_of(&files);
    // The jobs of the record, and the entries as written in changegate.toml.
    let cfg = |e: &Evidence, required: &str| {
        let jobs: Vec<String> = e.scans.jobs.iter().map(|j| format!("{:?}", j.name)).collect();
        changegate::config::Config::parse(
            &format!("[scan]\njobs = [{}]\nrequired = {required}\n", jobs.join(", ")),
            "t.toml",
            changegate::time::Date::new(2026, 11, 27).unwrap(),
        )
        .unwrap()
        .scan
    };
    let r = scan_gate::gate(&e, &cfg(&e, r#"["Trivy", "Semgrep", "CodeQL", "grype"]"#));
    let got: Vec<(&str, Option<&str>)> =
        r.required.iter().map(|x| (x.entry.as_str(), x.satisfied_by.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("Trivy", Some("Trivy")),
            ("Semgrep", Some("Semgrep OSS")),
            ("CodeQL", Some("CodeQL command-line toolchain")),
            ("grype", Some("grype")),
        ]
    );
    assert!(
        r.required[1].detail.starts_with(
            "required \"Semgrep\" satisfied by Semgrep OSS (job scan-1 #9, artifact semgrep/dataflow-traces.sarif sha256:"
        ),
        "{}",
        r.required[1].detail
    );
    // Every required scanner ran; what fails is Grype's findings alone.
    assert_eq!(r.verdict, Verdict::Fail);
    let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["scan_blocking_finding"], "{r:#?}");
    // Without the Grype image scan, the README's kind of list passes.
    let clean = evidence_of(&files[..3]);
    let r = scan_gate::gate(&clean, &cfg(&clean, r#"["Trivy", "Semgrep", "CodeQL"]"#));
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    // A scanner that did not run is named with what was seen.
    let r = scan_gate::gate(&clean, &cfg(&clean, r#"["Trivy", "Snyk"]"#));
    assert_eq!(r.findings[0].code.as_str(), "scan_missing");
    assert_eq!(
        r.findings[0].detail,
        "no run matching \"Snyk\" for 0123456789ab; seen: CodeQL command-line toolchain, Semgrep OSS, Trivy"
    );
    // One file with two scanners' runs (LGTM.com and CodeQL): each entry
    // gets its own run, and a pattern works as well as a name.
    let both = evidence_of(&["codeql/valid-sarif.sarif"]);
    let r = scan_gate::gate(&both, &cfg(&both, "['/^lgtm\\.com$/', 'CodeQL']"));
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    assert_eq!(r.required[0].satisfied_by.as_deref(), Some("LGTM.com"));
    assert_eq!(r.required[1].satisfied_by.as_deref(), Some("CodeQL command-line toolchain"));
    // The "sca-ansi-html" file calls the same tool "semgrep": still Semgrep.
    let lower = evidence_of(&["semgrep/sca-ansi-html.sarif"]);
    let r = scan_gate::gate(&lower, &cfg(&lower, "['Semgrep']"));
    assert_eq!(r.required[0].satisfied_by.as_deref(), Some("semgrep"));
}
