//! The change type and risk level written on the ticket, decided purely
//! from what the ticket records: the emergency asked for, the bot's
//! analysis, and the plans recorded.
//!
//! - **emergency**: `request --emergency` asked for it (only a break-glass
//!   approval grants it: see [`crate::steps::emergency`]).
//! - **standard**: a pre-approved class of change — the analysis recommends
//!   approval, every commit deployed is an exempt version bump, and no
//!   recorded plan is risky.
//! - **normal**: everything else (and anything not yet analysed).
//!
//! The risk level is the highest of: the analysis's risk (`medium` until
//! there is one: a person must look), each recorded plan's (a risky plan's
//! highest finding severity; a safe plan is `low`), and `high` for an
//! emergency (it skips the review).

use serde_json::Value;

use crate::base::codes::stable_codes;
use crate::model::analysis::Code;
use crate::model::analysis::{Decision, Risk};
use crate::model::binding::TicketRecord;

stable_codes! {
    /// The change type, as written on the ticket.
    pub(crate) enum ChangeType: "change type" {
        Standard => "standard", "a pre-approved class of change";
        Normal => "normal", "reviewed the usual way";
        Emergency => "emergency", "asked for as an emergency";
    }
}

/// Change type and risk level, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Class {
    /// The change type.
    pub(crate) change_type: ChangeType,
    /// The risk level.
    pub(crate) risk: Risk,
    /// Why, in words.
    pub(crate) why: String,
}

/// What the bot's analysis says, as its property records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AnalysisSummary {
    /// Its risk.
    pub(crate) risk: Risk,
    /// It recommends approval.
    pub(crate) approve: bool,
    /// Every commit deployed is an exempt version bump (and there is one).
    pub(crate) only_version_bumps: bool,
}

impl AnalysisSummary {
    /// From a decision.
    pub(crate) fn of(d: &Decision) -> Self {
        let landings = &d.review.landings;
        AnalysisSummary {
            risk: d.risk,
            approve: d.recommendation == crate::model::analysis::Recommendation::Approve,
            only_version_bumps: !landings.is_empty()
                && landings.iter().all(|l| l.findings.first().is_some_and(|f| f.code == Code::VersionBumpExempt)),
        }
    }

    /// From the bot's record (`changegate.bot`), when it holds an analysis.
    /// For the ticket's risk and change type fields only, which are shown to
    /// people and decide nothing: the record is not verified here.
    pub(crate) fn from_bot(bot: Option<&Value>) -> Option<Self> {
        let a = crate::model::analysis::unverified_analysis(bot?)?;
        Some(AnalysisSummary {
            risk: a.risk,
            approve: a.recommendation == crate::model::analysis::Recommendation::Approve,
            only_version_bumps: a.only_version_bumps,
        })
    }
}

fn level(name: &str) -> Risk {
    match name {
        "low" => Risk::Low,
        "medium" => Risk::Medium,
        _ => Risk::High,
    }
}

