//! The lenient SARIF reader on every real file of the shared corpus
//! (Trivy, Grype, Semgrep, CodeQL), including the ones that break the
//! schema.

use changegate::sarif;

use crate::support::shared;

fn read(path: &str) -> Result<Vec<sarif::RunFacts>, sarif::SarifError> {
    let text = std::fs::read_to_string(shared("contracts/sarif").join(path)).unwrap();
    sarif::read(&serde_json::from_str(&text).unwrap())
}

#[test]
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
    assert_eq!(files, 14, "the corpus has 14 SARIF files");
}

#[test]
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
