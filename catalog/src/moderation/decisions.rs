//! Moderators' decisions on queue items, first ones and reversals.

use photostream_types::{now_ms, LifecycleEvent, UserId};

use super::{ModerationItem, Subject, Verdict};
use crate::outbox::OutboxEntry;
use crate::parse;
use crate::{get, Catalog, CatalogError, Result};

impl Catalog {
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
                Self::apply_lifecycle(&mut tx, p, LifecycleEvent::ModeratorApproved, now).await?;
            }
            (Subject::Photo(p), Verdict::Reject) => {
                Self::apply_lifecycle(&mut tx, p, LifecycleEvent::ModeratorRejected, now).await?;
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
}
