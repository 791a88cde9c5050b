//! One vocabulary of stable codes (README.md lists every one).
//!
//! Every verdict carries machine-readable codes that users grep for and
//! auditors read. Each family is declared once with `stable_codes!`: from
//! one list of `Variant => "code", "one-line meaning";` entries it generates
//! the enum (serialised as the code string, as serde's `rename` writes it),
//! `as_str`, `Display`, `ALL`, the meaning (the variant's documentation
//! line) and [`StableCode`], so the test that holds every family to
//! README.md treats them alike. [`Finding`] is the `{code, detail}` pair the reports serialise.
//!
//! The same macro names the values of a field (a verdict, a risk level, a
//! deploy's outcome): those families list no README.md section and are not
//! verdict codes, so they share no namespace with them.
//!
//! The test below holds every code family to README.md: each code is listed
//! in its family's section, and no code means two things.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A family of stable codes, declared with `stable_codes!`.
#[cfg_attr(not(test), expect(dead_code, reason = "read by the test that holds every family to README.md"))]
pub(crate) trait StableCode: Copy + Eq + fmt::Display + fmt::Debug + 'static {
    /// The family's name (in messages).
    const FAMILY: &'static str;
    /// The README.md heading whose section lists the family's codes;
    /// `None` for a family of names (a field's values, not verdict codes).
    const README_SECTION: Option<&'static str>;

    /// The stable code.
    fn code(self) -> &'static str;
    /// What it means, in one line.
    fn meaning(self) -> &'static str;
    /// Every code of the family, in declaration order.
    fn all() -> &'static [Self];

    /// The code spelled `code`, if the family has one.
    fn from_code(code: &str) -> Option<Self> {
        Self::all().iter().copied().find(|c| c.code() == code)
    }
}

/// A stable code with what it means here, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding<C> {
    /// Stable code.
    pub code: C,
    /// For people.
    pub detail: String,
}

impl<C> Finding<C> {
    /// A finding.
    pub fn new(code: C, detail: impl Into<String>) -> Self {
        Finding { code, detail: detail.into() }
    }
}

