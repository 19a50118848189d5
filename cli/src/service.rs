//! Starting and stopping the service for a role.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use photostream_api::{ApiConfig, AppState, AuthKeys};
use photostream_media::Limits;
use photostream_pipeline::Topic;
use photostream_processors::{
    report_lag, run_processor_with_stats, AnalyticsRecorder, Concurrent, Moderator, Notifier, OriginalsBudget, OrphanSweeper, OutboxRelay, Processor, ProcessorStats, Purger,
    RunnerConfig, SearchIndexer, Thumbnailer,
};
use photostream_types::metric;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::backends::Backends;
use crate::{Config, Role};

/// A started service. Dropping it does not stop it: call [`shutdown`].
///
/// [`shutdown`]: RunningService::shutdown
pub struct RunningService {
    addr: Option<SocketAddr>,
    stats: Vec<(&'static str, Arc<ProcessorStats>)>,
    shutdown: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
    pub backends: Backends,
}

impl RunningService {
    /// Where the API listens (None for the processors role).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The counters of this instance's processor named `name`.
    pub fn processor_stats(&self, name: &str) -> Option<Arc<ProcessorStats>> {
        self.stats.iter().find(|(n, _)| *n == name).map(|(_, s)| s.clone())
    }

    /// The token that stops everything; cancel it from a signal handler.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until the shutdown token fires and every part has stopped.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(done) = self.tasks.join_next().await {
            let result = done.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(e) = result {
                error!(error = %format!("{e:#}"), "a service task failed; shutting down");
                self.shutdown.cancel();
                first_error.get_or_insert(e);
            }
        }
        self.backends.catalog.close().await;
        self.backends.pipeline_catalog.close().await;
        first_error.map_or(Ok(()), Err)
    }

    /// Stops gracefully: the API finishes in-flight requests, processors
    /// finish and commit the record in hand, the relay drains the outbox.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// Reads the JWT key from config, or from `{data_dir}/jwt.key`, creating it
/// (32 random bytes, hex, mode 0600) on first start.
fn jwt_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if !config.auth.jwt_secret.is_empty() {
        anyhow::ensure!(
            config.auth.jwt_secret.len() >= 32,
            "auth.jwt_secret must be at least 32 bytes"
        );
        return Ok(config.auth.jwt_secret.as_bytes().to_vec());
    }
    let path = config.data_dir.join("jwt.key");
    if let Ok(hex_key) = std::fs::read_to_string(&path) {
        return hex::decode(hex_key.trim()).context("jwt.key is not hex");
    }
    let key: [u8; 32] = rand::random();
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(hex::encode(key).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    info!(path = %path.display(), "generated a new JWT signing key");
    Ok(key.to_vec())
}

