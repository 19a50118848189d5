//! Moderation: the review queue, reports, decisions, their audit log and
//! the perceptual-hash blocklist.
//!
//! A queue item is about one subject, a photo or a comment. While pending it
//! holds the subject in `open_key`, which is unique, so automatic findings
//! and users' reports about the same photo collapse into one item. Every
//! state change of a photo here also bumps its `acl_version` (revoking signed
//! URLs) and queues an outbox record in the same transaction, so search and
//! caches follow; the API re-syncs search synchronously on top of that.

use photostream_types::{now_ms, PhotoId, UserId, Username};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::outbox::OutboxEntry;
use crate::photos::{bind_all, finish_page, keyset_clause, keyset_clause_ordered, Bind, Direction, Keyset};
use crate::social::NewNotification;
use crate::users::parse;
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

#[derive(Debug, Clone)]
pub struct ModerationItem {
    pub id: String,
    /// `photo` or `comment`.
    pub subject: String,
    pub photo_id: PhotoId,
    pub comment_id: Option<String>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// `auto` (the checks raised it) or `reports` (users did).
    pub source: String,
    /// The checks' findings: `[{check, score, reason}]`.
    pub findings: Value,
    pub report_count: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub decided_by: Option<UserId>,
    pub decided_ms: Option<i64>,
    pub note: Option<String>,
}

impl ModerationItem {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: get(r, "id")?,
            subject: get(r, "subject")?,
            photo_id: parse(get::<String>(r, "photo_id")?)?,
            comment_id: get(r, "comment_id")?,
            status: get(r, "status")?,
            source: get(r, "source")?,
            findings: json(&get::<String>(r, "findings")?)?,
            report_count: get(r, "report_count")?,
            created_ms: get(r, "created_ms")?,
            updated_ms: get(r, "updated_ms")?,
            decided_by: get::<Option<String>>(r, "decided_by")?.map(parse).transpose()?,
            decided_ms: get(r, "decided_ms")?,
            note: get(r, "note")?,
        })
    }

    pub fn keyset(&self) -> Keyset {
        Keyset { created_ms: self.created_ms, id: self.id.clone() }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: String,
    pub item_id: String,
    pub photo_id: PhotoId,
    pub comment_id: Option<String>,
    /// None: the automatic checks decided.
    pub actor: Option<Username>,
    /// `hold`, `approve` or `reject`.
    pub action: String,
    pub note: Option<String>,
    pub findings: Value,
    pub block_similar: bool,
    pub created_ms: i64,
}

impl AuditEntry {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: get(r, "id")?,
            item_id: get(r, "item_id")?,
            photo_id: parse(get::<String>(r, "photo_id")?)?,
            comment_id: get(r, "comment_id")?,
            actor: get::<Option<String>>(r, "actor")?
                .map(|u| Username::parse(&u).map_err(|e| CatalogError::Corrupt(e.0)))
                .transpose()?,
            action: get(r, "action")?,
            note: get(r, "note")?,
            findings: json(&get::<String>(r, "findings")?)?,
            block_similar: get::<i64>(r, "block_similar")? != 0,
            created_ms: get(r, "created_ms")?,
        })
    }

    pub fn keyset(&self) -> Keyset {
        Keyset { created_ms: self.created_ms, id: self.id.clone() }
    }
}

/// One change to the perceptual-hash blocklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistChange {
    pub hash: u64,
    pub photo: PhotoId,
    pub changed_ms: i64,
    /// False when the block was reversed.
    pub blocked: bool,
}

/// What a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutcome {
    pub item_id: String,
    /// Distinct users who reported the photo since its last review.
    pub count: i64,
    /// Their reports' summed weight, in thousandths.
    pub weight_milli: i64,
    /// Whether this report hid the photo pending review.
    pub hid: bool,
}

