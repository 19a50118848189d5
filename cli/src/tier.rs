//! `photostream tier`: one tiering pass from the command line, with progress.
//! Opens only the catalog and the two object stores, so it runs beside a
//! serving instance on the same data dir.

use std::time::Duration;

use anyhow::Context;
use photostream_catalog::{Catalog, PoolSettings};
use photostream_tiering::{Mover, Tiers};
use tokio_util::sync::CancellationToken;

use crate::progress::{human_bytes, Progress};
use crate::Config;

/// Moves originals not read for `older_than` (default
/// `storage.cold_after_days`) to the cold store and finishes half-done
/// moves. SIGINT or SIGTERM stop it between two photos; a killed run is
/// finished by the next one.
pub async fn run(
    config: &Config,
    older_than: Option<Duration>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let cold = crate::backends::cold_objects(config)?
        .context("storage.cold is not configured (PHOTOSTREAM_STORAGE__COLD): there is nowhere to move originals to")?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let hot = crate::backends::objects(&config.objects, &config.data_dir)?;
    let settings = PoolSettings {
        max_connections: 2,
        ..PoolSettings::named("pipeline")
    };
    let catalog = Catalog::connect_with(&config.catalog_url(), settings)
        .await
        .context("opening the catalog")?;
    let older_than = older_than.unwrap_or(Duration::from_secs(
        config.storage.cold_after_days.saturating_mul(86_400),
    ));
    let mover = Mover::new(catalog.clone(), Tiers::new(hot, Some(cold)));
    let pending = mover.pending(older_than).await?;
    println!("{pending} original(s) to move to the cold store (or to finish moving)");
    let mut progress = Progress::new(pending as u64, None);
    let report = mover
        .pass(older_than, &cancel, |photo, result| match result {
            Ok(m) => progress.advance(
                m.bytes_copied,
                &format!("{} → {}", photo.original_key, m.tier),
            ),
            Err(e) => progress.advance(0, &format!("FAILED {}: {e}", photo.original_key)),
        })
        .await?;
    progress.finish();
    catalog.close().await;
    println!(
        "tiered {} original(s) ({}), {} failed{}",
        report.moved,
        human_bytes(report.bytes),
        report.failed,
        if cancel.is_cancelled() {
            "; interrupted: run again to finish"
        } else {
            ""
        }
    );
    if report.failed > 0 {
        anyhow::bail!(
            "{} original(s) could not be moved; run again to retry",
            report.failed
        );
    }
    Ok(())
}
