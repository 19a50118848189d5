//! From findings to a decision.

use serde::{Deserialize, Serialize};

/// One reason a check raised, with a score in 0..=1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Which check: `near_duplicate`, `text`, `classifier`, `reports`.
    pub check: String,
    pub score: f64,
    pub reason: String,
}

impl Finding {
    pub fn new(check: &str, score: f64, reason: impl Into<String>) -> Self {
        Self { check: check.to_string(), score: score.clamp(0.0, 1.0), reason: reason.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    /// Visible only to the owner and moderators until a moderator decides.
    Hold,
    Reject,
}

/// Thresholds on the highest score (config section `[moderation.policy]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// At or above: held for review.
    pub hold_at: f64,
    /// At or above: rejected without review.
    pub reject_at: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Self { hold_at: 0.5, reject_at: 0.95 }
    }
}

impl Policy {
    pub fn decide(&self, findings: &[Finding]) -> Decision {
        let top = findings.iter().map(|f| f.score).fold(0.0, f64::max);
        if top >= self.reject_at {
            Decision::Reject
        } else if top >= self.hold_at {
            Decision::Hold
        } else {
            Decision::Approve
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_score_decides() {
        let p = Policy::default();
        assert_eq!(p.decide(&[]), Decision::Approve);
        assert_eq!(p.decide(&[Finding::new("text", 0.2, "x")]), Decision::Approve);
        assert_eq!(p.decide(&[Finding::new("text", 0.2, "x"), Finding::new("text", 0.6, "y")]), Decision::Hold);
        assert_eq!(p.decide(&[Finding::new("near_duplicate", 1.0, "z")]), Decision::Reject);
    }
}
