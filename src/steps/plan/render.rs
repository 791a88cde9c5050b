//! The plan JSON rendered from the binary plan itself: `<tool> show -json
//! PLAN_FILE` (Terraform or OpenTofu, after `init`: it needs the providers),
//! so the JSON judged is provably the plan that will be applied, never a
//! file beside it. The tool's and the providers' versions (`<tool> version
//! -json`) are recorded with it. A thin adapter: it runs the tool and
//! returns bytes; judging them is [`super::check`]'s.

use std::path::Path;
use std::process::Command;

use crate::base::digest::Sha256Digest;
use crate::model::binding::{Renderer, Tool};

/// A rendered plan.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    /// The JSON, as the tool wrote it.
    pub(crate) json: Vec<u8>,
    /// Who rendered it.
    pub(crate) renderer: Renderer,
}

/// The plan could not be rendered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RenderError {
    /// The tool could not be started.
    #[error("cannot run `{tool}`: {source} (install it, or put it on PATH)")]
    Spawn {
        /// The command.
        tool: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The tool failed.
    #[error("`{tool} {args}` failed ({status}): {stderr} (run `{tool} init` in the working directory first)")]
    Failed {
        /// The command.
        tool: &'static str,
        /// Its arguments.
        args: String,
        /// Exit status.
        status: String,
        /// The end of what it printed on stderr.
        stderr: String,
    },
    /// `version -json` did not say the version.
    #[error("`{tool} version -json` did not give a version: {why}")]
    Version {
        /// The command.
        tool: &'static str,
        /// Why.
        why: String,
    },
}

fn run(tool: Tool, args: &[&str], cwd: &Path) -> Result<Vec<u8>, RenderError> {
    let out = Command::new(tool.command())
        .args(args)
        .current_dir(cwd)
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .map_err(|source| RenderError::Spawn { tool: tool.command(), source })?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let tail: String = text.trim().chars().rev().take(600).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(RenderError::Failed {
            tool: tool.command(),
            args: args.join(" "),
            status: out.status.to_string(),
            stderr: tail,
        });
    }
    Ok(out.stdout)
}

/// Runs `<tool> show -json PLAN_FILE` and `<tool> version -json` in `cwd`.
pub(crate) fn render(tool: Tool, plan_file: &Path, cwd: &Path) -> Result<Rendered, RenderError> {
    let file = plan_file.to_string_lossy();
    let json = run(tool, &["show", "-json", &file], cwd)?;
    let version = run(tool, &["version", "-json"], cwd)?;
    let v: serde_json::Value = serde_json::from_slice(&version)
        .map_err(|e| RenderError::Version { tool: tool.command(), why: format!("not JSON: {e}") })?;
    let version = v["terraform_version"]
        .as_str()
        .ok_or_else(|| RenderError::Version { tool: tool.command(), why: "no terraform_version".into() })?
        .to_owned();
    let providers = v["provider_selections"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, x)| Some((k.clone(), x.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    Ok(Rendered { json, renderer: Renderer { tool, version, providers } })
}

/// SHA-256 of a plan JSON in canonical form (keys sorted, no whitespace):
/// two renderings of one plan compare equal whatever their layout. `None`
/// when it is not JSON.
pub(crate) fn canonical_digest(json: &[u8]) -> Option<Sha256Digest> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    Some(Sha256Digest::of(crate::base::digest::canonical_json(&v).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_does_not_change_the_canonical_digest() {
        let a = canonical_digest(br#"{"b": 1, "a": [1, {"y": 2, "x": null}]}"#).unwrap();
        let b = canonical_digest(b"{\"a\":[1,{\"x\":null,\"y\":2}],\n \"b\":1}").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, canonical_digest(br#"{"b": 2, "a": [1, {"y": 2, "x": null}]}"#).unwrap());
        assert!(canonical_digest(b"not json").is_none());
    }
}
