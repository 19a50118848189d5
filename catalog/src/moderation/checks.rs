//! The automatic checks' verdicts on uploads, edits and comments.

use photostream_types::{now_ms, LifecycleEvent, PhotoId};
use serde_json::Value;

use super::{AutoOutcome, Subject, Tx};
use crate::lifecycle::update_sql;
use crate::outbox::OutboxEntry;
use crate::parse;
use crate::{get, Catalog, Result};

/// The checks' verdict on one new upload
/// ([`Catalog::record_upload_moderations`]).
#[derive(Debug, Clone)]
pub struct UploadVerdict {
    pub photo: PhotoId,
    pub phash: Option<u64>,
    pub outcome: AutoOutcome,
    pub findings: Value,
    pub summary: String,
    /// The `PhotoModerated` record, written when the photo is held or rejected.
    pub outbox: OutboxEntry,
}

impl Catalog {
    /// Records the checks' verdict on a new upload, once: marks it moderated
    /// (it becomes `ready` if its thumbnail and search document exist),
    /// stores its perceptual hash, and on hold or reject hides it, files the
    /// queue item, writes the audit line and (reject) notifies the owner.
    /// Returns false when the upload was already moderated (a redelivery).
    pub async fn record_upload_moderation(
        &self,
        photo: &PhotoId,
        phash: Option<u64>,
        outcome: AutoOutcome,
        findings: &Value,
        summary: &str,
        outbox: &OutboxEntry,
    ) -> Result<bool> {
        let verdict = UploadVerdict {
            photo: photo.clone(),
            phash,
            outcome,
            findings: findings.clone(),
            summary: summary.to_string(),
            outbox: outbox.clone(),
        };
        Ok(self.record_upload_moderations(std::slice::from_ref(&verdict)).await?[0])
    }

    /// [`record_upload_moderation`](Self::record_upload_moderation) for
    /// several uploads in one commit (the moderation processor's verdicts on
    /// every photo it checked at once). Returns, per verdict, whether it was
    /// recorded (false: already moderated).
    pub async fn record_upload_moderations(&self, verdicts: &[UploadVerdict]) -> Result<Vec<bool>> {
        let mut tx = self.begin().await?;
        let mut recorded = Vec::with_capacity(verdicts.len());
        for v in verdicts {
            recorded.push(self.record_upload_moderation_in(&mut tx, v).await?);
        }
        tx.commit().await?;
        Ok(recorded)
    }

    async fn record_upload_moderation_in(&self, tx: &mut Tx<'_>, v: &UploadVerdict) -> Result<bool> {
        let (photo, outcome, findings, summary) = (&v.photo, v.outcome, &v.findings, v.summary.as_str());
        let event = match outcome {
            AutoOutcome::Approve => LifecycleEvent::UploadApproved,
            AutoOutcome::Hold => LifecycleEvent::UploadHeld,
            AutoOutcome::Reject => LifecycleEvent::UploadRejected,
        };
        let n = sqlx::query(&update_sql(event, ", phash = $3"))
            .bind(now_ms())
            .bind(photo.as_str())
            .bind(v.phash.map(|h| h as i64))
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        let subject = Subject::Photo(photo.clone());
        match outcome {
            AutoOutcome::Approve => {}
            AutoOutcome::Hold => {
                let item = Self::open_item(tx, &subject, "auto", findings).await?;
                Self::audit(tx, &item, &subject, None, "hold", Some(summary), findings, false).await?;
                v.outbox.insert(tx).await?;
            }
            AutoOutcome::Reject => {
                let item = self.closed_item(tx, &subject, findings, summary).await?;
                Self::audit(tx, &item, &subject, None, "reject", Some(summary), findings, false).await?;
                let owner = Self::owner_of(tx, photo).await?;
                Self::notify_in(tx, &Self::notice(owner, "photo_rejected", &subject, &item, Some(summary))).await?;
                v.outbox.insert(tx).await?;
            }
        }
        Ok(true)
    }

    /// The checks' verdict on an edit of a live photo's text: hold or reject
    /// it (approve changes nothing). Idempotent: a redelivered edit joins
    /// the same pending item. Returns whether the photo's status changed.
    pub async fn record_edit_moderation(
        &self,
        photo: &PhotoId,
        outcome: AutoOutcome,
        findings: &Value,
        summary: &str,
        outbox: &OutboxEntry,
    ) -> Result<bool> {
        if outcome == AutoOutcome::Approve {
            return Ok(false);
        }
        let mut tx = self.begin().await?;
        let subject = Subject::Photo(photo.clone());
        let changed = match outcome {
            AutoOutcome::Hold => {
                let changed = Self::hide_photo(&mut tx, photo).await?;
                let item = Self::open_item(&mut tx, &subject, "auto", findings).await?;
                if changed {
                    Self::audit(&mut tx, &item, &subject, None, "hold", Some(summary), findings, false).await?;
                }
                changed
            }
            _ => {
                let rejected = Self::apply_lifecycle(&mut tx, photo, LifecycleEvent::EditRejected, now_ms()).await?;
                if rejected {
                    let item = self.closed_item(&mut tx, &subject, findings, summary).await?;
                    Self::audit(&mut tx, &item, &subject, None, "reject", Some(summary), findings, false).await?;
                    let owner = Self::owner_of(&mut tx, photo).await?;
                    Self::notify_in(&mut tx, &Self::notice(owner, "photo_rejected", &subject, &item, Some(summary)))
                        .await?;
                }
                rejected
            }
        };
        if changed {
            outbox.insert(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// The checks' verdict on a comment: hold hides it pending review,
    /// reject removes it and tells its author. Idempotent.
    pub async fn record_comment_moderation(
        &self,
        photo: &PhotoId,
        comment: &str,
        outcome: AutoOutcome,
        findings: &Value,
        summary: &str,
    ) -> Result<bool> {
        let (status, from) = match outcome {
            AutoOutcome::Approve => return Ok(false),
            AutoOutcome::Hold => ("held", "('visible')"),
            AutoOutcome::Reject => ("rejected", "('visible', 'held')"),
        };
        let mut tx = self.begin().await?;
        let n = sqlx::query(&format!("UPDATE comments SET status = $1 WHERE id = $2 AND status IN {from}"))
            .bind(status)
            .bind(comment)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let subject = Subject::Comment { photo: photo.clone(), comment: comment.to_string() };
        if outcome == AutoOutcome::Hold {
            let item = Self::open_item(&mut tx, &subject, "auto", findings).await?;
            Self::audit(&mut tx, &item, &subject, None, "hold", Some(summary), findings, false).await?;
        } else {
            let item = self.closed_item(&mut tx, &subject, findings, summary).await?;
            Self::audit(&mut tx, &item, &subject, None, "reject", Some(summary), findings, false).await?;
            let row = sqlx::query("SELECT author_id FROM comments WHERE id = $1").bind(comment).fetch_one(&mut *tx).await?;
            let author = parse(get::<String>(&row, "author_id")?)?;
            Self::notify_in(&mut tx, &Self::notice(author, "comment_rejected", &subject, &item, Some(summary))).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
