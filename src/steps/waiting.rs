//! A request that waits, and an approval that lapses, decided purely; the
//! bot acts on them in `converge`.
//!
//! - A live, unapproved request that has waited `[approval] remind_after`
//!   gets a reminder mentioning the approvers, and another after each
//!   further period; once it has waited `[approval] expire_after` it ends
//!   Cancelled with resolution Expired and its workflows are cancelled — the
//!   deploy neither passes nor hangs silently.
//! - An approved ticket whose approval no longer counts (older than the
//!   approval TTL, or the binding changed after it) is sent back to manual
//!   review with a comment saying why, so the lapse is visible on the
//!   ticket, not only in a failing `validate`.
//!
//! The waiting time counts from the last change to the binding (a rebuilt
//! artifact starts a new request).

use std::time::Duration;

use crate::base::time::Timestamp;
use crate::model::approval::{ApprovalProblem, ApprovalVerdict};

/// What a waiting request needs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing.
    Wait,
    /// Remind the approvers (a comment carrying `marker`, posted once).
    Remind {
        /// Marks the reminder of this period.
        marker: String,
        /// Whole hours waited.
        hours: u64,
    },
    /// End it: Cancelled, resolution Expired.
    Expire {
        /// Whole hours waited.
        hours: u64,
    },
}

/// The step for a request of `key` waiting since `since`, given the markers
/// of the comments already on it.
pub(crate) fn step(
    key: &str,
    since: Timestamp,
    now: Timestamp,
    remind_after: Option<Duration>,
    expire_after: Option<Duration>,
    posted: &[String],
) -> Step {
    let waited = u64::try_from(now.0.saturating_sub(since.0)).unwrap_or(0);
    let hours = waited / 3_600_000;
    if let Some(e) = expire_after
        && u128::from(waited) >= e.as_millis()
    {
        return Step::Expire { hours };
    }
    if let Some(r) = remind_after {
        let period = u64::try_from(r.as_millis()).unwrap_or(u64::MAX).max(1);
        let n = waited / period;
        if n >= 1 {
            let marker = format!("changegate:waiting-reminder:{key}:{}:{n}", since.0);
            if !posted.contains(&marker) {
                return Step::Remind { marker, hours };
            }
        }
    }
    Step::Wait
}

/// Why an approval on an approved ticket no longer counts, when it lapsed
/// (expired, or the change moved after it), with a marker naming that
/// lapse so it is announced once.
pub(crate) fn lapse(v: &ApprovalVerdict) -> Option<(String, String)> {
    if v.valid {
        return None;
    }
    v.problems.iter().find_map(|p| match p {
        ApprovalProblem::Expired { at, .. } => {
            Some((format!("changegate:approval-lapsed:expired:{}", at.0), format!("the approval {p}")))
        }
        ApprovalProblem::BeforeChange { at, .. } => Some((
            format!("changegate:approval-lapsed:changed:{}", at.0),
            format!("the approval no longer counts: {p}"),
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const FOUR: Option<Duration> = Some(Duration::from_secs(4 * 3600));
    const WEEK: Option<Duration> = Some(Duration::from_secs(7 * 86_400));

    fn at(h: i64) -> Timestamp {
        Timestamp(h * H)
    }

    #[test]
    fn reminded_once_per_period_then_expired() {
        assert_eq!(step("P-1", at(0), at(3), FOUR, WEEK, &[]), Step::Wait);
        let Step::Remind { marker, hours } = step("P-1", at(0), at(5), FOUR, WEEK, &[]) else { panic!() };
        assert_eq!(hours, 5);
        assert_eq!(step("P-1", at(0), at(7), FOUR, WEEK, std::slice::from_ref(&marker)), Step::Wait);
        let Step::Remind { marker: second, .. } = step("P-1", at(0), at(8), FOUR, WEEK, std::slice::from_ref(&marker))
        else {
            panic!()
        };
        assert_ne!(second, marker, "the next period has its own reminder");
        assert_eq!(step("P-1", at(0), at(168), FOUR, WEEK, &[]), Step::Expire { hours: 168 });
        assert_eq!(step("P-1", at(0), at(167), None, WEEK, &[]), Step::Wait, "reminders off");
        assert_eq!(step("P-1", at(0), at(10_000), None, None, &[]), Step::Wait, "expiry off");
    }

    #[test]
    fn a_rebind_starts_the_clock_again() {
        let Step::Remind { marker, .. } = step("P-1", at(0), at(5), FOUR, WEEK, &[]) else { panic!() };
        // Rebound at hour 6: a new request, a new first reminder.
        assert_eq!(step("P-1", at(6), at(9), FOUR, WEEK, std::slice::from_ref(&marker)), Step::Wait);
        assert!(matches!(step("P-1", at(6), at(10), FOUR, WEEK, &[marker]), Step::Remind { .. }));
    }

    #[test]
    fn only_an_expired_or_overtaken_approval_lapses() {
        let v = |valid, problems| ApprovalVerdict { valid, approvers: vec![], by_bot: false, latest: None, problems };
        let expired = ApprovalProblem::Expired { at: at(1), ttl: Duration::from_secs(86_400) };
        let (m, why) = lapse(&v(false, vec![expired.clone()])).unwrap();
        assert!(m.ends_with(&format!("expired:{H}")), "{m}");
        assert!(why.contains("older than the approval TTL"), "{why}");
        let changed = ApprovalProblem::BeforeChange { what: "the last change to the binding".into(), at: at(2) };
        assert!(lapse(&v(false, vec![changed])).unwrap().1.contains("no approval since the last change"));
        assert_eq!(lapse(&v(true, vec![expired])), None, "a valid approval stands");
        let unmapped = ApprovalProblem::Unmapped { account: "x".into() };
        assert_eq!(lapse(&v(false, vec![unmapped])), None, "not a lapse: it never counted");
    }
}
