//! A lenient SARIF 2.1.0 reader: extracts what a scan gate decides on, from
//! real scanner output that often breaks the schema (zero line numbers,
//! missing fields, odd tool names). What cannot be read is an error, never
//! a silent pass: a document without runs, or with `results` that is not a
//! list, is refused.
//!
//! Severity: the rule's `properties.security-severity` (CVSS-like, 0-10),
//! else the result's `level`, else the invocation's configuration override
//! for the rule, else the rule's `defaultConfiguration.level`, else
//! `warning` (never `none`: a missing level must not downgrade a finding).
//! Rules are found by `ruleIndex`/`ruleId` in the driver, or in the
//! extension `rule.toolComponent.index` names (CodeQL query packs). A result
//! counts as suppressed only when it has suppressions and all of them are
//! `accepted` (an absent status is `accepted`, as in the SARIF SDK); one
//! `underReview` or `rejected` keeps it a finding.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One run of a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFacts {
    /// Tool name (`driver.name`).
    pub tool: String,
    /// Tool version, when given.
    pub(crate) version: Option<String>,
    /// Every invocation finished successfully (`None`: no invocation given).
    pub execution_successful: Option<bool>,
    /// Error-level tool notifications (configuration or execution).
    pub tool_errors: Vec<String>,
    /// The commit analysed (`versionControlProvenance[].revisionId`).
    pub(crate) revisions: Vec<String>,
    /// `automationDetails.id` (category), when given.
    pub(crate) category: Option<String>,
    /// The results.
    pub results: Vec<ResultFacts>,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFacts {
    /// Rule id.
    pub rule: String,
    /// `error`, `warning`, `note`, `none` (effective).
    pub level: String,
    /// `fail`, `open`, `review`, `pass`, `notApplicable`, `informational`.
    pub(crate) kind: String,
    /// `security-severity` of the rule, when given.
    pub(crate) security_severity: Option<f64>,
    /// Suppressed, with every suppression accepted.
    pub suppressed: bool,
    /// Where: the first location's `uri:line`, when given (display only).
    #[serde(default)]
    pub(crate) location: Option<String>,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not readable SARIF: {0}")]
pub struct SarifError(pub String);

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// Reads a SARIF document.
pub fn read(doc: &Value) -> Result<Vec<RunFacts>, SarifError> {
    let runs = doc.get("runs").and_then(Value::as_array).ok_or_else(|| SarifError("no `runs` list".into()))?;
    runs.iter().map(read_run).collect()
}

fn read_run(run: &Value) -> Result<RunFacts, SarifError> {
    let driver = &run["tool"]["driver"];
    let tool = text(&driver["name"]).ok_or_else(|| SarifError("a run without `tool.driver.name`".into()))?;
    let invocations = run["invocations"].as_array();
    let execution_successful =
        invocations.map(|inv| inv.iter().all(|i| i["executionSuccessful"].as_bool().unwrap_or(false)));
    let mut tool_errors = Vec::new();
    let mut overrides: Vec<(&Value, String)> = Vec::new();
    for inv in invocations.into_iter().flatten() {
        for key in ["toolExecutionNotifications", "toolConfigurationNotifications"] {
            for n in inv[key].as_array().into_iter().flatten() {
                if n["level"].as_str() == Some("error") {
                    tool_errors.push(text(&n["message"]["text"]).unwrap_or_else(|| "error".into()));
                }
            }
        }
        for o in inv["ruleConfigurationOverrides"].as_array().into_iter().flatten() {
            if let Some(level) = text(&o["configuration"]["level"]) {
                overrides.push((&o["descriptor"], level));
            }
        }
    }
    let rules = Rules { driver, extensions: run["tool"]["extensions"].as_array().map(Vec::as_slice).unwrap_or(&[]) };
    let results = match &run["results"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().map(|r| read_result(r, &rules, &overrides)).collect(),
        _ => return Err(SarifError(format!("`results` of the {tool} run is not a list"))),
    };
    Ok(RunFacts {
        version: text(&driver["semanticVersion"]).or_else(|| text(&driver["version"])),
        execution_successful,
        tool_errors,
        revisions: run["versionControlProvenance"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| text(&p["revisionId"])).collect())
            .unwrap_or_default(),
        category: text(&run["automationDetails"]["id"]),
        results,
        tool,
    })
}

/// The rule descriptors of a run: the driver's and its extensions'.
struct Rules<'a> {
    driver: &'a Value,
    extensions: &'a [Value],
}

