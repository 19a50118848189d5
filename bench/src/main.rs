//! `photostream-bench thumbnails [DIR] [--repeat N] [--format jpeg|heic|avif]`
//!
//! Thumbnails per second over a directory of images, photostream's
//! thumbnailer beside `vipsthumbnail` (Debian's `libvips-tools`) run over
//! the same files in the same invocation, printed as a ratio. Without DIR,
//! the shared fixtures of the format are copied into a temporary directory:
//! the 12 MP camera JPEGs, the 12 MP iPhone HEIC or the 2 MP AVIF.
//!
//! Run in release mode: `cargo run --release -p photostream-bench -- thumbnails`.
//! Arguments are parsed with clap (`photostream-bench load --help`).
//!
//! `photostream-bench moderation`: moderation checks per second per core
//! (see `moderation.rs`), beside single-threaded `vipsthumbnail`.
//!
//! `photostream-bench load --url URL`: seeds photos through the API, then
//! mixed reads while uploads continue, with latency percentiles per
//! endpoint beside nginx serving the same thumbnails (see `load.rs`;
//! `scripts/load-bench` runs it).
//!
//! `photostream-bench backends`: each networked backend's hot operation
//! beside its embedded peer (needs the local services `scripts/services`
//! starts).

mod backends;
mod load;
mod moderation;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use photostream_media::{probe, thumbnail, Limits};

/// Benchmarks that print photostream's figures beside a named peer
/// measured in the same run. Run in release mode.
#[derive(Parser)]
#[command(name = "photostream-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Thumbnails per second over a directory of images, beside `vipsthumbnail`.
    Thumbnails(ThumbnailArgs),
    /// Moderation checks per second per core, beside single-threaded `vipsthumbnail` (see `moderation.rs`).
    Moderation(moderation::Args),
    /// Each networked backend's hot operation beside its embedded peer (needs `scripts/services`).
    Backends,
    /// Seeds photos through the API, then mixed reads while uploads continue, beside nginx (see `load.rs`; `scripts/load-bench` runs it).
    // A later option wins, as `scripts/load-bench`'s own before the caller's.
    #[command(args_override_self = true)]
    Load(load::Args),
}

#[derive(clap::Args)]
struct ThumbnailArgs {
    /// A directory of images (default: the shared fixtures of the format, copied `--repeat` times).
    dir: Option<PathBuf>,
    /// Copies of each fixture when no DIR is given.
    #[arg(long, default_value_t = 8)]
    repeat: usize,
    /// `jpeg`, `heic` or `avif`.
    #[arg(long, default_value = "jpeg")]
    format: String,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Bench::Thumbnails(args) => thumbnails(args),
        Bench::Backends => tokio::runtime::Runtime::new()?.block_on(backends::run()),
        Bench::Moderation(args) => moderation::run(args),
        Bench::Load(args) => tokio::runtime::Runtime::new()?.block_on(load::run(args)),
    }
}

/// The file extensions of each format the benchmark takes.
fn extensions(format: &str) -> &'static [&'static str] {
    match format {
        "heic" => &["heic", "heif"],
        "avif" => &["avif"],
        _ => &["jpg", "jpeg"],
    }
}

fn images_in(dir: &Path, format: &str) -> anyhow::Result<Vec<PathBuf>> {
    let exts = extensions(format);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn default_corpus(into: &Path, repeat: usize, format: &str) -> anyhow::Result<Vec<PathBuf>> {
    let fixtures = std::env::var_os("FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/images"));
    let sources: &[&str] = match format {
        "heic" => &["heic-12mp-iphone13.heic"],
        "avif" => &["avif-exif.avif"],
        _ => &["jpeg-exif-12mp-olympus.jpg", "jpeg-exif-gps-phone.jpg"],
    };
    let mut out = Vec::new();
    for i in 0..repeat {
        for s in sources {
            let dst = into.join(format!("{i:03}-{s}"));
            std::fs::copy(fixtures.join(s), &dst).with_context(|| format!("copying fixture {s}"))?;
            out.push(dst);
        }
    }
    Ok(out)
}

