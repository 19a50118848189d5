//! All checks together, as configured: what the moderation processor runs
//! on each upload, edit and comment.

use std::collections::HashMap;
use std::sync::RwLock;

use image::DynamicImage;
use serde::{Deserialize, Serialize};

use crate::classifier::{Classifier, ClassifierConfig, ClassifierError};
use crate::policy::{Decision, Finding, Policy};
use crate::text::{PatternError, TextRules, TextRulesConfig};
use crate::{hamming, BkTree, PHash};

/// Config section `[moderation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModerationConfig {
    pub policy: Policy,
    pub text: TextRulesConfig,
    /// A photo within this many bits (of 64) of a blocked hash is a
    /// near-duplicate of it.
    pub near_duplicate_radius: u32,
    /// The summed report weight (a full report weighs 1) that hides a photo
    /// pending review (0: never). See `crate::reports`.
    pub report_threshold: i64,
    /// The account age, in seconds, from which a user's report counts fully
    /// (younger accounts' reports weigh 0.2 or 0.5; 0: all count fully).
    pub report_full_weight_age_secs: u64,
    pub classifier: ClassifierConfig,
}

impl Default for ModerationConfig {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            text: TextRulesConfig::default(),
            near_duplicate_radius: 10,
            report_threshold: 3,
            report_full_weight_age_secs: 7 * 24 * 3600,
            classifier: ClassifierConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChecksError {
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error(transparent)]
    Classifier(#[from] ClassifierError),
}

/// What the checks found about one image.
#[derive(Debug, Clone)]
pub struct ImageVerdict {
    pub phash: PHash,
    pub findings: Vec<Finding>,
}

/// The configured checks, with the blocklist in memory (a BK-tree, grown
/// from the catalog as moderators block photos).
pub struct Checks {
    config: ModerationConfig,
    text: TextRules,
    classifier: Option<Classifier>,
    blocklist: RwLock<Blocklist>,
}

#[derive(Default)]
struct Blocklist {
    tree: BkTree<String>,
    known: HashMap<PHash, String>,
}

impl Checks {
    pub fn new(config: ModerationConfig) -> Result<Self, ChecksError> {
        let text = TextRules::new(&config.text)?;
        let classifier = Classifier::from_config(&config.classifier)?;
        Ok(Self { config, text, classifier, blocklist: RwLock::default() })
    }

    pub fn config(&self) -> &ModerationConfig {
        &self.config
    }

    /// Whether an image classifier is loaded (the service reports it).
    pub fn classifier_enabled(&self) -> bool {
        self.classifier.is_some()
    }

    /// The smallest width an image needs for these checks (decoders may
    /// shrink on load down to it).
    pub fn min_image_width(&self) -> u32 {
        match &self.classifier {
            Some(c) => c.input_size(),
            None => 64,
        }
    }

    /// Adds a blocked hash (idempotent); `label` names where it came from.
    pub fn block(&self, hash: PHash, label: &str) -> bool {
        let mut b = self.blocklist.write().expect("blocklist lock");
        if b.known.contains_key(&hash) {
            return false;
        }
        b.known.insert(hash, label.to_string());
        b.tree.insert(hash, label.to_string());
        true
    }

    /// Takes a hash off the blocklist (a moderator reversed the block);
    /// true if it was on it. The BK-tree is rebuilt: the list is small and
    /// reversals are rare.
    pub fn unblock(&self, hash: PHash) -> bool {
        let mut b = self.blocklist.write().expect("blocklist lock");
        if b.known.remove(&hash).is_none() {
            return false;
        }
        let mut tree = BkTree::default();
        for (h, label) in &b.known {
            tree.insert(*h, label.clone());
        }
        b.tree = tree;
        true
    }

    pub fn blocklist_len(&self) -> usize {
        self.blocklist.read().expect("blocklist lock").known.len()
    }

