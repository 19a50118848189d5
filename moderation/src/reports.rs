//! How much one user's report counts towards hiding a photo pending review.
//!
//! A report weighs the reporter's standing, so a handful of throwaway
//! accounts cannot hide someone's photo: new accounts count for little, and
//! a track record counts both ways (reports moderators upheld raise the
//! weight, reports they dismissed lower it). A photo is hidden once the
//! weights of its distinct reporters reach `report_threshold`; it is in the
//! review queue from the first report either way.

/// What the catalog knows of a reporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReporterStanding {
    /// Age of the account, in milliseconds.
    pub account_age_ms: i64,
    /// Earlier reports of theirs whose photo a moderator then rejected.
    pub upheld: i64,
    /// Earlier reports of theirs whose photo a moderator then approved.
    pub dismissed: i64,
}

/// The weight in thousandths (1000: one full report). `full_weight_age_ms`:
/// the age from which an account counts fully (0: every account does).
///
/// - age below a seventh of it (a day, by default): 0.2; below it: 0.5;
/// - times 1 + ¼ per upheld report − ¼ per dismissed one, kept within
///   0.1 and 2.
pub fn report_weight_milli(s: ReporterStanding, full_weight_age_ms: i64) -> i64 {
    let age = if full_weight_age_ms <= 0 || s.account_age_ms >= full_weight_age_ms {
        1000
    } else if s.account_age_ms >= full_weight_age_ms / 7 {
        500
    } else {
        200
    };
    let record = (1000 + 250 * s.upheld.min(4) - 250 * s.dismissed.min(4)).clamp(100, 2000);
    age * record / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: i64 = 7 * 24 * 3600 * 1000;

    fn standing(days: i64, upheld: i64, dismissed: i64) -> ReporterStanding {
        ReporterStanding { account_age_ms: days * WEEK / 7, upheld, dismissed }
    }

    #[test]
    fn weights() {
        assert_eq!(report_weight_milli(standing(0, 0, 0), WEEK), 200, "brand new");
        assert_eq!(report_weight_milli(standing(3, 0, 0), WEEK), 500, "days old");
        assert_eq!(report_weight_milli(standing(30, 0, 0), WEEK), 1000, "established");
        assert_eq!(report_weight_milli(standing(30, 2, 0), WEEK), 1500, "upheld before");
        assert_eq!(report_weight_milli(standing(30, 0, 1), WEEK), 750, "dismissed before");
        assert_eq!(report_weight_milli(standing(30, 0, 9), WEEK), 100, "never zero");
        assert_eq!(report_weight_milli(standing(30, 99, 0), WEEK), 2000, "never more than two");
        assert_eq!(report_weight_milli(standing(0, 0, 0), 0), 1000, "age not weighed");
        // Three throwaway accounts stay below a threshold of three.
        assert!(3 * report_weight_milli(standing(0, 0, 0), WEEK) < 3000);
    }
}