/// The queue's size and the creation time of its oldest pending item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub pending: i64,
    pub oldest_ms: Option<i64>,
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

    async fn audit(
        tx: &mut Tx<'_>,
        item: &str,
        subject: &Subject,
        actor: Option<&UserId>,
        action: &str,
        note: Option<&str>,
        findings: &Value,
        block_similar: bool,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO moderation_audit (id, item_id, photo_id, comment_id, actor_id, action, note, findings,
                block_similar, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(new_id())
        .bind(item)
        .bind(subject.photo().as_str())
        .bind(subject.comment())
        .bind(actor.map(|a| a.to_string()))
        .bind(action)
        .bind(note)
        .bind(findings.to_string())
        .bind(block_similar as i64)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Hides a live photo pending review (`under_review`). True if it changed.
    async fn hide_photo(tx: &mut Tx<'_>, photo: &PhotoId) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE photos SET status = 'under_review', acl_version = acl_version + 1, updated_ms = $1
             WHERE id = $2 AND deleted_ms IS NULL AND status IN ('processing', 'ready')",
        )
        .bind(now_ms())
        .bind(photo.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(n > 0)
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
        let now = now_ms();
        let status = match outcome {
            AutoOutcome::Approve => {
                "CASE WHEN status = 'processing' AND thumbnail_done = 1 AND indexed = 1 THEN 'ready' ELSE status END"
            }
            AutoOutcome::Hold => "CASE WHEN status IN ('processing', 'ready') THEN 'under_review' ELSE status END",
            AutoOutcome::Reject => "CASE WHEN status IN ('processing', 'ready', 'under_review') THEN 'rejected' ELSE status END",
        };
        let acl = if outcome == AutoOutcome::Approve { "" } else { ", acl_version = acl_version + 1" };
        let sql = format!(
            "UPDATE photos SET moderated = 1, phash = $1, updated_ms = $2,
                ready_ms = CASE WHEN status = 'processing' AND thumbnail_done = 1 AND indexed = 1 THEN $2 ELSE ready_ms END,
                status = {status}{acl}
             WHERE id = $3 AND moderated = 0 AND deleted_ms IS NULL"
        );
        let n = sqlx::query(&sql)
            .bind(v.phash.map(|h| h as i64))
            .bind(now)
            .bind(photo.as_str())
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
                let n = sqlx::query(
                    "UPDATE photos SET status = 'rejected', acl_version = acl_version + 1, updated_ms = $1
                     WHERE id = $2 AND deleted_ms IS NULL AND status <> 'rejected'",
                )
                .bind(now_ms())
                .bind(photo.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n > 0 {
                    let item = self.closed_item(&mut tx, &subject, findings, summary).await?;
                    Self::audit(&mut tx, &item, &subject, None, "reject", Some(summary), findings, false).await?;
                    let owner = Self::owner_of(&mut tx, photo).await?;
                    Self::notify_in(&mut tx, &Self::notice(owner, "photo_rejected", &subject, &item, Some(summary)))
                        .await?;
                }
                n > 0
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

    /// What a reporter's standing rests on: their account's creation time
    /// and how moderators decided on the photos they reported before
    /// (`(created_ms, upheld, dismissed)`).
    pub async fn reporter_record(&self, reporter: &UserId) -> Result<(i64, i64, i64)> {
        let mut conn = self.conn().await?;
        let row = sqlx::query("SELECT created_ms FROM users WHERE id = $1")
            .bind(reporter.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let created: i64 = get(&row, "created_ms")?;
        let row = sqlx::query(
            "SELECT
                CAST(COALESCE(SUM(CASE WHEN i.status = 'rejected' THEN 1 ELSE 0 END), 0) AS BIGINT) AS upheld,
                CAST(COALESCE(SUM(CASE WHEN i.status = 'approved' THEN 1 ELSE 0 END), 0) AS BIGINT) AS dismissed
             FROM photo_reports r JOIN moderation_items i ON i.id = r.item_id
             WHERE r.reporter_id = $1 AND i.decided_ms IS NOT NULL",
        )
        .bind(reporter.as_str())
        .fetch_one(&mut *conn)
        .await?;
        Ok((created, get(&row, "upheld")?, get(&row, "dismissed")?))
    }

    /// Files `reporter`'s report of a photo, weighing `weight_milli`
    /// thousandths. Reports collapse into the photo's pending item (one per
    /// reporter); once their summed weight reaches `threshold` (in whole
    /// reports) a live photo is hidden pending review.
    pub async fn report_photo(
        &self,
        photo: &PhotoId,
        reporter: &UserId,
        reason: &str,
        weight_milli: i64,
        threshold: i64,
        outbox: &OutboxEntry,
    ) -> Result<ReportOutcome> {
        let mut tx = self.begin().await?;
        let subject = Subject::Photo(photo.clone());
        let finding = serde_json::json!([{"check": "reports", "score": 0.0, "reason": "reported by users"}]);
        let item = Self::open_item(&mut tx, &subject, "reports", &finding).await?;
        sqlx::query(
            "INSERT INTO photo_reports (item_id, reporter_id, photo_id, reason, created_ms, weight_milli)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (item_id, reporter_id) DO NOTHING",
        )
        .bind(&item)
        .bind(reporter.as_str())
        .bind(photo.as_str())
        .bind(reason)
        .bind(now_ms())
        .bind(weight_milli)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(weight_milli), 0) AS BIGINT) AS w FROM photo_reports WHERE item_id = $1")
            .bind(&item)
            .fetch_one(&mut *tx)
            .await?;
        let count: i64 = get(&row, "n")?;
        let weight: i64 = get(&row, "w")?;
        sqlx::query("UPDATE moderation_items SET report_count = $1 WHERE id = $2")
            .bind(count)
            .bind(&item)
            .execute(&mut *tx)
            .await?;
        let mut hid = false;
        if threshold > 0 && weight >= threshold * 1000 && Self::hide_photo(&mut tx, photo).await? {
            let note = format!("hidden after {count} reports weighing {:.1}", weight as f64 / 1000.0);
            Self::audit(&mut tx, &item, &subject, None, "hold", Some(&note), &finding, false).await?;
            outbox.insert(&mut tx).await?;
            hid = true;
        }
        tx.commit().await?;
        Ok(ReportOutcome { item_id: item, count, weight_milli: weight, hid })
    }

    /// A moderator's decision on an item (pending, or reversing an earlier
    /// one). Approve restores the photo (or comment); reject hides it from
    /// everyone but its owner and notifies them with the note; `block` adds
    /// the photo's perceptual hash to the blocklist. All in one transaction.
    pub async fn decide(
        &self,
        item_id: &str,
        moderator: &UserId,
        verdict: Verdict,
        note: Option<&str>,
        block: Option<u64>,
        outbox: &OutboxEntry,
    ) -> Result<ModerationItem> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT * FROM moderation_items WHERE id = $1")
            .bind(item_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let item = ModerationItem::from_row(&row)?;
        let now = now_ms();
        let subject = match &item.comment_id {
            None => Subject::Photo(item.photo_id.clone()),
            Some(c) => Subject::Comment { photo: item.photo_id.clone(), comment: c.clone() },
        };
        // Deciding an old item while a newer one is open on the same subject
        // would leave two verdicts in force; the newer item is closed too.
        sqlx::query(
            "UPDATE moderation_items SET status = $1, open_key = NULL, decided_by = $2, decided_ms = $3,
                updated_ms = $3, note = $4
             WHERE id = $5 OR open_key = $6",
        )
        .bind(verdict.status())
        .bind(moderator.as_str())
        .bind(now)
        .bind(note)
        .bind(item_id)
        .bind(subject.open_key())
        .execute(&mut *tx)
        .await?;
        match (&subject, verdict) {
            (Subject::Photo(p), Verdict::Approve) => {
                sqlx::query(
                    "UPDATE photos SET moderated = 1, acl_version = acl_version + 1, updated_ms = $1,
                        ready_ms = CASE WHEN thumbnail_done = 1 AND indexed = 1 THEN COALESCE(ready_ms, $1) ELSE ready_ms END,
                        status = CASE WHEN thumbnail_done = 1 AND indexed = 1 THEN 'ready' ELSE 'processing' END
                     WHERE id = $2 AND deleted_ms IS NULL AND status IN ('under_review', 'rejected')",
                )
                .bind(now)
                .bind(p.as_str())
                .execute(&mut *tx)
                .await?;
            }
            (Subject::Photo(p), Verdict::Reject) => {
                sqlx::query(
                    "UPDATE photos SET moderated = 1, status = 'rejected', acl_version = acl_version + 1, updated_ms = $1
                     WHERE id = $2 AND deleted_ms IS NULL",
                )
                .bind(now)
                .bind(p.as_str())
                .execute(&mut *tx)
                .await?;
            }
            (Subject::Comment { comment, .. }, v) => {
                let status = if v == Verdict::Approve { "visible" } else { "rejected" };
                sqlx::query("UPDATE comments SET status = $1 WHERE id = $2")
                    .bind(status)
                    .bind(comment)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if let (Some(hash), Verdict::Reject) = (block, verdict) {
            sqlx::query(
                "INSERT INTO phash_blocklist (hash, photo_id, added_by, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4)
                 ON CONFLICT (hash) DO UPDATE SET removed_ms = NULL, updated_ms = $4, photo_id = $2, added_by = $3",
            )
            .bind(hash as i64)
            .bind(item.photo_id.as_str())
            .bind(moderator.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if verdict == Verdict::Approve && item.comment_id.is_none() {
            // Reversing a "block similar" rejection lifts the block, on every
            // instance at its next refresh (the tombstone is a change too).
            sqlx::query(
                "UPDATE phash_blocklist SET removed_ms = $1, updated_ms = $1 WHERE photo_id = $2 AND removed_ms IS NULL",
            )
            .bind(now)
            .bind(item.photo_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let action = if verdict == Verdict::Approve { "approve" } else { "reject" };
        let blocked = block.is_some() && verdict == Verdict::Reject;
        Self::audit(&mut tx, item_id, &subject, Some(moderator), action, note, &item.findings, blocked).await?;
        if verdict == Verdict::Reject {
            let (recipient, kind) = match &subject {
                Subject::Photo(p) => (Self::owner_of(&mut tx, p).await?, "photo_rejected"),
                Subject::Comment { comment, .. } => {
                    let row = sqlx::query("SELECT author_id FROM comments WHERE id = $1")
                        .bind(comment)
                        .fetch_one(&mut *tx)
                        .await?;
                    (parse(get::<String>(&row, "author_id")?)?, "comment_rejected")
                }
            };
            Self::notify_in(&mut tx, &Self::notice(recipient, kind, &subject, &format!("{item_id}:{now}"), note)).await?;
        }
        outbox.insert(&mut tx).await?;
        tx.commit().await?;
        self.moderation_item(item_id).await?.ok_or(CatalogError::NotFound)
    }

    pub async fn moderation_item(&self, id: &str) -> Result<Option<ModerationItem>> {
        sqlx::query("SELECT * FROM moderation_items WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .map(|r| ModerationItem::from_row(&r))
            .transpose()
    }

    /// The id of `photo`'s pending moderation item (the checks or users'
    /// reports put it in front of moderators), if any.
    pub async fn pending_item_of(&self, photo: &PhotoId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM moderation_items WHERE photo_id = $1 AND status = 'pending' LIMIT 1")
            .bind(photo.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        row.map(|r| get::<String>(&r, "id")).transpose()
    }

    /// Audits a moderator's look at `photo` through review (`what`: its
    /// page, original, …): action `view` under the item it is reviewed
    /// under (the pending one, else the latest).
    pub async fn audit_view(&self, photo: &PhotoId, moderator: &UserId, what: &str) -> Result<()> {
        // Read before the transaction: on SQLite a transaction that reads
        // and then writes fails at once (SQLITE_BUSY, no busy wait) when
        // another connection committed in between; one that starts with its
        // write waits its turn.
        let row = sqlx::query(
            "SELECT id FROM moderation_items WHERE photo_id = $1
             ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, created_ms DESC LIMIT 1",
        )
        .bind(photo.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let item = match row {
            Some(r) => get::<String>(&r, "id")?,
            None => String::new(),
        };
        let mut tx = self.begin().await?;
        let note = format!("viewed {what}");
        Self::audit(&mut tx, &item, &Subject::Photo(photo.clone()), Some(moderator), "view", Some(&note), &serde_json::json!([]), false)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Items in `status`, oldest first.
    pub async fn moderation_queue(&self, status: &str, direction: &Direction, limit: i64) -> Result<(Vec<ModerationItem>, bool)> {
        let mut binds = vec![Bind::Text(status.to_string())];
        let mut sql = "SELECT * FROM moderation_items WHERE status = $1".to_string();
        sql += &keyset_clause_ordered(direction, "created_ms", "id", limit, &mut binds, true);
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut *self.conn().await?).await?;
        let items = rows.iter().map(ModerationItem::from_row).collect::<Result<Vec<_>>>()?;
        Ok(finish_page(items, direction, limit))
    }

    /// The audit log, newest first, for one photo or all.
    /// The audit log, newest first, optionally of one photo and/or one
    /// action (`view`: moderators' looks at photos through review).
    pub async fn moderation_audit(
        &self,
        photo: Option<&PhotoId>,
        action: Option<&str>,
        direction: &Direction,
        limit: i64,
    ) -> Result<(Vec<AuditEntry>, bool)> {
        let mut binds = Vec::new();
        let mut sql = "SELECT m.*, u.username AS actor FROM moderation_audit m LEFT JOIN users u ON u.id = m.actor_id
             WHERE 1 = 1"
            .to_string();
        if let Some(p) = photo {
            binds.push(Bind::Text(p.to_string()));
            sql += &format!(" AND m.photo_id = ${}", binds.len());
        }
        if let Some(a) = action {
            binds.push(Bind::Text(a.to_string()));
            sql += &format!(" AND m.action = ${}", binds.len());
        }
        sql += &keyset_clause(direction, "m.created_ms", "m.id", limit, &mut binds);
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut *self.conn().await?).await?;
        let items = rows.iter().map(AuditEntry::from_row).collect::<Result<Vec<_>>>()?;
        Ok(finish_page(items, direction, limit))
    }

    /// Blocklist changes at or after `since_ms`, oldest first: each hash,
    /// the photo it came from, when it changed, and whether it is blocked
    /// (false: the block was reversed).
    pub async fn blocklist_since(&self, since_ms: i64) -> Result<Vec<BlocklistChange>> {
        let rows = sqlx::query(
            "SELECT hash, photo_id, updated_ms, removed_ms FROM phash_blocklist WHERE updated_ms >= $1 ORDER BY updated_ms",
        )
        .bind(since_ms)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BlocklistChange {
                    hash: get::<i64>(r, "hash")? as u64,
                    photo: parse(get::<String>(r, "photo_id")?)?,
                    changed_ms: get(r, "updated_ms")?,
                    blocked: get::<Option<i64>>(r, "removed_ms")?.is_none(),
                })
            })
            .collect()
    }

    /// Stores a photo's perceptual hash (computed late, for photos from
    /// before moderation).
    pub async fn set_phash(&self, photo: &PhotoId, hash: u64) -> Result<()> {
        sqlx::query("UPDATE photos SET phash = $1 WHERE id = $2")
            .bind(hash as i64)
            .bind(photo.as_str())
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    /// When a moderator last decided about this photo (edits older than
    /// that decision are not re-held on redelivery).
    pub async fn last_decision_ms(&self, photo: &PhotoId) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT MAX(created_ms) AS at FROM moderation_audit WHERE photo_id = $1 AND actor_id IS NOT NULL AND comment_id IS NULL",
        )
        .bind(photo.as_str())
        .fetch_one(&mut *self.conn().await?)
        .await?;
        get(&row, "at")
    }

    pub async fn queue_stats(&self) -> Result<QueueStats> {
        let row = sqlx::query("SELECT COUNT(*) AS n, MIN(created_ms) AS oldest FROM moderation_items WHERE status = 'pending'")
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(QueueStats { pending: get(&row, "n")?, oldest_ms: get(&row, "oldest")? })
    }
}
