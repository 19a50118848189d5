//! The moderation processor: runs the configured checks on every upload, on
//! edits of a photo's title, description and tags, and on comments, and
//! records the policy's verdict in the catalog.
//!
//! - Upload: the original is decoded upright and small (JPEGs shrink on
//!   load), hashed and matched against the blocklist, classified when a
//!   model is configured; the text fields are checked too. The photo becomes
//!   `ready` only once this has run (with its thumbnail and search document),
//!   so a held or rejected photo is never visible to others, not even
//!   briefly.
//! - Edit: the text fields again; a live photo can be held or rejected.
//!   Edits older than a moderator's last decision on the photo are skipped,
//!   so a redelivered edit never undoes a review.
//! - Comment: its text; a held comment is hidden pending review.
//!
//! The blocklist lives in the catalog; this processor keeps it in a
//! BK-tree and picks up new entries before each image check.

use std::sync::Arc;

use async_trait::async_trait;
use object_store::{path::Path, ObjectStore};
use photostream_catalog::{AutoOutcome, Catalog, Photo, UploadVerdict};
use photostream_media::Limits;
use photostream_moderation::policy::{Decision, Finding};
use photostream_moderation::{summary, Checks};
use photostream_pipeline::{Envelope, PhotoChanged, Record};
use photostream_projections::outbox_entry;
use photostream_types::metric;
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::{OriginalsBudget, ProcessError, Processor};

pub struct Moderator {
    catalog: Catalog,
    objects: Arc<dyn ObjectStore>,
    checks: Arc<Checks>,
    limits: Limits,
    /// Shared with the thumbnailer: originals held in memory at once.
    originals: Arc<OriginalsBudget>,
    /// Creation time of the newest blocklist entry loaded so far.
    loaded_until: Mutex<Option<i64>>,
}

/// Blocklist entries are re-read this far back, so an entry committed
/// slightly out of clock order by another instance is never missed.
const CLOCK_SLACK_MS: i64 = 60_000;

impl Moderator {
    pub fn new(catalog: Catalog, objects: Arc<dyn ObjectStore>, checks: Arc<Checks>, limits: Limits) -> Self {
        Self { catalog, objects, checks, limits, originals: Arc::new(OriginalsBudget::default()), loaded_until: Mutex::new(None) }
    }

    /// The budget for originals in memory, shared with the thumbnailer
    /// (config `processors.originals_memory_mb`).
    pub fn with_originals_budget(mut self, budget: Arc<OriginalsBudget>) -> Self {
        self.originals = budget;
        self
    }

    /// Applies blocklist changes (blocks and reversals) since the last refresh.
    pub async fn refresh_blocklist(&self) -> Result<(), ProcessError> {
        let mut until = self.loaded_until.lock().await;
        let since = until.map_or(i64::MIN, |ms| ms - CLOCK_SLACK_MS);
        let entries = self.catalog.blocklist_since(since).await.map_err(ProcessError::transient)?;
        for change in entries {
            if change.blocked {
                self.checks.block(change.hash, change.photo.as_str());
            } else {
                self.checks.unblock(change.hash);
            }
            *until = Some(until.map_or(change.changed_ms, |u| u.max(change.changed_ms)));
        }
        Ok(())
    }

    /// The image checks; the caller refreshes the blocklist first.
    async fn image_findings(&self, photo: &Photo) -> Result<(u64, Vec<Finding>), ProcessError> {
        let key = Path::parse(&photo.original_key).map_err(ProcessError::permanent)?;
        let _held = self.originals.hold(photo.byte_size).await?;
        let bytes = self
            .objects
            .get(&key)
            .await
            .map_err(ProcessError::transient)?
            .bytes()
            .await
            .map_err(ProcessError::transient)?;
        let (checks, limits) = (self.checks.clone(), self.limits);
        tokio::task::spawn_blocking(move || -> Result<_, ProcessError> {
            let probe = photostream_media::probe(&bytes, &limits).map_err(ProcessError::permanent)?;
            let img = photostream_media::decode_upright(&bytes, &probe, checks.min_image_width(), &limits)
                .map_err(ProcessError::permanent)?;
            let verdict = checks.check_image(&img).map_err(ProcessError::permanent)?;
            Ok((verdict.phash, verdict.findings))
        })
        .await
        .map_err(ProcessError::transient)?
    }