/// Declares a family of stable codes (the macro is the crate's own, so the
/// example is shown, not compiled; every family in the crate is one):
///
/// ```text
/// stable_codes! {
///     /// Stable reason codes of the scan gate.
///     pub enum ScanCode: "scan gate" in "### The decision" {
///         ScanPassed => "scan_passed", "every required scanner scanned the commit; nothing blocks";
///     }
/// }
/// ```
///
/// The string after `in` is the README.md heading whose section lists the
/// codes; a family of names (the values of a field: a risk level, an
/// outcome) has none. The enum serialises as its code (byte-identical to
/// serde's derived `rename`), orders and compares in declaration order, and
/// compares equal to its code as a `&str`.
macro_rules! stable_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $family:literal in $section:literal {
            $($variant:ident => $code:literal, $meaning:literal;)+
        }
    ) => {
        $crate::base::codes::stable_codes! {
            @emit [$(#[$meta])*] $vis $name $family (Some($section)) { $($variant => $code, $meaning;)+ }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $family:literal {
            $($variant:ident => $code:literal, $meaning:literal;)+
        }
    ) => {
        $crate::base::codes::stable_codes! {
            @emit [$(#[$meta])*] $vis $name $family (None) { $($variant => $code, $meaning;)+ }
        }
    };
    (
        @emit [$(#[$meta:meta])*] $vis:vis $name:ident $family:literal ($section:expr) {
            $($variant:ident => $code:literal, $meaning:literal;)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $(
                #[doc = concat!("`", $code, "`: ", $meaning, ".")]
                #[serde(rename = $code)]
                $variant,
            )+
        }

        impl $name {
            /// Every code of the family, in declaration order.
            #[allow(dead_code, reason = "every family has its whole vocabulary; not every family's users read all of it")]
            $vis const ALL: [$name; [$($code),+].len()] = [$($name::$variant),+];

            /// The stable code.
            $vis const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// What the code means, in one line.
            #[allow(dead_code, reason = "every family has its whole vocabulary; not every family's users read all of it")]
            $vis const fn meaning(self) -> &'static str {
                match self {
                    $($name::$variant => $meaning,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::cmp::PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl $crate::base::codes::StableCode for $name {
            const FAMILY: &'static str = $family;
            const README_SECTION: Option<&'static str> = $section;

            fn code(self) -> &'static str {
                self.as_str()
            }

            fn meaning(self) -> &'static str {
                $name::meaning(self)
            }

            fn all() -> &'static [Self] {
                &$name::ALL
            }
        }
    };
}

pub(crate) use stable_codes;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::StableCode;

    /// One family's codes, as the test sees them.
    struct Family {
        name: &'static str,
        section: Option<&'static str>,
        codes: Vec<(&'static str, &'static str)>,
    }

    fn family<C: StableCode>() -> Family {
        Family {
            name: C::FAMILY,
            section: C::README_SECTION,
            codes: C::all().iter().map(|c| (c.code(), c.meaning())).collect(),
        }
    }

    /// Every family of stable codes.
    fn families() -> Vec<Family> {
        vec![
            family::<crate::model::analysis::Code>(),
            family::<crate::model::analysis::ScanCode>(),
            family::<crate::model::analysis::PolicyCode>(),
            family::<crate::steps::plan::rules::Reason>(),
            family::<crate::steps::validate::ValidateCode>(),
            family::<crate::steps::lock::LockCode>(),
            family::<crate::steps::audit::AuditCode>(),
        ]
    }

    /// Codes more than one family carries, on purpose: the same condition
    /// judged at two steps, so a user grepping for it finds both. Every
    /// other code means one thing across all families (one namespace: the
    /// codes share the reports, the ticket's comments and README.md).
    const SHARED: &[(&str, &[&str])] = &[
        // Facts could not be read: a review, a scan or the policy's own.
        ("evidence_incomplete", &["two-person review", "scan gate", "approval policy"]),
        // No earlier approved deploy: review has no base, the policy asks a person.
        ("first_deploy", &["two-person review", "approval policy"]),
        // An author approved: the pull request (GitHub) or the ticket (Jira).
        ("self_approval", &["two-person review", "validate"]),
        // The change windows: judged at analysis and again at deploy.
        ("outside_change_window", &["approval policy", "validate"]),
        ("change_freeze", &["approval policy", "validate"]),
    ];

    /// The text of README.md under `heading`, up to the next heading of the
    /// same or a higher level.
    fn section(readme: &str, heading: &str) -> String {
        let level = heading.chars().take_while(|c| *c == '#').count();
        let lines: Vec<&str> = readme.lines().collect();
        let Some(start) = lines.iter().position(|l| *l == heading) else {
            panic!("README.md has no heading {heading:?}");
        };
        let ends = |l: &&str| {
            let hashes = l.chars().take_while(|c| *c == '#').count();
            hashes > 0 && hashes <= level && l[hashes..].starts_with(' ')
        };
        let end = lines[start + 1..].iter().position(ends).map_or(lines.len(), |n| start + 1 + n);
        lines[start..end].join("\n")
    }

    #[test]
    fn every_code_is_well_formed_unique_and_documented() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut carriers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for f in families() {
            let Some(heading) = f.section else { panic!("{}: codes need their README.md section", f.name) };
            let text = section(&readme, heading);
            let mut seen = Vec::new();
            for (code, meaning) in &f.codes {
                assert!(
                    !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{}: {code:?} is not snake_case",
                    f.name
                );
                assert!(!meaning.trim().is_empty(), "{}: {code} has no meaning", f.name);
                assert!(!seen.contains(code), "{}: {code} twice", f.name);
                seen.push(*code);
                assert!(
                    text.contains(&format!("`{code}`")),
                    "README.md's section {heading:?} does not list the {} code `{code}`",
                    f.name
                );
                carriers.entry(code).or_default().push(f.name);
            }
        }
        let shared: BTreeMap<&str, Vec<&str>> =
            carriers.into_iter().filter(|(_, families)| families.len() > 1).collect();
        let expected: BTreeMap<&str, Vec<&str>> = SHARED.iter().map(|(c, f)| (*c, f.to_vec())).collect();
        assert_eq!(shared, expected, "codes shared across families (left) are not the documented exceptions (right)");
    }

    #[test]
    fn codes_serialise_as_their_string_and_round_trip() {
        fn check<C: StableCode + serde::Serialize + serde::de::DeserializeOwned>() {
            for c in C::all() {
                let json = serde_json::to_string(c).unwrap_or_default();
                assert_eq!(json, format!("\"{}\"", c.code()));
                assert_eq!(c.to_string(), c.code());
                assert_eq!(serde_json::from_str::<C>(&json).ok(), Some(*c));
                assert_eq!(C::from_code(c.code()), Some(*c));
            }
        }
        check::<crate::model::analysis::Code>();
        check::<crate::model::analysis::ScanCode>();
        check::<crate::model::analysis::PolicyCode>();
        check::<crate::steps::plan::rules::Reason>();
        check::<crate::steps::validate::ValidateCode>();
        check::<crate::steps::lock::LockCode>();
        check::<crate::steps::audit::AuditCode>();
        // Names: the values of a field, not verdict codes.
        check::<crate::model::analysis::Verdict>();
        check::<crate::model::analysis::Recommendation>();
        check::<crate::model::analysis::Risk>();
        check::<crate::steps::plan::rules::Severity>();
        check::<crate::model::binding::DeployAction>();
        check::<crate::steps::close::DeployOutcome>();
        check::<crate::steps::classify::ChangeType>();
        check::<crate::bot::webhook::Source>();
        check::<crate::steps::audit::EmergencyFinding>();
        check::<crate::steps::audit::AuditOutcome>();
    }
}
