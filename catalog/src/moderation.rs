//! Moderation: the review queue, reports, decisions, their audit log and
//! the perceptual-hash blocklist.
//!
//! A queue item is about one subject, a photo or a comment. While pending it
//! holds the subject in `open_key`, which is unique, so automatic findings
//! and users' reports about the same photo collapse into one item. Every
//! state change of a photo here also bumps its `acl_version` (revoking signed
//! URLs) and queues an outbox record in the same transaction, so search and
//! caches follow; the API re-syncs search synchronously on top of that.
//! Photo status changes go through [`crate::lifecycle`].
//!
//! This file holds the vocabulary and the transaction helpers the writers
//! share (opening and closing items, hiding a photo, notices); by area:
//!
//! - `checks`: the automatic checks' verdicts on uploads, edits, comments.
//! - `reports`: users' reports and the threshold that hides a photo.
//! - `decisions`: moderators' decisions and reversals.
//! - `queue`: the items, listed by status.
//! - `audit`: the audit log and moderators' looks at photos.
//! - `blocklist`: the perceptual-hash blocklist.

mod audit;
mod blocklist;
mod checks;
mod decisions;
mod queue;
mod reports;

pub use audit::AuditEntry;
pub use blocklist::BlocklistChange;
pub use checks::UploadVerdict;
pub use queue::{ModerationItem, QueueStats};
pub use reports::ReportOutcome;

use photostream_types::{now_ms, LifecycleEvent, PhotoId, UserId};
use serde_json::Value;
use sqlx::{Any, Transaction};

use crate::notifications::NewNotification;
use crate::parse;
use crate::{get, Catalog, CatalogError, Result};

/// What a queue item is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Photo(PhotoId),
    Comment { photo: PhotoId, comment: String },
}

impl Subject {
    fn kind(&self) -> &'static str {
        match self {
            Subject::Photo(_) => "photo",
            Subject::Comment { .. } => "comment",
        }
    }
    fn photo(&self) -> &PhotoId {
        match self {
            Subject::Photo(p) | Subject::Comment { photo: p, .. } => p,
        }
    }
    fn comment(&self) -> Option<&str> {
        match self {
            Subject::Photo(_) => None,
            Subject::Comment { comment, .. } => Some(comment),
        }
    }
    fn open_key(&self) -> String {
        match self {
            Subject::Photo(p) => format!("photo:{p}"),
            Subject::Comment { comment, .. } => format!("comment:{comment}"),
        }
    }
}

/// What the automatic checks concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoOutcome {
    Approve,
    Hold,
    Reject,
}

/// A moderator's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    fn status(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        }
    }
}

fn json(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| CatalogError::Corrupt(format!("findings: {e}")))
}

fn new_id() -> String {
    PhotoId::new().to_string()
}

/// Findings of `extra` not already in `base` (both JSON arrays) appended.
fn merge_findings(base: &Value, extra: &Value) -> Value {
    let mut out = base.as_array().cloned().unwrap_or_default();
    for f in extra.as_array().into_iter().flatten() {
        if !out.contains(f) {
            out.push(f.clone());
        }
    }
    Value::Array(out)
}

type Tx<'c> = Transaction<'c, Any>;

impl Catalog {
    /// Opens (or joins) the pending item for `subject`; returns its id.
    async fn open_item(tx: &mut Tx<'_>, subject: &Subject, source: &str, findings: &Value) -> Result<String> {
        let now = now_ms();
        let key = subject.open_key();
        sqlx::query(
            "INSERT INTO moderation_items (id, subject, photo_id, comment_id, open_key, status, source, findings,
                created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8) ON CONFLICT (open_key) DO NOTHING",
        )
        .bind(new_id())
        .bind(subject.kind())
        .bind(subject.photo().as_str())
        .bind(subject.comment())
        .bind(&key)
        .bind(source)
        .bind(findings.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query("SELECT id, findings FROM moderation_items WHERE open_key = $1")
            .bind(&key)
            .fetch_one(&mut **tx)
            .await?;
        let id: String = get(&row, "id")?;
        let merged = merge_findings(&json(&get::<String>(&row, "findings")?)?, findings);
        sqlx::query("UPDATE moderation_items SET findings = $1, updated_ms = $2 WHERE id = $3")
            .bind(merged.to_string())
            .bind(now)
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        Ok(id)
    }

    /// Hides a live photo pending review (`under_review`). True if it changed.
    async fn hide_photo(tx: &mut Tx<'_>, photo: &PhotoId) -> Result<bool> {
        Self::apply_lifecycle(&mut **tx, photo, LifecycleEvent::HeldForReview, now_ms()).await
    }

    async fn owner_of(tx: &mut Tx<'_>, photo: &PhotoId) -> Result<UserId> {
        let row = sqlx::query("SELECT owner_id FROM photos WHERE id = $1")
            .bind(photo.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(CatalogError::NotFound)?;
        parse(get::<String>(&row, "owner_id")?)
    }

    async fn notify_in(tx: &mut Tx<'_>, n: &NewNotification) -> Result<()> {
        sqlx::query(
            "INSERT INTO notifications (id, user_id, kind, actor_id, photo_id, comment_id, created_ms, source, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (user_id, source) DO NOTHING",
        )
        .bind(new_id())
        .bind(n.user_id.as_str())
        .bind(n.kind)
        .bind(n.actor_id.as_str())
        .bind(n.photo_id.as_ref().map(|p| p.to_string()))
        .bind(n.comment_id.clone())
        .bind(n.created_ms)
        .bind(&n.source)
        .bind(n.note.clone())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A moderation notice to `user` (the actor is the recipient: notices
    /// never name the moderator).
    fn notice(user: UserId, kind: &'static str, subject: &Subject, item: &str, note: Option<&str>) -> NewNotification {
        NewNotification {
            actor_id: user.clone(),
            user_id: user,
            kind,
            photo_id: Some(subject.photo().clone()),
            comment_id: subject.comment().map(str::to_string),
            source: format!("moderation:{item}"),
            created_ms: now_ms(),
            note: note.map(str::to_string),
        }
    }

    /// An item decided automatically (rejected without review), kept for
    /// the record: listed under `status=rejected`, never pending.
    async fn closed_item(&self, tx: &mut Tx<'_>, subject: &Subject, findings: &Value, summary: &str) -> Result<String> {
        let id = new_id();
        let now = now_ms();
        // A pending item about the same subject is closed by this verdict.
        sqlx::query(
            "UPDATE moderation_items SET status = 'rejected', open_key = NULL, decided_ms = $1, updated_ms = $1, note = $2
             WHERE open_key = $3",
        )
        .bind(now)
        .bind(summary)
        .bind(subject.open_key())
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO moderation_items (id, subject, photo_id, comment_id, open_key, status, source, findings,
                created_ms, updated_ms, decided_ms, note)
             VALUES ($1, $2, $3, $4, NULL, 'rejected', 'auto', $5, $6, $6, $6, $7)",
        )
        .bind(&id)
        .bind(subject.kind())
        .bind(subject.photo().as_str())
        .bind(subject.comment())
        .bind(findings.to_string())
        .bind(now)
        .bind(summary)
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }
}