    fn outcome(&self, findings: &[Finding]) -> AutoOutcome {
        outcome_of(self.checks.decide(findings))
    }

    fn count(outcome: AutoOutcome, subject: &'static str) {
        metric::MODERATION_DECISIONS_TOTAL.with([action_of(outcome), "auto", subject]).increment(1);
    }

    async fn live_photo(&self, id: &photostream_types::PhotoId) -> Result<Option<Photo>, ProcessError> {
        Ok(self.catalog.photo(id).await.map_err(ProcessError::transient)?.filter(|p| p.deleted_ms.is_none()))
    }
}

#[async_trait]
impl Processor for Moderator {
    fn name(&self) -> &'static str {
        "moderation"
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError> {
        self.handle_many(std::slice::from_ref(envelope)).await.pop().unwrap_or(Ok(()))
    }

    /// Checks every record handed over at once (each with its own outcome);
    /// the verdicts on new uploads are recorded in one catalog commit.
    async fn handle_many(&self, envelopes: &[Envelope]) -> Vec<Result<(), ProcessError>> {
        // Blocklist changes are picked up once per round, before any image check.
        if envelopes.iter().any(|e| matches!(e.record, Record::PhotoUploaded(_))) {
            if let Err(e) = self.refresh_blocklist().await {
                let e = format!("{e}");
                return envelopes.iter().map(|_| Err(ProcessError::transient(anyhow::anyhow!("{e}")))).collect();
            }
        }
        let assessed = futures::future::join_all(envelopes.iter().map(|e| self.assess(e))).await;
        let verdicts: Vec<UploadVerdict> = assessed.iter().filter_map(|r| r.as_ref().ok().cloned().flatten()).collect();
        let recorded = match verdicts.is_empty() {
            true => Ok(Vec::new()),
            false => self.catalog.record_upload_moderations(&verdicts).await,
        };
        match &recorded {
            Ok(recorded) => {
                for (v, _) in verdicts.iter().zip(recorded).filter(|(_, r)| **r) {
                    Self::count(v.outcome, "photo");
                    if v.outcome != AutoOutcome::Approve {
                        info!(photo = %v.photo, outcome = ?v.outcome, findings = %v.summary, "upload moderated");
                    }
                }
            }
            Err(e) => warn!(error = %e, records = verdicts.len(), "recording upload verdicts failed; retrying them"),
        }
        assessed
            .into_iter()
            .map(|r| match (r, &recorded) {
                (Ok(Some(_)), Err(e)) => Err(ProcessError::transient(anyhow::anyhow!("recording the verdict: {e}"))),
                (r, _) => r.map(|_| ()),
            })
            .collect()
    }
}

