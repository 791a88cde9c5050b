//! Helpers for the library's own unit tests.

pub(crate) mod fake;
