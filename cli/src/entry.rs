//! The command line: flags, logging, signal handling. Both the real
//! `photostream` binary and the copy the crash tests run call [`main`].

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use crate::config::{Config, Overrides, Role};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser)]
#[command(name = "photostream", version, about = "Flickr-style photo sharing as a stream pipeline")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (API and processors on embedded defaults unless configured otherwise).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Directory for the embedded backends' files.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// A TOML config file (see config/photostream.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Which parts to run in this process.
        #[arg(long, value_enum)]
        role: Option<Role>,
    },
    /// Print the effective configuration (defaults, file, env and flags merged) as TOML.
    Config {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Rebuild the search index from the catalog (resumable with --from).
    Reindex(RebuildArgs),
    /// Regenerate every thumbnail and display rendition from its original (resumable with --from).
    Rethumb(RebuildArgs),
    /// Inspect or re-drive the dead-letter topic.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
    },
    /// Move originals not read for a while to the cold store (storage.cold);
    /// resumable: a re-run finishes half-done moves.
    Tier {
        /// Originals not read (nor uploaded) for this long: 30d, 12h, 90m, 0
        /// (default: storage.cold_after_days).
        #[arg(long, value_parser = crate::progress::parse_duration)]
        older_than: Option<std::time::Duration>,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Upload every image under DIR to a photostream server, one at a time;
    /// files already there (same content) are skipped.
    Upload(crate::upload::UploadOptions),
    /// Administrative actions on the catalog.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RebuildArgs {
    /// Resume after this photo id (printed as progress).
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum DlqAction {
    /// Show the records processors gave up on (consumes nothing).
    List,
    /// Send them back to their topics for every processor to try again.
    Replay,
}

#[derive(Subcommand)]
enum AdminAction {
    /// Give a user the moderator role.
    GrantModerator { username: String },
    /// Take the moderator role away.
    RevokeModerator { username: String },
    /// Make a user premium (originals of every photo they may see); audited.
    GrantPremium {
        username: String,
        /// Last day of premium (`YYYY-MM-DD`, through the end of that day UTC) or an RFC 3339 time; none: no end.
        #[arg(long)]
        until: Option<String>,
        /// Who is making the change, for the audit trail (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// End a user's premium now; audited.
    RevokePremium {
        username: String,
        /// Who is making the change, for the audit trail (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Show the premium audit trail (every grant and revocation, newest first), of one user or everyone.
    PremiumAudit {
        username: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

fn init_logging(format: &str) {
    crate::telemetry::init(format);
}

/// Parses `std::env::args` and runs the chosen subcommand to completion.
pub fn main() -> anyhow::Result<()> {
    // Both rustls providers are in the dependency tree; pick one explicitly.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    // Before anything opens a SQLite database (the catalog, analytics).
    photostream_catalog::sqlite_memory::install();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Config { config } => {
            let c = Config::load(config.as_deref(), &Overrides::default())?;
            print!("{}", toml::to_string_pretty(&c)?);
            Ok(())
        }
        Command::Reindex(a) => rebuild(a.config, a.data_dir, a.from, false).await,
        Command::Tier {
            older_than,
            config,
            data_dir,
        } => {
            let config = load_config(config, data_dir)?;
            let cancel = tokio_util::sync::CancellationToken::new();
            cancel_on_signal(cancel.clone(), || eprintln!("stopping after the original in hand"));
            crate::tier::run(&config, older_than, cancel).await
        }
        Command::Upload(options) => {
            let dir = options.dir.clone();
            let summary = crate::upload::run(options).await?;
            crate::upload::report(&summary, &dir)
        }
        Command::Rethumb(a) => rebuild(a.config, a.data_dir, a.from, true).await,
        Command::Dlq { action, config, data_dir } => {
            let config = load_config(config, data_dir)?;
            let log = crate::backends::stream(&config).await?;
            match action {
                DlqAction::List => {
                    let letters = photostream_processors::dlq::list(log.as_ref()).await?;
                    for d in &letters {
                        println!(
                            "{}\t{}\tattempts={}\tevent={}\t{}",
                            d.processor,
                            d.topic,
                            d.attempts,
                            d.original.id,
                            d.error.replace('\n', " ")
                        );
                    }
                    eprintln!("{} dead letter(s)", letters.len());
                }
                DlqAction::Replay => {
                    let n = photostream_processors::dlq::replay(log.as_ref()).await?;
                    eprintln!("replayed {n} dead letter(s)");
                }
            }
            Ok(())
        }
        Command::Admin {
            action,
            config,
            data_dir,
        } => {
            let config = load_config(config, data_dir)?;
            let catalog = photostream_catalog::Catalog::connect(&config.catalog_url()).await?;
            let (name, role) = match &action {
                AdminAction::GrantModerator { username } => (username, "moderator"),
                AdminAction::RevokeModerator { username } => (username, "user"),
                AdminAction::GrantPremium { username, until, by } => {
                    return crate::premium_admin::grant(&catalog, username, until.as_deref(), by.as_deref()).await
                }
                AdminAction::RevokePremium { username, by } => {
                    return crate::premium_admin::revoke(&catalog, username, by.as_deref()).await
                }
                AdminAction::PremiumAudit { username, limit } => {
                    return crate::premium_admin::audit(&catalog, username.as_deref(), *limit).await
                }
            };
            let username = photostream_types::Username::parse(name).map_err(|e| anyhow::anyhow!(e.0))?;
            if !catalog.set_role(&username, role).await? {
                anyhow::bail!("no user {username}");
            }
            println!("{username} is now a {role}");
            Ok(())
        }
        Command::Serve {
            listen,
            data_dir,
            config,
            role,
        } => {
            let overrides = Overrides {
                listen,
                data_dir,
                role,
            };
            let config = Config::load(config.as_deref(), &overrides).context("loading configuration")?;
            init_logging(&config.log_format);
            let service = crate::start(config, None).await?;
            cancel_on_signal(service.shutdown_token(), || tracing::info!("shutting down gracefully"));
            service.wait().await
        }
    }
}

/// The configuration for a command whose only override is `--data-dir`.
fn load_config(file: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
    let overrides = Overrides { data_dir, ..Default::default() };
    Config::load(file.as_deref(), &overrides).context("loading configuration")
}

/// Cancels `token` on Ctrl-C or SIGTERM, after `announce`.
fn cancel_on_signal(token: tokio_util::sync::CancellationToken, announce: impl FnOnce() + Send + 'static) {
    tokio::spawn(async move {
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        announce();
        token.cancel();
    });
}

/// Walks every live photo in id order, re-deriving its search document (or
/// its thumbnail), printing progress and the last id done so an interrupted
/// run can continue with `--from`.
async fn rebuild(config: Option<PathBuf>, data_dir: Option<PathBuf>, from: Option<String>, thumbnails: bool) -> anyhow::Result<()> {
    let config = load_config(config, data_dir)?;
    let backends = crate::backends::Backends::open(&config).await?;
    let mut after: Option<photostream_types::PhotoId> = from
        .map(|f| f.parse().map_err(|e: photostream_types::InvalidValue| anyhow::anyhow!(e.0)))
        .transpose()?;
    let total = backends.catalog.photo_count().await?;
    let thumbnailer = photostream_processors::Thumbnailer::new(
        backends.catalog.clone(),
        backends.objects.clone(),
        config.thumbnails.width,
        photostream_media::Limits { max_pixels: config.uploads.max_pixels, max_side: config.uploads.max_side },
    )
    // As the running thumbnailer does: the configured mark, and originals
    // tiered to the cold store read from there.
    .with_mark_style(config.watermark.style().map_err(anyhow::Error::msg)?)
    .with_cold_store(backends.cold_objects.clone());
    let (mut done, mut failed) = (0usize, 0usize);
    loop {
        let page = backends.catalog.photos_after(after.as_ref(), 200).await?;
        let Some(last) = page.last() else { break };
        let last_id = last.id.clone();
        for photo in &page {
            let result = if thumbnails {
                thumbnailer.render(photo).await.map(|_| ()).map_err(|e| anyhow::anyhow!("{e}"))
            } else {
                photostream_projections::sync_search(&backends.catalog, backends.search.as_ref(), &photo.id)
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            };
            match result {
                Ok(()) => done += 1,
                Err(e) => {
                    failed += 1;
                    eprintln!("{}: {e:#}", photo.id);
                }
            }
        }
        after = Some(last_id.clone());
        eprintln!("{}/{total} done, {failed} failed; resume with --from {last_id}", done + failed);
    }
    println!("{} {done} photo(s), {failed} failed", if thumbnails { "rethumbed" } else { "reindexed" });
    if failed > 0 {
        anyhow::bail!("{failed} photo(s) failed");
    }
    Ok(())
}
