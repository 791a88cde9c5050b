//! `[emergency]`: the break-glass path (off unless a group is named).
//!
//! ```toml
//! [emergency]
//! group = "change-break-glass"      # the Jira group whose members may run "Emergency approve"
//! retrospective_within = "24h"      # the retrospective ticket is due this long after the approval
//! retrospective_issue_type = "Task" # its issue type (default: [jira] issue_type)
//! link_type = "Relates"             # the issue link from the retrospective to the change
//! ```
//!
//! An emergency approval counts only when Jira says the person who moved
//! the ticket to Approved is a member of `group`: the workflow lets only
//! that group run the transition, and `validate` checks the membership
//! again, so no job can claim an emergency on its own.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::problems::Problems;
use crate::base::time::parse_duration;

/// `[emergency]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmergency {
    group: Option<Spanned<String>>,
    retrospective_within: Option<Spanned<String>>,
    retrospective_issue_type: Option<String>,
    link_type: Option<String>,
}

/// The validated emergency settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EmergencyConfig {
    /// The Jira group allowed to grant emergencies; `None`: emergencies off.
    pub(crate) group: Option<String>,
    /// How long after the emergency approval the retrospective is due.
    pub(crate) retrospective_within: Duration,
    /// Issue type of the retrospective ticket (`None`: the change tickets' type).
    pub(crate) retrospective_issue_type: Option<String>,
    /// The issue link type from the retrospective to the change ticket.
    pub(crate) link_type: String,
}

impl Default for EmergencyConfig {
    fn default() -> Self {
        EmergencyConfig {
            group: None,
            retrospective_within: DEFAULT_WITHIN,
            retrospective_issue_type: None,
            link_type: "Relates".into(),
        }
    }
}

const DEFAULT_WITHIN: Duration = Duration::from_secs(24 * 3600);

impl RawEmergency {
    pub(super) fn validate(self, p: &mut Problems<'_>) -> EmergencyConfig {
        let group = match self.group {
            Some(g) if g.get_ref().trim().is_empty() => {
                p.at(g.span(), "the break-glass group cannot be empty (leave `group` out to turn emergencies off)");
                None
            }
            Some(g) => Some(g.into_inner().trim().to_owned()),
            None => None,
        };
        let retrospective_within = match self.retrospective_within {
            Some(w) => parse_duration(w.get_ref()).unwrap_or_else(|| {
                p.at(w.span(), format!("not a duration: {:?} (write 24h, 90m or 2d)", w.get_ref()));
                DEFAULT_WITHIN
            }),
            None => DEFAULT_WITHIN,
        };
        let retrospective_issue_type =
            self.retrospective_issue_type.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        let link_type =
            self.link_type.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).unwrap_or_else(|| "Relates".into());
        EmergencyConfig { group, retrospective_within, retrospective_issue_type, link_type }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::time::Date;
    use crate::config::Config;
    use std::time::Duration;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "t.toml", Date::today_utc()).map_err(|e| e.to_string())
    }

    #[test]
    fn off_by_default_and_24_hours_for_the_retrospective() {
        let c = parse("").unwrap();
        assert_eq!(c.emergency.group, None);
        assert_eq!(c.emergency.retrospective_within, Duration::from_secs(86_400));
    }

    #[test]
    fn a_group_turns_it_on() {
        let c = parse("[emergency]\ngroup = \"change-break-glass\"\nretrospective_within = \"2d\"\n").unwrap();
        assert_eq!(c.emergency.group.as_deref(), Some("change-break-glass"));
        assert_eq!(c.emergency.retrospective_within, Duration::from_secs(2 * 86_400));
    }

    #[test]
    fn bad_values_are_named_with_their_place() {
        let e = parse("[emergency]\ngroup = \" \"\nretrospective_within = \"soon\"\n").unwrap_err();
        assert!(e.contains("t.toml:2:9: the break-glass group cannot be empty"), "{e}");
        assert!(e.contains("t.toml:3:24: not a duration: \"soon\""), "{e}");
        assert!(parse("[emergency]\ngroupp = \"x\"\n").unwrap_err().contains("unknown field"));
    }
}
