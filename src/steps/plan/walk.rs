//! The top level of a plan: its header (format and Terraform versions,
//! whether it is whole), its `configuration`, and each element of the one
//! section a caller judges (`resource_changes` for the plan gate,
//! `resource_drift` for drift). Everything else is skipped by the validating
//! scanner. The plan gate ([`super::check`]) and drift
//! ([`super::drift::check`]) each walk the plan through here with their own
//! judge, so neither depends on the other.

use std::collections::HashSet;
use std::io::Read;

use serde::de::IgnoredAny;

use super::configuration::Configuration;
use super::element::{self, ElementError, ElementReader};
use super::encoding;
use super::model::ResourceChange;
use super::prefetch::{self, Prefetched};
use super::scan::{ChunkSource, ScanError, Scanner};
use crate::base::digest::Sha256Digest;

/// Why a plan could not be judged. Every variant means "could not decide".
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Reading failed.
    #[error("could not read the plan: {0}")]
    Io(#[from] std::io::Error),
    /// Not JSON (or not UTF-8/UTF-16 text, or truncated).
    #[error("{0}")]
    Syntax(ScanError),
    /// JSON, but not a Terraform plan.
    #[error("not a Terraform plan: {0}")]
    NotAPlan(String),
    /// A plan that must not be judged (errored, incomplete, deferred, or a
    /// format this version does not read).
    #[error("plan refused: {0}")]
    Refused(String),
    /// A plan whose content does not match the plan format.
    #[error("malformed plan: {0}")]
    Malformed(String),
}

impl From<ScanError> for PlanError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Decode(encoding::DecodeError::Io(io)) => PlanError::Io(io),
            other => PlanError::Syntax(other),
        }
    }
}

/// What the top level of the plan says about itself.
#[derive(Debug, Default)]
struct Header {
    format_version: Option<String>,
    terraform_version: Option<String>,
    errored: Option<bool>,
    complete: Option<bool>,
    deferred: usize,
    keys: HashSet<String>,
}

/// Keys that only a plan has (a state shown with `terraform show -json` has
/// `values` instead).
const PLAN_KEYS: &[&str] = &["planned_values", "resource_changes", "resource_drift", "output_changes"];

/// The section of the plan whose elements a walk hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    /// `resource_changes`: what applying the plan would do (the plan gate).
    Changes,
    /// `resource_drift`: what changed outside Terraform since the last
    /// apply (drift).
    Drift,
}

impl Section {
    /// The section's key in the plan's top-level object.
    fn key(self) -> &'static str {
        match self {
            Section::Changes => "resource_changes",
            Section::Drift => "resource_drift",
        }
    }
}

/// What a walk found besides the elements it handed out.
#[derive(Debug)]
pub(super) struct Top {
    /// `format_version`.
    pub(super) format_version: Option<String>,
    /// `terraform_version`.
    pub(super) terraform_version: Option<String>,
    /// The `configuration` section, when the plan has one.
    pub(super) configuration: Option<Configuration>,
}

/// Reads `input` on a second thread (hashing and decoding it) while `parse`
/// parses it on this one; returns what `parse` returned and the SHA-256 of
/// the raw bytes read.
pub(super) fn read_hashed<R: Read + Send, T>(
    input: R,
    parse: impl FnOnce(Prefetched) -> Result<T, PlanError>,
) -> Result<(T, Sha256Digest), PlanError> {
    std::thread::scope(|s| {
        let (reader, hasher) = prefetch::spawn(s, input);
        let walked = parse(reader);
        // On error the reader was dropped inside `parse`, which stops the thread.
        let (digest, _) =
            hasher.join().map_err(|_| PlanError::Io(std::io::Error::other("the reading thread failed")))?;
        Ok((walked?, digest))
    })
}

