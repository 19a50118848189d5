//! Planner statistics: what lets the database pick index scans for the
//! listing queries as the catalog grows.

use crate::{get, Catalog, Dialect, Result};

/// Autovacuum's own default trigger: a table is re-analysed once this many
/// rows plus [`ANALYZE_SCALE`] of its size changed since the last analysis.
const ANALYZE_THRESHOLD: i64 = 50;
const ANALYZE_SCALE: f64 = 0.1;

impl Catalog {
    /// Keeps the query planner's statistics current; call it periodically
    /// (the pipeline role does, every 30 s).
    ///
    /// PostgreSQL's autovacuum normally does this. On a server running with
    /// `autovacuum = off` (the CI machine's is) a table that grew from empty
    /// has no statistics, the planner guesses that almost no row matches and
    /// picks sequential scans and sorts: the feed query took 515 ms at 20,000
    /// photos instead of 0.5 ms (docs/benchmarks.md). So when autovacuum is
    /// off, the tables whose rows changed past autovacuum's own threshold
    /// are analysed here; with autovacuum on, and on SQLite, this does nothing.
    ///
    /// Returns the tables analysed.
    pub async fn refresh_statistics(&self) -> Result<Vec<String>> {
        let mut conn = self.conn().await?;
        match self.dialect {
            // SQLite plans the catalog's queries well without statistics
            // (its planner prefers the index that matches ORDER BY).
            Dialect::Sqlite => Ok(Vec::new()),
            Dialect::Postgres => {
                let row = sqlx::query("SELECT current_setting('autovacuum') AS on_off").fetch_one(&mut conn).await?;
                if get::<String>(&row, "on_off")? != "off" {
                    return Ok(Vec::new());
                }
                let rows = sqlx::query(
                    "SELECT CAST(relname AS TEXT) AS relname, n_mod_since_analyze AS changed, n_live_tup AS live
                     FROM pg_stat_user_tables WHERE schemaname = current_schema()",
                )
                .fetch_all(&mut conn)
                .await?;
                let mut analysed = Vec::new();
                for row in &rows {
                    let (table, changed, live): (String, i64, i64) =
                        (get(row, "relname")?, get(row, "changed")?, get(row, "live")?);
                    if changed as f64 > ANALYZE_THRESHOLD as f64 + ANALYZE_SCALE * live as f64 {
                        // The name comes from the server's own catalog;
                        // quoting keeps any name a plain identifier.
                        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
                        sqlx::query(&format!("ANALYZE {quoted}")).execute(&mut conn).await?;
                        analysed.push(table);
                    }
                }
                if !analysed.is_empty() {
                    tracing::info!(tables = ?analysed, "autovacuum is off: analysed the catalog tables that changed");
                }
                Ok(analysed)
            }
        }
    }
}