fn thumbnails(args: ThumbnailArgs) -> anyhow::Result<()> {
    let ThumbnailArgs { dir, repeat, format } = args;
    let format = format.to_lowercase();
    let tmp = tempfile::tempdir()?;
    if !["jpeg", "heic", "avif"].contains(&format.as_str()) {
        bail!("--format jpeg|heic|avif");
    }
    let files = match &dir {
        Some(d) => images_in(d, &format)?,
        None => default_corpus(tmp.path(), repeat, &format)?,
    };
    if files.is_empty() {
        bail!("no {format} files to work on");
    }
    let bytes: Vec<Vec<u8>> = files.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    let megapixels: f64 = bytes
        .iter()
        .map(|b| probe(b, &Limits::default()).map(|p| p.width as f64 * p.height as f64 / 1e6))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .sum::<f64>()
        / files.len() as f64;
    println!(
        "corpus: {} {} files, mean {:.1} MP ({})",
        files.len(),
        format.to_uppercase(),
        megapixels,
        dir.as_ref().map_or("shared camera fixtures".into(), |d| d.display().to_string())
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // Warm up caches once.
    run_ours(&bytes[..1])?;
    let ours_1 = run_ours(&bytes)?;
    let ours_n = run_ours_parallel(&bytes, cores)?;
    let both = run_renditions(&bytes)?;
    let full = if format == "jpeg" { run_full_decode(&bytes)? } else { run_primary_decode(&bytes)? };
    let vips = run_vips(&files, tmp.path(), None)?;
    let vips_1 = run_vips(&files, tmp.path(), Some(1))?;

    let rate = |d: Duration| files.len() as f64 / d.as_secs_f64();
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / files.len() as f64;
    println!();
    println!("{:<46} {:>10} {:>10} {:>12}", "thumbnailer (50 px wide, upright)", "ms/image", "images/s", "vs vips");
    let row = |name: &str, d: Duration| {
        println!(
            "{:<46} {:>10.1} {:>10.1} {:>11.2}x",
            name,
            per(d),
            rate(d),
            vips.map_or(f64::NAN, |v| v.as_secs_f64() / d.as_secs_f64())
        )
    };
    match (vips, vips_1) {
        (Some(v), Some(v1)) => {
            row("vipsthumbnail (1 process, all files)", v);
            row("vipsthumbnail, VIPS_CONCURRENCY=1", v1);
        }
        _ => println!("{:<46} not installed: apt-get install libvips-tools", "vipsthumbnail"),
    }
    row("photostream, shrink-on-load, 1 thread", ours_1);
    row(&format!("photostream, shrink-on-load, {cores} threads"), ours_n);
    row("photostream processor: display 1024 px + thumbnail", both);
    if format == "jpeg" {
        row("photostream without shrink-on-load (full decode)", full);
    } else {
        row("photostream, primary image decode only (no thumb item)", full);
    }
    println!();
    println!("'vs vips' is vipsthumbnail's time divided by ours: above 1.00x we are faster.");
    if vips.is_none() {
        bail!("vipsthumbnail was not measured");
    }
    Ok(())
}

fn run_ours(bytes: &[Vec<u8>]) -> anyhow::Result<Duration> {
    let limits = Limits::default();
    let start = Instant::now();
    for b in bytes {
        let p = probe(b, &limits)?;
        let t = thumbnail(b, &p, 50, &limits)?;
        std::hint::black_box(t);
    }
    Ok(start.elapsed())
}

/// `threads` workers taking the next file as each finishes (as the
/// processor takes records), so one thread never gets all the big files.
fn run_ours_parallel(bytes: &[Vec<u8>], threads: usize) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(b) = bytes.get(i) else { return Ok(()) };
                        run_ours(std::slice::from_ref(b))?;
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().expect("bench thread"))
    })?;
    Ok(start.elapsed())
}

/// The same work without the DCT-domain downscale: full decode, then resize.
fn run_full_decode(bytes: &[Vec<u8>]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    for b in bytes {
        let img = image::load_from_memory(b)?;
        let h = (img.height() as f64 * 50.0 / img.width() as f64).round() as u32;
        let t = img.resize_exact(50, h.max(1), image::imageops::FilterType::Lanczos3);
        std::hint::black_box(t);
    }
    Ok(start.elapsed())
}

/// What the thumbnailer processor does per photo: the 1024 px display
/// rendition and the thumbnail from one decode (one thread).
fn run_renditions(bytes: &[Vec<u8>]) -> anyhow::Result<Duration> {
    let limits = Limits::default();
    let start = Instant::now();
    for b in bytes {
        let p = probe(b, &limits)?;
        let r = photostream_media::renditions(b, &p, 1024, Some(50), &limits)?;
        std::hint::black_box(r);
    }
    Ok(start.elapsed())
}

/// HEIC/AVIF without the file's thumbnail item: the primary image decoded
/// upright by libheif (the decode alone, no resize): what a thumbnail costs
/// when a file has no thumbnail item, and what `verify` costs at upload.
fn run_primary_decode(bytes: &[Vec<u8>]) -> anyhow::Result<Duration> {
    let limits = Limits::default();
    let start = Instant::now();
    for b in bytes {
        let p = probe(b, &limits)?;
        let img = photostream_media::decode_upright(b, &p, p.width, &limits)?;
        std::hint::black_box(img);
    }
    Ok(start.elapsed())
}

/// One vipsthumbnail process over every file (libvips threads as it likes,
/// or `concurrency` threads).
fn run_vips(files: &[PathBuf], tmp: &Path, concurrency: Option<u32>) -> anyhow::Result<Option<Duration>> {
    if Command::new("vipsthumbnail").arg("--version").output().is_err() {
        return Ok(None);
    }
    let out = tmp.join("vips-out");
    std::fs::create_dir_all(&out)?;
    let start = Instant::now();
    let mut cmd = Command::new("vipsthumbnail");
    if let Some(n) = concurrency {
        cmd.env("VIPS_CONCURRENCY", n.to_string());
    }
    let status = cmd
        .args(["--size", "50x"])
        .arg("-o")
        .arg(format!("{}/%s_vips.jpg[Q=85,strip]", out.display()))
        .args(files)
        .status()?;
    let elapsed = start.elapsed();
    if !status.success() {
        bail!("vipsthumbnail failed: {status}");
    }
    Ok(Some(elapsed))
}
