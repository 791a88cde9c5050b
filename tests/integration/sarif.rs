//! The lenient SARIF reader on every real file of the shared corpus
//! (Trivy, Grype, Semgrep, CodeQL), including the ones that break the
//! schema.

use changegate::ScanConfig;
use changegate::Sha256Digest;
use changegate::Verdict;
use changegate::analyze::collect;
use changegate::analyze::scan_gate;
use changegate::sarif;
use changegate::{Binding, BuildJob, DeployAction};
use changegate::{Evidence, JobFact, SarifArtifact};

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
    let (runs, error) = collect::read_sarif_bytes(&bytes);
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
        let (runs, error) = collect::read_sarif_bytes(&bytes);
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
        changegate::Config::parse(
            &format!("[scan]\njobs = [{}]\nrequired = {required}\n", jobs.join(", ")),
            "t.toml",
            changegate::Date::new(2026, 11, 27).unwrap(),
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

/// Validates SARIF documents against the SARIF 2.1.0 schema of the shared
/// contracts with Python's `jsonschema` (draft 4, the schema's own draft,
/// with the formats it can check). Returns each invalid document's errors.
pub(crate) fn validate_sarif(docs: &[(String, serde_json::Value)]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.json");
    std::fs::write(&path, serde_json::to_string(docs).unwrap()).unwrap();
    let script = r##"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft4Validator.check_schema(schema)
validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
bad = 0
for name, doc in json.load(open(sys.argv[2])):
    for e in validator.iter_errors(doc):
        bad += 1
        print(f"{name}: {e.message} at {list(e.absolute_path)}")
sys.exit(1 if bad else 0)
"##;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(shared("contracts/sarif").join("sarif-schema-2.1.0.json"))
        .arg(&path)
        .output()
        .expect("python3 runs (with the jsonschema package)");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// The validator itself tells valid SARIF from invalid: the shared corpus
/// has a valid CodeQL file and one whose `results` is a number.
#[test]
#[ignore = "external: needs ../shared/contracts/sarif and Python's jsonschema; run with cargo test -- --include-ignored"]
fn the_sarif_validator_tells_valid_from_invalid() {
    let doc = |f: &str| {
        let text = std::fs::read_to_string(shared("contracts/sarif").join(f)).unwrap();
        (f.to_owned(), serde_json::from_str::<serde_json::Value>(&text).unwrap())
    };
    validate_sarif(&[doc("codeql/valid-sarif.sarif"), doc("trivy/alpine-310.sarif")]).unwrap();
    let err = validate_sarif(&[doc("codeql/invalid-sarif.sarif")]).unwrap_err();
    assert!(err.contains("codeql/invalid-sarif.sarif") && err.contains("results"), "{err}");
}

/// `plan-check --format sarif` of the shipped example, with its
/// exemption: valid SARIF 2.1.0, a result per reason of each finding at that
/// reason's level, the exempted reasons as accepted suppressions, the
/// resource as the logical location and the plan file as the artifact; and
/// any SARIF reader (ours) reads it back. `--sarif-out` writes the same.
#[test]
#[ignore = "external: needs ../shared/contracts/sarif and Python's jsonschema; run with cargo test -- --include-ignored"]
fn plan_check_writes_valid_sarif_that_reads_back() {
    let example = crate::support::repo().join("examples");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example.join("plan.json"), dir.path().join("plan.json")).unwrap();
    std::fs::write(dir.path().join("plan.tfplan"), b"binary plan").unwrap();
    let config = example.join("changegate.toml").display().to_string();
    let args = ["plan-check", "plan.json", "--plan-file", "plan.tfplan", "--config", &config];
    let json = crate::support::Run::new(args.iter().copied().chain(["--format", "json"])).cwd(dir.path()).run();
    let out = crate::support::Run::new(args.iter().copied().chain(["--format", "sarif", "--sarif-out", "out.sarif"]))
        .cwd(dir.path())
        .run();
    assert_eq!(out.code, 1, "risky: {}{}", out.stdout, out.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("out.sarif")).unwrap(), out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    validate_sarif(&[("example".into(), doc.clone())]).unwrap();

    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let run = &doc["runs"][0];
    // Every (address, reason) of the findings is a result; of the exempted, a suppressed one.
    let pairs = |key: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = report[key]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| {
                f["reasons"].as_array().unwrap().iter().map(|r| (f["address"].as_str().unwrap().into(), r.to_string()))
            })
            .collect();
        v.sort();
        v
    };
    let results = run["results"].as_array().unwrap();
    let of = |suppressed: bool| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = results
            .iter()
            .filter(|r| r.get("suppressions").is_some() == suppressed)
            .map(|r| {
                let address = r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].as_str().unwrap();
                (address.to_owned(), r["ruleId"].to_string())
            })
            .collect();
        v.sort();
        v
    };
    assert!(!pairs("exempted").is_empty(), "the example's exemption applies");
    assert_eq!(of(false), pairs("findings"));
    assert_eq!(of(true), pairs("exempted"));
    for r in results {
        let art = &r["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(art["uri"], "plan.tfplan", "the plan that will be applied");
        assert_eq!(run["artifacts"][art["index"].as_u64().unwrap() as usize]["location"]["uri"], "plan.tfplan");
    }
    // The trust policy change is high: an error; the replaced instance medium: a warning.
    let level = |address: &str, rule: &str| {
        results
            .iter()
            .find(|r| r["ruleId"] == rule && r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == address)
            .map(|r| r["level"].as_str().unwrap().to_owned())
    };
    assert_eq!(level("aws_iam_role.deploy", "trust_policy").as_deref(), Some("error"));
    assert_eq!(level("aws_instance.worker[0]", "delete").as_deref(), Some("warning"));
    let digests = (&run["artifacts"][0]["hashes"]["sha-256"], &run["artifacts"][1]["hashes"]["sha-256"]);
    assert_eq!(format!("sha256:{}", digests.0.as_str().unwrap()), report["plan_json_digest"].as_str().unwrap());
    assert_eq!(format!("sha256:{}", digests.1.as_str().unwrap()), report["plan_file_digest"].as_str().unwrap());

    // Read back as a scan tool's output.
    let runs = sarif::read(&doc).unwrap();
    assert_eq!(runs[0].tool, "changegate");
    assert_eq!(runs[0].execution_successful, Some(true));
    assert_eq!(runs[0].results.len(), results.len());
    assert_eq!(runs[0].results.iter().filter(|r| r.suppressed).count(), pairs("exempted").len());
    assert!(runs[0].results.iter().any(|r| r.rule == "trust_policy" && r.level == "error"));
}

/// Every real plan of the shared corpus, as SARIF: valid against the
/// schema, with exactly one result per reason of each finding.
#[test]
#[ignore = "external: needs ../shared and Python's jsonschema; run with cargo test -- --include-ignored"]
fn every_corpus_plan_as_sarif_is_valid() {
    use changegate::PlanRules;
    use changegate::plan;
    let dir = shared("tfplans");
    let mut docs = Vec::new();
    let mut results = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(report) = plan::check(std::fs::File::open(&path).unwrap(), &PlanRules::default()) else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let inputs = plan::sarif::Inputs { plan_json: Some(std::path::Path::new(&name)), ..Default::default() };
        let doc = plan::sarif::to_sarif(&report, &inputs);
        let reasons: usize = report.findings.iter().map(|f| f.reasons.len()).sum();
        assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), reasons, "{name}");
        results += reasons;
        docs.push((name, doc));
    }
    assert!(docs.len() >= 100, "the corpus has over 100 plans, {} read", docs.len());
    assert!(results > 100, "the corpus has risky plans: {results} results");
    validate_sarif(&docs).unwrap();
}