    /// The blocked entry nearest to any of `hashes` (an image's dihedral
    /// variants) within the radius, if any.
    pub fn nearest_blocked(&self, hashes: &[PHash]) -> Option<(u32, String)> {
        let b = self.blocklist.read().expect("blocklist lock");
        hashes
            .iter()
            .filter_map(|h| {
                let (found, _) = b.tree.find(*h, self.config.near_duplicate_radius);
                found.first().map(|(d, label)| (*d, (*label).clone()))
            })
            .min_by_key(|(d, _)| *d)
    }

    /// Perceptual hash, blocklist match and classifier on a decoded,
    /// upright image. CPU-bound: call from a blocking thread.
    pub fn check_image(&self, img: &DynamicImage) -> Result<ImageVerdict, ChecksError> {
        // Every rotation and mirror image of the photo is compared, so a
        // copy stored sideways or flipped is caught too.
        let variants = crate::phash::dihedral_phashes(img);
        let hash = variants[0];
        let mut findings = Vec::new();
        if let Some((d, label)) = self.nearest_blocked(&variants) {
            // 1.0 for an exact copy, falling to 0.5 at the edge of the radius.
            let radius = self.config.near_duplicate_radius.max(1) as f64;
            let score = 1.0 - 0.5 * d as f64 / radius;
            findings.push(Finding::new(
                "near_duplicate",
                score,
                format!("{d} of 64 bits from blocked photo {label}"),
            ));
        }
        if let Some(c) = &self.classifier {
            findings.extend(c.findings(img)?);
        }
        Ok(ImageVerdict { phash: hash, findings })
    }

    /// Text rules on one field.
    pub fn check_text(&self, field: &str, text: &str) -> Vec<Finding> {
        self.text.check(field, text)
    }

    pub fn decide(&self, findings: &[Finding]) -> Decision {
        self.config.policy.decide(findings)
    }
}

/// One line naming the strongest findings, for notices and the audit log.
pub fn summary(findings: &[Finding]) -> String {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
    let parts: Vec<String> = sorted.iter().take(3).map(|f| format!("{} ({:.2})", f.reason, f.score)).collect();
    if parts.is_empty() {
        "no findings".to_string()
    } else {
        parts.join("; ")
    }
}

/// Bits between two hashes (re-exported for callers that only hold hashes).
pub fn distance(a: PHash, b: PHash) -> u32 {
    hamming(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(seed: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(256, 192, |x, y| {
            let v = ((x * (seed + 3) + y * (seed * 7 + 1)) % 251) as u8;
            let w = (((x as f64 / 20.0 + seed as f64).sin() * 100.0) + 128.0) as u8;
            image::Rgb([v, w, v / 2 + w / 2])
        }))
    }

    #[test]
    fn blocking_turns_an_image_into_a_near_duplicate() {
        let checks = Checks::new(ModerationConfig::default()).unwrap();
        let img = textured(1);
        assert!(checks.check_image(&img).unwrap().findings.is_empty());
        let verdict = checks.check_image(&img).unwrap();
        assert!(checks.block(verdict.phash, "p1"));
        assert!(!checks.block(verdict.phash, "p1"), "blocking twice is a no-op");
        let again = checks.check_image(&img).unwrap();
        assert_eq!(again.findings.len(), 1);
        assert_eq!(again.findings[0].check, "near_duplicate");
        assert_eq!(checks.decide(&again.findings), Decision::Reject, "an exact copy is rejected");
        assert!(checks.check_image(&textured(9)).unwrap().findings.is_empty());
        assert!(!checks.classifier_enabled());
        assert!(summary(&again.findings).contains("blocked photo p1"));
        // Sideways and mirrored copies are caught too.
        for copy in [img.rotate90(), img.rotate270(), img.fliph(), img.rotate180().flipv()] {
            let v = checks.check_image(&copy).unwrap();
            assert_eq!(v.findings.len(), 1, "a transformed copy passed");
        }
        // Reversing the block takes it off the list.
        assert!(checks.unblock(verdict.phash));
        assert!(!checks.unblock(verdict.phash));
        assert!(checks.check_image(&img).unwrap().findings.is_empty());
        assert_eq!(checks.blocklist_len(), 0);
    }
}
