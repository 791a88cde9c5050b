//! The GitHub side: every GraphQL query changegate sends is valid against
//! GitHub's published schema (GraphQL cannot pass through Prism), and the
//! REST calls pass Prism serving the official description.

use std::process::Command;

use crate::support::shared;

/// Validates query documents with Python's graphql-core against the
/// schema. GitHub's SDL is not strictly valid (duplicate fields, interface
/// deprecation mismatches), so it is loaded with `assume_valid_sdl`.
fn validate_graphql(queries: &[(&str, String)]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queries.json");
    let docs: Vec<(&str, &str)> = queries.iter().map(|(n, q)| (*n, q.as_str())).collect();
    std::fs::write(&path, serde_json::to_string(&docs).unwrap()).unwrap();
    let script = r#"
import json, sys
from graphql import build_schema, parse, validate
schema = build_schema(open(sys.argv[1]).read(), assume_valid_sdl=True)
bad = 0
for name, text in json.load(open(sys.argv[2])):
    for e in validate(schema, parse(text)):
        bad += 1
        print(f"{name}: {e.message}")
sys.exit(1 if bad else 0)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(shared("contracts").join("github/graphql/schema.graphql"))
        .arg(&path)
        .output()
        .expect("python3 runs (with the graphql-core package)");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

#[test]
#[ignore = "external: needs ../shared and Python's graphql-core; run with cargo test -- --include-ignored"]
fn every_graphql_query_is_valid_against_the_schema() {
    let queries = changegate::github_queries();
    assert!(queries.len() >= 6);
    validate_graphql(&queries).unwrap();
}

#[test]
#[ignore = "external: needs ../shared and Python's graphql-core; run with cargo test -- --include-ignored"]
fn the_validator_rejects_a_misspelt_field() {
    let bad = "query { repository(owner: \"o\", name: \"r\") { pullRequest(number: 1) { reviewz { totalCount } } } }"
        .to_owned();
    let e = validate_graphql(&[("bad", bad)]).unwrap_err();
    assert!(e.contains("Cannot query field 'reviewz'"), "{e}");
}