/// Walks the plan's top-level object: reads and checks the header, keeps the
/// `configuration`, hands each element of `section` to `judge` with its
/// index, and skips the rest (validating it). Refuses what is not a whole
/// plan once the object has been read to its end.
pub(super) fn walk<S: ChunkSource>(
    source: S,
    section: Section,
    mut judge: impl FnMut(&ResourceChange<'_>, usize) -> Result<(), PlanError>,
) -> Result<Top, PlanError> {
    let mut sc = Scanner::new(source);
    sc.begin_document_object()?;

    let mut header = Header::default();
    let mut configuration = None;
    let mut reader = ElementReader::default();
    let mut first = true;
    while let Some(key) = sc.next_key(first)? {
        first = false;
        if !header.keys.insert(key.clone()) {
            // Two parsers could read different plans from one file.
            return Err(PlanError::Malformed(format!("the key `{key}` appears twice at the top level")));
        }
        match key.as_str() {
            "format_version" => {
                let v: String = parse_value(sc.capture_value()?, "format_version")?;
                check_format_version(&v)?;
                header.format_version = Some(v);
            }
            "terraform_version" => header.terraform_version = parse_value(sc.capture_value()?, "terraform_version")?,
            "errored" => header.errored = parse_value(sc.capture_value()?, "errored")?,
            "complete" => header.complete = parse_value(sc.capture_value()?, "complete")?,
            "deferred_changes" => {
                let d: Option<Vec<IgnoredAny>> = parse_value(sc.capture_value()?, "deferred_changes")?;
                header.deferred = d.map_or(0, |d| d.len());
            }
            "configuration" => {
                configuration = Some(parse_value::<Configuration>(sc.capture_value()?, "configuration")?);
            }
            k if k == section.key() => each_element(&mut sc, &mut reader, section.key(), &mut judge)?,
            _ => sc.skip_value()?,
        }
    }
    sc.finish()?;
    drop(sc);

    whole_plan(&header)?;
    Ok(Top { format_version: header.format_version, terraform_version: header.terraform_version, configuration })
}

/// Reads each element of the array at the scanner (`resource_changes` or
/// `resource_drift`, named by `section`) and hands it to `judge` with its
/// index. An element that lies wholly in the scanner's current chunk (nearly
/// all: elements are small beside a chunk) is read in place, in the same
/// pass that finds its end; one cut by the end of the chunk is captured
/// first.
fn each_element<S: ChunkSource>(
    sc: &mut Scanner<S>,
    reader: &mut ElementReader,
    section: &str,
    judge: &mut impl FnMut(&ResourceChange<'_>, usize) -> Result<(), PlanError>,
) -> Result<(), PlanError> {
    if !sc.begin_array()? {
        return Ok(());
    }
    let mut index = 0;
    while sc.next_element(index == 0)? {
        let in_place = {
            let (bytes, offset) = sc.window()?;
            match reader.read(bytes) {
                Ok((rc, len)) => {
                    judge(&rc, index)?;
                    Some(len)
                }
                Err(ElementError::Incomplete) => None,
                Err(e) => return Err(element_error(e, section, index, offset)),
            }
        };
        match in_place {
            Some(len) => sc.consume(len),
            None => {
                let (_, offset) = sc.window()?;
                let bytes = sc.capture_value()?;
                let (rc, _) = reader.read(bytes).map_err(|e| element_error(e, section, index, offset))?;
                judge(&rc, index)?;
            }
        }
        index += 1;
    }
    Ok(())
}

/// The error for an element that could not be read; `offset` is where the
/// element starts in the input.
fn element_error(e: ElementError, section: &str, index: usize, offset: u64) -> PlanError {
    match e {
        // Captured bytes are a whole value: reached only by a bug.
        ElementError::Incomplete => PlanError::Syntax(ScanError::Truncated { offset }),
        ElementError::Syntax { at, expected, found } => {
            PlanError::Syntax(ScanError::Unexpected { offset: offset + at as u64, expected, found })
        }
        ElementError::TooDeep { at } => PlanError::Malformed(format!(
            "{section}[{index}]: nested deeper than {} levels at byte {}",
            element::MAX_DEPTH,
            offset + at as u64
        )),
        ElementError::Shape(m) => PlanError::Malformed(format!("{section}[{index}]: {m}")),
    }
}

/// Whether the top level is a plan's, and the whole change: not a state,
/// not errored, incomplete or with deferred changes it does not describe.
fn whole_plan(header: &Header) -> Result<(), PlanError> {
    if !PLAN_KEYS.iter().any(|k| header.keys.contains(*k)) {
        let hint = if header.keys.contains("values") {
            " (it looks like `terraform show -json` of a state; show the saved plan file instead)"
        } else {
            ""
        };
        return Err(PlanError::NotAPlan(format!("the object has none of the keys {}{hint}", PLAN_KEYS.join(", "))));
    }
    if header.errored == Some(true) {
        return Err(PlanError::Refused(
            "the plan is marked `errored`: planning failed, so it is not the whole change".into(),
        ));
    }
    if header.complete == Some(false) {
        return Err(PlanError::Refused(
            "the plan is marked `complete: false`: some changes are left for a later plan, so it is not the whole change".into(),
        ));
    }
    if header.deferred > 0 {
        return Err(PlanError::Refused(format!(
            "the plan has {} deferred change(s) that it does not describe",
            header.deferred
        )));
    }
    Ok(())
}

/// Reads a small top-level value with a message naming the key.
fn parse_value<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], key: &str) -> Result<T, PlanError> {
    serde_json::from_slice(bytes).map_err(|e| PlanError::Malformed(format!("`{key}`: {e}")))
}

/// Accepts format 0.x and 1.x (minor versions only add fields).
fn check_format_version(v: &str) -> Result<(), PlanError> {
    if !v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(PlanError::Malformed(format!("`format_version` {v:?} is not a version number")));
    }
    match v.split('.').next() {
        Some("0" | "1") => Ok(()),
        _ => Err(PlanError::Refused(format!(
            "plan format_version {v} is a major version this changegate does not read (it reads 0.x and 1.x); upgrade changegate"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_versions() {
        for ok in ["0.1", "0.2", "1.0", "1.2", "1.99"] {
            check_format_version(ok).unwrap();
        }
        assert!(matches!(check_format_version("2.0"), Err(PlanError::Refused(_))));
        assert!(matches!(check_format_version("1.x"), Err(PlanError::Malformed(_))));
        assert!(matches!(check_format_version(""), Err(PlanError::Malformed(_))));
    }
}
