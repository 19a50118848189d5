//! `photostream admin grant-premium | revoke-premium | premium-audit`: an
//! administrator's premium changes, each written with its audit row
//! (`Catalog::set_premium`), and the audit trail itself.

use anyhow::Context;
use chrono::{NaiveDate, TimeZone, Utc};
use photostream_catalog::{Catalog, CatalogError, PremiumChange};
use photostream_types::Username;

/// `--until`: `YYYY-MM-DD` (premium through the end of that day, UTC) or an
/// RFC 3339 time; milliseconds since the epoch.
pub fn parse_until(s: &str) -> anyhow::Result<i64> {
    if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let next = day.succ_opt().context("date out of range")?;
        return Ok(Utc
            .from_utc_datetime(&next.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| anyhow::anyhow!("--until {s:?}: use YYYY-MM-DD or an RFC 3339 time"))
}

/// Who ran the command: `--by`, else `$USER`, else `admin`.
fn actor(by: Option<&str>) -> String {
    by.map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "admin".into())
}

fn username(name: &str) -> anyhow::Result<Username> {
    Username::parse(name).map_err(|e| anyhow::anyhow!(e.0))
}

fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map_or_else(|| ms.to_string(), |t| t.to_rfc3339())
}

async fn change(
    catalog: &Catalog,
    name: &str,
    change: PremiumChange,
    by: Option<&str>,
) -> anyhow::Result<photostream_catalog::User> {
    match catalog
        .set_premium(&username(name)?, change, &actor(by))
        .await
    {
        Err(CatalogError::NotFound) => anyhow::bail!("no user {name}"),
        other => Ok(other?),
    }
}

pub async fn grant(
    catalog: &Catalog,
    name: &str,
    until: Option<&str>,
    by: Option<&str>,
) -> anyhow::Result<()> {
    let until_ms = until.map(parse_until).transpose()?;
    let user = change(catalog, name, PremiumChange::Grant { until_ms }, by).await?;
    match user.premium_until_ms {
        Some(ms) => println!("{} is premium until {}", user.username, rfc3339(ms)),
        None => println!("{} is premium (no end)", user.username),
    }
    Ok(())
}

pub async fn revoke(catalog: &Catalog, name: &str, by: Option<&str>) -> anyhow::Result<()> {
    let user = change(catalog, name, PremiumChange::Revoke, by).await?;
    println!("{} is no longer premium", user.username);
    Ok(())
}

/// Prints the trail as tab-separated lines: when, user, action, until,
/// source, actor, event id.
pub async fn audit(catalog: &Catalog, name: Option<&str>, limit: i64) -> anyhow::Result<()> {
    let user = match name {
        None => None,
        Some(n) => Some(
            catalog
                .user_by_username(&username(n)?)
                .await?
                .with_context(|| format!("no user {n}"))?
                .id,
        ),
    };
    let entries = catalog
        .premium_audit(user.as_ref(), limit.clamp(1, 10_000))
        .await?;
    for e in &entries {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            rfc3339(e.created_ms),
            e.username,
            e.action,
            e.until_ms.map_or_else(|| "-".into(), rfc3339),
            e.source,
            e.actor,
            e.event_id.as_deref().unwrap_or("-")
        );
    }
    eprintln!("{} change(s)", entries.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_dates() {
        // Through the end of the day named.
        assert_eq!(
            parse_until("2027-01-31").unwrap(),
            Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(
            parse_until("2027-01-31T12:00:00Z").unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 31, 12, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert!(parse_until("next tuesday").is_err());
    }
}
