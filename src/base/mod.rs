//! The ground floor: what any program could use, nothing of changegate's
//! own rules. Time and time zones, SHA-256 digests and canonical JSON, the
//! environment, `*` globs ([`glob`]), the exit-code contract, the declaration of stable codes
//! ([`codes`]), progress lines, and the report formats (self-contained HTML,
//! JUnit XML, SARIF).

pub(crate) mod codes;
pub(crate) mod digest;
pub(crate) mod env;
pub(crate) mod glob;
pub(crate) mod html;
pub(crate) mod junit;
pub(crate) mod outcome;
pub(crate) mod progress;
pub(crate) mod sarif;
pub(crate) mod time;
pub(crate) mod tz;
