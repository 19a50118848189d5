//! `photostream-bench moderation [--repeat N] [--model PATH]`
//!
//! Moderation checks per second on one core over the 12 MP camera fixtures:
//! decode upright (shrunk on load), perceptual hash, lookup in a blocklist
//! of 100,000 hashes, text rules; then the same with the ONNX classifier
//! (build with `--features classifier` and give `--model`, or set
//! `CLASSIFIER_MODEL`). The peer, measured in the same run, is
//! `vipsthumbnail` at one thread making a 50 px thumbnail of the same files:
//! the cheapest thing anyone does with a new photo.

use std::time::{Duration, Instant};

use photostream_media::{decode_upright, probe, Limits};
use photostream_moderation::{Checks, ModerationConfig};

/// `photostream-bench moderation`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Copies of each fixture JPEG checked.
    #[arg(long, default_value_t = 8)]
    repeat: usize,
    /// The classifier's ONNX model (feature `classifier`).
    #[arg(long, env = "CLASSIFIER_MODEL", default_value = "")]
    model: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Args { repeat, model } = args;
    let tmp = tempfile::tempdir()?;
    let files = crate::default_corpus(tmp.path(), repeat, "jpeg")?;
    let bytes: Vec<Vec<u8>> = files.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    let mp: f64 = bytes
        .iter()
        .map(|b| probe(b, &Limits::default()).map(|p| p.width as f64 * p.height as f64 / 1e6))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .sum::<f64>()
        / bytes.len() as f64;
    println!("corpus: {} JPEGs, mean {mp:.1} MP; one thread", bytes.len());

    let mut config = ModerationConfig::default();
    config.text.hold_words = vec!["casino".into(), "spam".into()];
    let checks = Checks::new(config.clone())?;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        checks.block(x, &format!("p{i}"));
    }
    let base = measure(&checks, &bytes)?;

    let with_model = if model.is_empty() {
        None
    } else {
        config.classifier.model = model.clone();
        let classified = Checks::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
        classified.block(1, "p");
        Some(measure(&classified, &bytes)?)
    };
    let vips = crate::run_vips(&files, tmp.path(), Some(1))?;

    let per = |d: Duration| d.as_secs_f64() * 1000.0 / bytes.len() as f64;
    let rate = |d: Duration| bytes.len() as f64 / d.as_secs_f64();
    println!();
    println!("{:<58} {:>9} {:>9} {:>10}", "moderation checks (12 MP JPEG, 1 core)", "ms/image", "checks/s", "vs vips");
    let row = |name: &str, d: Duration| {
        let ratio = vips.map_or(f64::NAN, |v| v.as_secs_f64() / d.as_secs_f64());
        println!("{name:<58} {:>9.1} {:>9.1} {:>9.2}x", per(d), rate(d), ratio);
    };
    match vips {
        Some(v) => row("peer: vipsthumbnail 50 px, VIPS_CONCURRENCY=1", v),
        None => println!("{:<58} not installed: apt-get install libvips-tools", "peer: vipsthumbnail"),
    }
    row("phash + 100k-entry blocklist + text rules", base);
    match with_model {
        Some(d) => {
            row("  + classifier (NudeNet 320n, tract)", d);
            println!("the classifier adds {:.1} ms per image", per(d) - per(base));
        }
        None if cfg!(feature = "classifier") => println!("classifier: not measured (give --model PATH)"),
        None => println!("classifier: not measured (build with --features classifier and give --model PATH)"),
    }
    println!("'vs vips' is vipsthumbnail's time divided by ours: above 1.00x we are faster.");
    Ok(())
}

fn measure(checks: &Checks, bytes: &[Vec<u8>]) -> anyhow::Result<Duration> {
    let limits = Limits::default();
    let one = |b: &[u8]| -> anyhow::Result<()> {
        let p = probe(b, &limits)?;
        let img = decode_upright(b, &p, checks.min_image_width(), &limits)?;
        let verdict = checks.check_image(&img).map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = checks.check_text("title", "Sunset over the lake, no c a s i n o here");
        std::hint::black_box((verdict, text));
        Ok(())
    };
    one(&bytes[0])?; // warm-up
    let start = Instant::now();
    for b in bytes {
        one(b)?;
    }
    Ok(start.elapsed())
}