/// Opens the backends and starts the parts `config.role` asks for. With
/// `listener` given, the API serves on it (tests pass one bound to port 0);
/// otherwise it binds `config.listen`.
pub async fn start(config: Config, listener: Option<TcpListener>) -> anyhow::Result<RunningService> {
    config.validate().map_err(anyhow::Error::msg)?;
    let backends = Backends::open(&config).await?;
    info!(role = ?config.role, backends = %backends.describe(), "backends ready");
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let outbox_wake = Arc::new(Notify::new());
    if !photostream_media::budget::set_decode_budget(config.uploads.decode_memory_mb << 20)
        && photostream_media::budget::decode_budget() != config.uploads.decode_memory_mb << 20
    {
        tracing::warn!("the decode memory budget was already set in this process; uploads.decode_memory_mb is ignored");
    }
    let limits = Limits {
        max_pixels: config.uploads.max_pixels,
        max_side: config.uploads.max_side,
    };
    let mut addr = None;
    let mut stats = Vec::new();

    if matches!(config.role, Role::Api | Role::All) {
        let secret = jwt_secret(&config)?;
        let auth = AuthKeys::new(
            &secret,
            &config.auth.issuer,
            &config.auth.audience,
            config.auth.session_ttl_secs,
        );
        let api_config = ApiConfig {
            max_upload_bytes: config.uploads.max_bytes,
            limits,
            thumbnail_width: config.thumbnails.width,
            explore: config.explore,
            report_threshold: config.moderation.report_threshold,
            report_full_weight_age_secs: config.moderation.report_full_weight_age_secs,
            header_timeout: std::time::Duration::from_secs(config.limits.header_timeout_secs),
            body_pace: photostream_api::server::BodyPace {
                grace: std::time::Duration::from_secs(config.limits.body_grace_secs),
                min_bytes_per_sec: config.limits.body_min_bytes_per_sec,
            },
            max_streams_per_user: config.limits.streams_per_user,
            signups_per_address: config.limits.signups_per_address,
            metrics_token: Some(config.metrics_token.clone()).filter(|t| !t.is_empty()),
            rewarm_on_read: config.storage.rewarm_on_read,
            free_originals: config.premium.free_originals,
            billing_webhook_secret: Some(config.billing.webhook_secret.clone()).filter(|s| !s.is_empty()),
            signals: config.signals.clone(),
        };
        let mut state = AppState::new(
            backends.catalog.clone(),
            backends.objects.clone(),
            backends.search.clone(),
            auth,
            &secret,
            api_config,
        );
        state.stream = Some(backends.stream.clone());
        state.views = Some(photostream_api::view_events::ViewSink::start(backends.stream.clone(), shutdown.clone()));
        state.analytics = Some(backends.analytics.clone());
        state.limiter = backends.limiter.clone();
        state.share_rate_limits(backends.rate_limits.clone());
        state.thumbnail_cache = backends.thumbnail_cache.clone();
        state.signals = backends.signals.clone();
        state.tiering = backends.cold_objects.clone().map(|cold| {
            photostream_tiering::Mover::new(
                backends.catalog.clone(),
                photostream_tiering::Tiers::new(backends.objects.clone(), Some(cold)),
            )
        });
        state.shutdown = shutdown.clone();
        state.outbox_wake = outbox_wake.clone();
        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?,
        };
        addr = Some(listener.local_addr()?);
        info!(addr = %addr.unwrap(), "API listening");
        let token = shutdown.clone();
        tasks.spawn(async move {
            photostream_api::serve(listener, Arc::new(state), token.cancelled_owned())
                .await
                .context("API server")
        });
    }

    if matches!(config.role, Role::Processors | Role::All) {
        let checks = Arc::new(
            photostream_moderation::Checks::new(config.moderation.clone()).context("moderation config")?,
        );
        info!(
            classifier = if checks.classifier_enabled() { "on" } else { "off (no model configured)" },
            "moderation checks ready"
        );
        metric::MODERATION_CLASSIFIER_ENABLED.with([]).set(checks.classifier_enabled() as u8 as f64);
        let runner = RunnerConfig {
            max_attempts: config.processors.max_attempts,
            give_up_after: Duration::from_secs(config.processors.dead_letter_after_secs),
            max_batch_wait: Duration::from_millis(200),
            base_backoff: Duration::from_millis(config.processors.base_backoff_ms),
            max_backoff: Duration::from_millis(config.processors.max_backoff_ms),
        };
        // New thumbnails warm the cache the API reads: this process's own
        // (role all) or a shared one; a processors-only instance's
        // in-process cache serves no reads.
        let thumbnails_read_here = config.role == Role::All || backends.thumbnail_cache.shared();
        let n = config.processors.concurrency;
        let originals = Arc::new(OriginalsBudget::new(config.processors.originals_memory_mb.saturating_mul(1024 * 1024)));
        let processors: Vec<Arc<dyn Processor>> = vec![
            Arc::new(Concurrent::new(
                Thumbnailer::new(
                    backends.pipeline_catalog.clone(),
                    backends.objects.clone(),
                    config.thumbnails.width,
                    limits,
                )
                .with_mark_style(config.watermark.style().map_err(anyhow::Error::msg)?)
                .with_cold_store(backends.cold_objects.clone())
                .with_originals_budget(originals.clone())
                .with_cache(thumbnails_read_here.then(|| backends.thumbnail_cache.clone())),
                n,
            )),
            Arc::new(SearchIndexer::new(backends.pipeline_catalog.clone(), backends.search.clone())),
            Arc::new(AnalyticsRecorder::new(backends.analytics.clone())),
            Arc::new(Concurrent::new(
                Purger::new(backends.objects.clone(), backends.thumbnail_cache.clone())
                    .with_cold_store(backends.cold_objects.clone()),
                n,
            )),
            Arc::new(Notifier::new(backends.pipeline_catalog.clone())),
            Arc::new(Concurrent::new(
                Moderator::new(backends.pipeline_catalog.clone(), backends.objects.clone(), checks, limits)
                    .with_originals_budget(originals),
                n,
            )),
        ];
        // Views have a topic of their own, which only analytics reads.
        let views: Arc<dyn Processor> = Arc::new(AnalyticsRecorder::for_views(backends.analytics.clone()));
        let on_topics = processors
            .into_iter()
            .map(|p| (Topic::photos(), p))
            .chain([(Topic::views(), views)]);
        let mut lag_of = Vec::new();
        for (topic, p) in on_topics {
            let counters = Arc::new(ProcessorStats::default());
            stats.push((p.name(), counters.clone()));
            lag_of.push((p.name(), topic.clone(), counters.clone()));
            tasks.spawn(run_processor_with_stats(
                backends.stream.clone(),
                topic,
                p,
                runner.clone(),
                shutdown.clone(),
                counters,
            ));
        }
        let token = shutdown.clone();
        let lag = report_lag(backends.stream.clone(), lag_of, Duration::from_secs(5), token);
        tasks.spawn(async move {
            lag.await;
            Ok(())
        });
        // Housekeeping every 30 s. Retention: what every group has finished
        // with is freed (the embedded log; networked backends keep their own
        // limits); the dead-letter topic is kept whole for `photostream dlq`.
        // Planner statistics: kept current where the database does not.
        // Sessions expired for a day are deleted.
        {
            let (stream, catalog, token) = (backends.stream.clone(), backends.pipeline_catalog.clone(), shutdown.clone());
            tasks.spawn(async move {
                loop {
                    for topic in [Topic::photos(), Topic::views()] {
                        if let Err(e) = stream.enforce_retention(&topic).await {
                            tracing::warn!(topic = topic.as_str(), error = %e, "retention failed; will retry");
                        }
                    }
                    if let Err(e) = catalog.refresh_statistics().await {
                        tracing::warn!(error = %e, "refreshing planner statistics failed; will retry");
                    }
                    if let Err(e) = catalog.delete_expired_sessions().await {
                        tracing::warn!(error = %e, "deleting expired sessions failed; will retry");
                    }
                    tokio::select! {
                        _ = token.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                    }
                }
            });
        }
        let relay = OutboxRelay::new(backends.pipeline_catalog.clone(), backends.stream.clone(), outbox_wake);
        let token = shutdown.clone();
        tasks.spawn(async move {
            relay.run(token).await;
            Ok(())
        });
        // Storage tiering: originals not read for `cold_after_days` move to
        // the cold store, a pass every `tier_interval_secs`.
        if let Some(cold) = backends.cold_objects.clone() {
            let mover = photostream_tiering::Mover::new(
                backends.pipeline_catalog.clone(),
                photostream_tiering::Tiers::new(backends.objects.clone(), Some(cold)),
            );
            let older_than =
                Duration::from_secs(config.storage.cold_after_days.saturating_mul(86_400));
            let every = Duration::from_secs(config.storage.tier_interval_secs.max(1));
            let token = shutdown.clone();
            tasks.spawn(async move {
                mover.run(older_than, every, token).await;
                Ok(())
            });
        }
        let mut sweeper = OrphanSweeper::new(backends.pipeline_catalog.clone(), backends.objects.clone());
        sweeper.grace = Duration::from_secs(config.processors.sweep_grace_secs);
        sweeper.every = Duration::from_secs(config.processors.sweep_interval_secs.max(1));
        let token = shutdown.clone();
        tasks.spawn(async move {
            sweeper.run(token).await;
            Ok(())
        });
    }

    // Catalog pool gauges (connections open, in use, max) once a second.
    {
        let pools = [backends.catalog.clone(), backends.pipeline_catalog.clone()];
        let token = shutdown.clone();
        tasks.spawn(async move {
            loop {
                pools.iter().for_each(photostream_catalog::Catalog::report_pool);
                tokio::select! {
                    _ = token.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
    }

    // Backend reachability as gauges, whatever the role.
    {
        let backends = backends.clone();
        let token = shutdown.clone();
        tasks.spawn(async move {
            loop {
                for (name, up) in backends.probe().await {
                    metric::BACKEND_UP.with([name]).set(up as u8 as f64);
                }
                tokio::select! {
                    _ = token.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(15)) => {}
                }
            }
        });
    }

    // `/metrics` and `/healthz` on a port of their own: how a processors-only
    // instance is scraped (the API role also serves them on its port).
    if !config.metrics_listen.is_empty() {
        let addr: SocketAddr = config.metrics_listen.parse().context("metrics_listen")?;
        let listener = TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        info!(addr = %listener.local_addr()?, "metrics listening");
        let app = axum::Router::new()
            .route("/metrics", axum::routing::get(|| async { photostream_api::metrics::render_text() }))
            .route("/healthz", axum::routing::get(|| async { "ok" }));
        let token = shutdown.clone();
        tasks.spawn(async move {
            axum::serve(listener, app).with_graceful_shutdown(token.cancelled_owned()).await.context("metrics server")
        });
    }

    Ok(RunningService {
        addr,
        stats,
        shutdown,
        tasks,
        backends,
    })
}
