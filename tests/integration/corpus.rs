//! Every real plan of the shared corpus against its expected verdict
//! (`MANIFEST.tsv`): the risky addresses and their seed reasons must be
//! exactly the expected ones; beyond-seed reasons may add to them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;

use changegate::PlanRules;
use changegate::plan::{self, Reason};

use crate::support::{Run, shared};

struct Row {
    file: String,
    risky: bool,
    risky_resources: BTreeMap<String, BTreeSet<String>>,
}

fn manifest(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("column {name}"));
    let (file, risky, resources) = (col("file"), col("risky"), col("risky_resources"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            Row {
                file: cells[file].to_owned(),
                risky: cells[risky] == "yes",
                risky_resources: serde_json::from_str(cells[resources]).unwrap(),
            }
        })
        .collect()
}

/// The seed-reason verdict of a report: address -> seed reasons.
fn seed_findings(report: &plan::Report) -> BTreeMap<String, BTreeSet<String>> {
    report
        .findings
        .iter()
        .filter_map(|f| {
            let seed: BTreeSet<String> =
                f.reasons.iter().filter(|r| r.is_seed()).map(|r| r.code().to_owned()).collect();
            (!seed.is_empty()).then(|| (f.address.clone(), seed))
        })
        .collect()
}

#[test]
#[ignore = "external: needs ../shared/tfplans and Python; run with cargo test -- --include-ignored"]
fn every_corpus_plan_gets_its_expected_seed_verdict() {
    let dir = shared("tfplans");
    let rows = manifest(&dir);
    assert_eq!(rows.len(), 121, "the corpus has 121 plans");
    let mut failures = Vec::new();
    for row in &rows {
        let report = match plan::check(File::open(dir.join(&row.file)).unwrap(), &PlanRules::default()) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: refused: {e}", row.file));
                continue;
            }
        };
        let got = seed_findings(&report);
        if got != row.risky_resources {
            failures.push(format!("{}:\n  got      {got:?}\n  expected {:?}", row.file, row.risky_resources));
        }
        if row.risky && !report.risky {
            failures.push(format!("{}: expected risky", row.file));
        }
        // Risky without a seed reason only through a beyond-seed reason.
        if report.risky && !row.risky {
            assert!(report.findings.iter().all(|f| f.reasons.iter().all(|r| !r.is_seed())), "{}", row.file);
        }
    }
    assert!(failures.is_empty(), "{} of {} plans differ:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

#[test]
#[ignore = "external: needs ../shared/tfplans and Python; run with cargo test -- --include-ignored"]
fn manifest_lists_every_plan_in_the_corpus() {
    let dir = shared("tfplans");
    let listed: BTreeSet<String> = manifest(&dir).into_iter().map(|r| r.file).collect();
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(listed, present);
}

/// With every beyond-seed rule switched off, `risky` is exactly the seed
/// verdict of the manifest.
#[test]
#[ignore = "external: needs ../shared/tfplans and Python; run with cargo test -- --include-ignored"]
fn seed_rules_alone_reproduce_the_manifest_verdicts() {
    let dir = shared("tfplans");
    let mut rules = PlanRules::default();
    for r in Reason::ALL {
        rules.disable(r);
    }
    for row in manifest(&dir) {
        let report = plan::check(File::open(dir.join(&row.file)).unwrap(), &rules).unwrap();
        assert_eq!(report.risky, row.risky, "{}", row.file);
    }
}

/// The binary's exit code follows the verdict (all rules enabled).
#[test]
#[ignore = "external: needs ../shared/tfplans and Python; run with cargo test -- --include-ignored"]
fn exit_codes_follow_the_verdict_on_real_plans() {
    let dir = shared("tfplans");
    for (file, code) in [
        ("snyk-cli__tf-plan-destroy.json", 1),
        ("tfjson__sanitize_basic.json", 0),
        ("checkov__win_utf16.json", 0),
        ("checkov__utf16_encoding.json", 1),
        ("checkov__mac_utf8.json", 0),
    ] {
        let out = Run::new(["plan-check".to_owned(), dir.join(file).display().to_string()]).run();
        assert_eq!(out.code, code, "{file}: {}{}", out.stdout, out.stderr);
    }
}

/// The benchmark generator replicates corpus plans many times under module
/// instances; the multi-chunk streaming path must label it exactly as the
/// manifest labels the seeds.
#[test]
#[ignore = "external: needs ../shared/tfplans and Python; run with cargo test -- --include-ignored"]
fn generated_multi_module_plan_matches_its_expected_labels() {
    let dir = shared("tfplans");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("plan.json");
    let status = std::process::Command::new("python3")
        .arg(dir.join("gen_large_plan.py"))
        .args(["--target-mb", "3", "--out"])
        .arg(&out)
        .output()
        .expect("python3 runs the plan generator");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("plan.json.expected.json")).unwrap()).unwrap();
    let expected: BTreeMap<String, BTreeSet<String>> =
        serde_json::from_value(expected["risky_resources"].clone()).unwrap();
    let report = plan::check(File::open(&out).unwrap(), &PlanRules::default()).unwrap();
    let got = seed_findings(&report);
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the generated plan's seed verdict differs from its expected labels");
}
