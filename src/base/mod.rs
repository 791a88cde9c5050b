//! The ground floor: what any program could use, nothing of changegate's
//! own rules. Time and time zones, SHA-256 digests and canonical JSON, the
//! environment, `*` globs ([`glob`]), the exit-code contract, the declaration of stable codes
//! ([`codes`]), progress lines, and the report formats (self-contained HTML,
//! JUnit XML, SARIF).

pub mod codes;
pub mod digest;
pub mod env;
pub(crate) mod glob;
pub mod html;
pub mod junit;
pub mod outcome;
pub mod progress;
pub mod sarif;
pub mod time;
pub mod tz;
