//! The three answers every command gives, and their exit codes.
//!
//! CI scripts branch on the exit code, so the mapping is a contract every
//! command follows: 0 the policy let the change through, 1 the policy said
//! no or a person must decide (a risky plan escalated, an analysis that
//! needs a reviewer), 2 changegate could not decide (bad input,
//! configuration, network). "Could not decide" is never a pass: a deploy
//! gated on changegate stops on 1 *and* on 2. A step that only escalates
//! (the orb's `plan_gate` beside a hold, `analyze`) may let 1 through to
//! the hold that waits for the person; never 2. README.md has the table of
//! what 0, 1 and 2 mean for each command.

use std::process::ExitCode;

/// The answer of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: nothing stands in the way.
    Pass,
    /// Exit 1: the policy said no (unapproved ticket, ...) or a person must
    /// decide (risky plan, analysis that needs a reviewer).
    Deny,
    /// Exit 2: changegate could not decide. Fails closed.
    Undecided,
}

impl Outcome {
    /// The process exit code of this outcome.
    pub(crate) fn code(self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Deny => 1,
            Outcome::Undecided => 2,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_contract() {
        assert_eq!(Outcome::Pass.code(), 0);
        assert_eq!(Outcome::Deny.code(), 1);
        assert_eq!(Outcome::Undecided.code(), 2);
    }
}
