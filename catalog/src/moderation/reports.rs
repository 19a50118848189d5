//! Users' reports: weighed, collapsed into the photo's pending item, and
//! hiding the photo once their weight reaches the threshold.

use photostream_types::{now_ms, PhotoId, UserId};

use super::Subject;
use crate::outbox::OutboxEntry;
use crate::{get, Catalog, CatalogError, Result};

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

impl Catalog {
    /// What a reporter's standing rests on: their account's creation time
    /// and how moderators decided on the photos they reported before
    /// (`(created_ms, upheld, dismissed)`).
    pub async fn reporter_record(&self, reporter: &UserId) -> Result<(i64, i64, i64)> {
        let mut conn = self.conn().await?;
        let row = sqlx::query("SELECT created_ms FROM users WHERE id = $1")
            .bind(reporter.as_str())
            .fetch_optional(&mut conn)
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
        .fetch_one(&mut conn)
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
}