/// Classifies a change. Pure.
pub(crate) fn classify(record: &TicketRecord, analysis: Option<AnalysisSummary>) -> Class {
    let emergency = record.emergency.is_some();
    let risky_plans: Vec<&str> = record.plans.iter().filter(|(_, p)| p.risky).map(|(s, _)| s.as_str()).collect();
    let plan_risk = record
        .plans
        .values()
        .map(|p| if p.risky { p.severity.as_deref().map_or(Risk::High, level) } else { Risk::Low })
        .max();
    let mut risk = analysis.map_or(Risk::Medium, |a| a.risk).max(plan_risk.unwrap_or(Risk::Low));
    if emergency {
        risk = Risk::High;
    }
    let (change_type, why) = if emergency {
        (ChangeType::Emergency, "asked for as an emergency: it skips the review".to_owned())
    } else {
        match analysis {
            None => (ChangeType::Normal, "not analysed yet".to_owned()),
            Some(a) if a.approve && a.only_version_bumps && risky_plans.is_empty() => {
                (ChangeType::Standard, "only exempt version bumps, every check passed, no risky plan".to_owned())
            }
            Some(a) if a.approve && a.only_version_bumps => {
                (ChangeType::Normal, format!("only version bumps, but a risky plan for {}", risky_plans.join(", ")))
            }
            Some(a) if a.approve => (ChangeType::Normal, "reviewed code changes".to_owned()),
            Some(_) => (ChangeType::Normal, "a person must review it".to_owned()),
        }
    };
    Class { change_type, risk, why }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::binding::{PlanRecord, tests::binding};

    fn record() -> TicketRecord {
        TicketRecord::new(binding(), None)
    }

    fn plan(risky: bool, severity: Option<&str>) -> PlanRecord {
        serde_json::from_value(serde_json::json!({
            "json_digest": format!("sha256:{}", "a".repeat(64)), "risky": risky, "reasons": [], "findings": 0,
            "severity": severity, "recorded_at": "x", "workflow_id": "w", "label": "l"}))
        .unwrap()
    }

    const BUMPS: AnalysisSummary = AnalysisSummary { risk: Risk::Low, approve: true, only_version_bumps: true };

    #[test]
    fn only_approved_version_bumps_without_a_risky_plan_are_standard() {
        let mut r = record();
        assert_eq!(classify(&r, Some(BUMPS)).change_type, ChangeType::Standard);
        assert_eq!(classify(&r, Some(BUMPS)).risk, Risk::Low);
        r.plans.insert("default".into(), plan(false, None));
        assert_eq!(classify(&r, Some(BUMPS)).change_type, ChangeType::Standard, "a safe plan keeps it standard");
        r.plans.insert("db".into(), plan(true, Some("medium")));
        let c = classify(&r, Some(BUMPS));
        assert_eq!((c.change_type, c.risk), (ChangeType::Normal, Risk::Medium), "{}", c.why);
        assert!(c.why.contains("risky plan for db"), "{}", c.why);
    }

    #[test]
    fn code_changes_manual_reviews_and_the_unanalysed_are_normal() {
        let r = record();
        let code = AnalysisSummary { only_version_bumps: false, ..BUMPS };
        assert_eq!(classify(&r, Some(code)).change_type, ChangeType::Normal);
        let manual = AnalysisSummary { approve: false, risk: Risk::High, ..BUMPS };
        let m = classify(&r, Some(manual));
        assert_eq!((m.change_type, m.risk), (ChangeType::Normal, Risk::High));
        assert_eq!(m.why, "a person must review it");
        let none = classify(&r, None);
        assert_eq!((none.change_type, none.risk), (ChangeType::Normal, Risk::Medium));
    }

    #[test]
    fn an_emergency_is_emergency_and_high_risk() {
        let mut r = record();
        r.emergency = Some(crate::model::binding::EmergencyRequest {
            reason: "down".into(),
            requested_by: None,
            requested_at: "x".into(),
        });
        let c = classify(&r, Some(BUMPS));
        assert_eq!((c.change_type, c.risk), (ChangeType::Emergency, Risk::High));
    }

    #[test]
    fn the_risk_is_the_highest_of_analysis_and_plans() {
        let mut r = record();
        r.plans.insert("a".into(), plan(true, Some("high")));
        assert_eq!(classify(&r, Some(BUMPS)).risk, Risk::High);
        let analysis = serde_json::json!({"fingerprint": "f", "marker": "m",
            "evidence_digest": crate::base::digest::Sha256Digest::of(b"e"), "evidence_attachment": "e.json",
            "decided_at": "t", "commit": "c", "base": null, "verdict": "pass", "recommendation": "approve",
            "auto_approve": true, "risk": "medium", "only_version_bumps": true, "reasons": [],
            "excluded_github_ids": [], "policy_digest": crate::base::digest::Sha256Digest::of(b"p")});
        let from_bot = AnalysisSummary::from_bot(Some(&serde_json::json!({"payload": {"analysis": analysis}})));
        assert_eq!(from_bot, Some(AnalysisSummary { risk: Risk::Medium, ..BUMPS }));
        assert_eq!(AnalysisSummary::from_bot(None), None);
    }
}