impl Moderator {
    /// Handles `envelope`, except that a new upload's verdict is returned
    /// for the caller to record (with its neighbours').
    async fn assess(&self, envelope: &Envelope) -> Result<Option<UploadVerdict>, ProcessError> {
        let moderated = |photo: &Photo| {
            outbox_entry(Record::PhotoModerated(PhotoChanged { photo_id: photo.id.clone() }), envelope.request_id.clone())
        };
        match &envelope.record {
            Record::PhotoUploaded(r) => {
                let Some(photo) = self.live_photo(&r.photo_id).await? else { return Ok(None) };
                if photo.moderated {
                    return Ok(None);
                }
                let (hash, mut findings) = self.image_findings(&photo).await?;
                findings.extend(text_findings(&self.checks, &photo));
                let outcome = self.outcome(&findings);
                let json = serde_json::to_value(&findings).map_err(ProcessError::permanent)?;
                return Ok(Some(UploadVerdict {
                    photo: photo.id.clone(),
                    phash: Some(hash),
                    outcome,
                    findings: json,
                    summary: summary(&findings),
                    outbox: moderated(&photo),
                }));
            }
            Record::PhotoUpdated(r) => {
                let Some(photo) = self.live_photo(&r.photo_id).await? else { return Ok(None) };
                let decided = self.catalog.last_decision_ms(&photo.id).await.map_err(ProcessError::transient)?;
                if decided.is_some_and(|d| d >= envelope.at_ms) {
                    return Ok(None);
                }
                let findings = text_findings(&self.checks, &photo);
                let outcome = self.outcome(&findings);
                if outcome == AutoOutcome::Approve {
                    return Ok(None);
                }
                let json = serde_json::to_value(&findings).map_err(ProcessError::permanent)?;
                let changed = self
                    .catalog
                    .record_edit_moderation(&photo.id, outcome, &json, &summary(&findings), &moderated(&photo))
                    .await
                    .map_err(ProcessError::transient)?;
                if changed {
                    Self::count(outcome, "photo");
                    info!(photo = %photo.id, ?outcome, findings = %summary(&findings), "edit moderated");
                }
            }
            Record::CommentAdded(r) => {
                let Some(comment) = self.catalog.comment(&r.comment_id).await.map_err(ProcessError::transient)? else {
                    return Ok(None);
                };
                let findings = self.checks.check_text("comment", &comment.text);
                let outcome = self.outcome(&findings);
                if outcome == AutoOutcome::Approve {
                    Self::count(outcome, "comment");
                    return Ok(None);
                }
                let json = serde_json::to_value(&findings).map_err(ProcessError::permanent)?;
                let changed = self
                    .catalog
                    .record_comment_moderation(&r.photo_id, &comment.id, outcome, &json, &summary(&findings))
                    .await
                    .map_err(ProcessError::transient)?;
                if changed {
                    Self::count(outcome, "comment");
                    info!(comment = %comment.id, ?outcome, findings = %summary(&findings), "comment moderated");
                }
            }
            _ => {}
        }
        Ok(None)
    }
}

/// The text checks on a photo's title, description and tags.
fn text_findings(checks: &Checks, photo: &Photo) -> Vec<Finding> {
    let mut findings = checks.check_text("title", &photo.title);
    findings.extend(checks.check_text("description", &photo.description));
    for tag in &photo.metadata.tags {
        findings.extend(checks.check_text("tag", tag));
    }
    findings
}

/// The policy's decision as the catalog records it.
fn outcome_of(decision: Decision) -> AutoOutcome {
    match decision {
        Decision::Approve => AutoOutcome::Approve,
        Decision::Hold => AutoOutcome::Hold,
        Decision::Reject => AutoOutcome::Reject,
    }
}

/// An automatic outcome's `action` label (as moderators' decisions are counted).
fn action_of(outcome: AutoOutcome) -> &'static str {
    match outcome {
        AutoOutcome::Approve => "approve",
        AutoOutcome::Hold => "hold",
        AutoOutcome::Reject => "reject",
    }
}

#[cfg(test)]
mod tests {
    use photostream_moderation::{ModerationConfig, TextRulesConfig};

    use super::*;
    use crate::test_photo::photo;

    fn checks() -> Checks {
        Checks::new(ModerationConfig {
            text: TextRulesConfig {
                hold_words: vec!["casino".into()],
                reject_words: vec!["scam".into()],
                hold_patterns: vec![],
            },
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn text_checks_cover_title_description_and_every_tag() {
        let checks = checks();
        let clean = photo("Swans at dawn");
        assert!(text_findings(&checks, &clean).is_empty());
        let mut p = photo("Swans");
        p.description = "a casino nearby".into();
        p.metadata.tags = vec!["birds".into(), "scam".into()];
        let findings = text_findings(&checks, &p);
        let reasons: Vec<&str> = findings.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.starts_with("description:")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.starts_with("tag:")), "{reasons:?}");
        // The strongest finding decides: a rejected word rejects.
        assert_eq!(outcome_of(checks.decide(&findings)), AutoOutcome::Reject);
        p.metadata.tags.pop();
        assert_eq!(outcome_of(checks.decide(&text_findings(&checks, &p))), AutoOutcome::Hold);
    }

    #[test]
    fn every_decision_has_its_outcome_and_label() {
        for (decision, outcome, label) in [
            (Decision::Approve, AutoOutcome::Approve, "approve"),
            (Decision::Hold, AutoOutcome::Hold, "hold"),
            (Decision::Reject, AutoOutcome::Reject, "reject"),
        ] {
            assert_eq!(outcome_of(decision), outcome);
            assert_eq!(action_of(outcome), label);
        }
    }
}