impl<'a> Rules<'a> {
    /// The descriptor a result refers to: by index in the component it
    /// names (the driver unless `rule.toolComponent.index` says otherwise),
    /// else by id anywhere.
    fn find(&self, r: &Value, id: &str) -> Option<&'a Value> {
        let component = match r["rule"]["toolComponent"]["index"].as_u64() {
            Some(i) => self.extensions.get(i as usize)?,
            None => self.driver,
        };
        let list = component["rules"].as_array();
        let index = r["ruleIndex"].as_u64().or_else(|| r["rule"]["index"].as_u64());
        index.and_then(|i| list.and_then(|l| l.get(i as usize))).or_else(|| {
            std::iter::once(self.driver)
                .chain(self.extensions)
                .filter_map(|c| c["rules"].as_array())
                .flatten()
                .find(|x| x["id"].as_str() == Some(id))
        })
    }
}

fn read_result(r: &Value, rules: &Rules<'_>, overrides: &[(&Value, String)]) -> ResultFacts {
    let rule_id = text(&r["ruleId"]).or_else(|| text(&r["rule"]["id"])).unwrap_or_default();
    let rule = rules.find(r, &rule_id);
    let security_severity = rule.and_then(|x| {
        let s = &x["properties"]["security-severity"];
        s.as_f64().or_else(|| s.as_str().and_then(|t| t.trim().parse().ok())).filter(|v: &f64| v.is_finite())
    });
    let overridden = overrides
        .iter()
        .find(|(d, _)| d["id"].as_str() == Some(rule_id.as_str()) && !rule_id.is_empty())
        .map(|(_, level)| level.clone());
    let level = text(&r["level"])
        .or(overridden)
        .or_else(|| rule.and_then(|x| text(&x["defaultConfiguration"]["level"])))
        .unwrap_or_else(|| "warning".into());
    let suppressions = r["suppressions"].as_array();
    let suppressed = suppressions
        .is_some_and(|s| !s.is_empty() && s.iter().all(|x| x["status"].as_str().unwrap_or("accepted") == "accepted"));
    let location = r["locations"].as_array().and_then(|l| l.first()).and_then(|l| {
        let physical = &l["physicalLocation"];
        let uri = text(&physical["artifactLocation"]["uri"])?;
        Some(match physical["region"]["startLine"].as_u64() {
            Some(line) if line > 0 => format!("{uri}:{line}"),
            _ => uri,
        })
    });
    ResultFacts {
        rule: rule_id,
        level,
        kind: text(&r["kind"]).unwrap_or_else(|| "fail".into()),
        security_severity,
        suppressed,
        location,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn severity_comes_from_the_rule_then_the_level() {
        let doc = json!({"runs": [{"tool": {"driver": {"name": "T", "rules": [
            {"id": "A", "properties": {"security-severity": "9.8"}},
            {"id": "B", "defaultConfiguration": {"level": "error"}}]}},
            "invocations": [{"executionSuccessful": true}],
            "results": [{"ruleId": "A", "ruleIndex": 0, "level": "warning"}, {"ruleId": "B"}, {"ruleId": "C"}]}]});
        let r = &read(&doc).unwrap()[0];
        assert_eq!(r.results[0].security_severity, Some(9.8));
        assert_eq!(r.results[1].level, "error");
        assert_eq!(r.results[2].level, "warning");
        assert_eq!(r.execution_successful, Some(true));
    }

    #[test]
    fn only_accepted_suppressions_suppress() {
        let doc = json!({"runs": [{"tool": {"driver": {"name": "T"}}, "results": [
            {"ruleId": "A", "suppressions": [{"kind": "inSource", "status": "accepted"}]},
            {"ruleId": "A", "suppressions": [{"kind": "external", "status": "underReview"}]},
            {"ruleId": "A", "suppressions": [{"kind": "inSource", "status": "accepted"}, {"kind": "external", "status": "rejected"}]},
            {"ruleId": "A", "suppressions": []}]}]});
        let s: Vec<bool> = read(&doc).unwrap()[0].results.iter().map(|r| r.suppressed).collect();
        assert_eq!(s, [true, false, false, false]);
    }

    #[test]
    fn tool_errors_and_unreadable_documents() {
        let doc = json!({"runs": [{"tool": {"driver": {"name": "T"}}, "invocations": [{"executionSuccessful": false,
            "toolExecutionNotifications": [{"level": "error", "message": {"text": "parser crashed"}}]}]}]});
        let r = &read(&doc).unwrap()[0];
        assert_eq!(r.execution_successful, Some(false));
        assert_eq!(r.tool_errors, ["parser crashed"]);
        assert!(read(&json!({})).is_err());
        assert!(read(&json!({"runs": [{"tool": {"driver": {"name": "T"}}, "results": 42}]})).is_err());
    }
}
