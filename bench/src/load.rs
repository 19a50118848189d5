//! `photostream-bench load --url http://127.0.0.1:PORT [options]`
//!
//! A load generator for a running `photostream serve` (loopback only: it
//! refuses any other host). Bounded in count and time, it stops by itself.
//!
//! 1. **Seed**: signs up `--users` users, each following ten others, and
//!    uploads `--photos` small JPEGs through the real upload path
//!    (`--seed-concurrency` in flight, one per user as the API allows),
//!    then waits until the processors have made every photo ready. Prints
//!    the accepted upload rate and the time until all were ready.
//! 2. **Mixed reads**: an open-loop schedule of `--rate` requests/s for
//!    `--duration` seconds — photo JSON, thumbnail, photostream page,
//!    search, feed — while uploads continue at `--upload-rate`/s. Latency
//!    is measured from each request's *scheduled* start, so a stalled
//!    server cannot hide behind a slowed-down generator (no coordinated
//!    omission). Prints p50/p99/p99.9/max and throughput per endpoint, and
//!    the server's CPU and memory (from /proc, `--server-pid`), its own
//!    count of slow handlers and slow catalog-connection waits (from its
//!    `/metrics`), and what the machine's disk did (from `/proc/vmstat`
//!    and `/proc/stat`: read, written, and idle time waiting on it).
//! 3. **Peer**: the same thumbnail bytes served as static files by nginx
//!    (Debian's `nginx`), when `--peer-nginx` is given, at the same rate in
//!    the same run: the ratio says what the ACL check, catalog lookup and
//!    object read cost over a static file server. The disk line is
//!    printed for its run too.
//!
//! `scripts/load-bench` starts the server (embedded defaults, or the
//! distributed backends with `--distributed`) and runs this.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::{Rng, SeedableRng};
use serde_json::Value;

const WORDS: &[&str] = &[
    "river", "harbour", "sunset", "forest", "mountain", "kingfisher", "swan", "market", "bridge", "tram",
    "lighthouse", "meadow", "glacier", "canyon", "festival", "portrait", "street", "garden", "winter", "autumn",
    "desert", "island", "station", "cathedral", "fox", "heron", "orchard", "valley", "waterfall", "skyline",
];

struct Opts {
    url: String,
    users: usize,
    photos: usize,
    seed_concurrency: usize,
    rate: u64,
    duration: Duration,
    upload_rate: u64,
    server_pid: Option<u32>,
    peer_nginx: Option<String>,
    label: String,
    /// Only this endpoint in the mixed phase (for diagnosis).
    only: Option<String>,
    after_seed: Option<String>,
    warmup: Duration,
}

/// `photostream-bench load`'s options (`scripts/load-bench` passes them on).
#[derive(clap::Args)]
pub struct Args {
    /// The API under test (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Users to sign up for the seed (at least 11).
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Photos to seed.
    #[arg(long, default_value_t = 100_000)]
    photos: usize,
    /// Uploads in flight while seeding.
    #[arg(long, default_value_t = 16)]
    seed_concurrency: usize,
    /// Reads per second in the mixed phase.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of the mixed phase.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Uploads per second during the mixed phase.
    #[arg(long, default_value_t = 10)]
    upload_rate: u64,
    /// The server's pid, for its CPU and memory figures.
    #[arg(long)]
    server_pid: Option<u32>,
    /// nginx serving the same objects, the static-file peer.
    #[arg(long)]
    peer_nginx: Option<String>,
    /// What the report calls the server.
    #[arg(long, default_value = "photostream")]
    label: String,
    /// Only this endpoint in the mixed phase (for diagnosis).
    #[arg(long)]
    only: Option<String>,
    /// A shell command run once every processor has caught up, before the
    /// mixed phase: `scripts/load-bench --distributed` runs PostgreSQL's
    /// VACUUM ANALYZE there, as pgbench does after loading, so the mixed
    /// phase does not open on autovacuum's pass over the freshly seeded
    /// tables.
    #[arg(long)]
    after_seed: Option<String>,
    /// Seconds of the same read mix before the measured phase, reported
    /// on their own: the seed leaves the read path idle for minutes (on
    /// this machine the kernel's proactive reclaim pages out file pages
    /// left untouched for 60 s), and the first second of reads after that
    /// is a cold start, not the steady state the phase measures. 0: none.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
}

fn parse(args: Args) -> anyhow::Result<Opts> {
    let o = Opts {
        url: args.url.trim_end_matches('/').to_string(),
        users: args.users,
        photos: args.photos,
        seed_concurrency: args.seed_concurrency,
        rate: args.rate,
        duration: Duration::from_secs(args.duration),
        upload_rate: args.upload_rate,
        server_pid: args.server_pid,
        peer_nginx: args.peer_nginx.map(|p| p.trim_end_matches('/').to_string()),
        label: args.label,
        only: args.only,
        after_seed: args.after_seed,
        warmup: Duration::from_secs(args.warmup),
    };
    for u in std::iter::once(&o.url).chain(o.peer_nginx.as_ref()) {
        let host = u.trim_start_matches("http://").split([':', '/']).next().unwrap_or("");
        if !(host == "localhost" || host.starts_with("127.") || host == "[::1]") {
            bail!("load goes to loopback only, not {u}");
        }
    }
    if o.users < 11 || o.photos < o.users || o.rate == 0 {
        bail!("need at least 11 users, one photo per user and a positive rate");
    }
    Ok(o)
}

/// A small JPEG (160×120) with its own pattern.
fn jpeg(seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (a, b, c): (u8, u8, u8) = (rng.gen(), rng.gen(), rng.gen());
    let img = image::RgbImage::from_fn(160, 120, |x, y| {
        image::Rgb([a.wrapping_add(x as u8), b.wrapping_add(y as u8), c.wrapping_add((x ^ y) as u8)])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode jpeg");
    out.into_inner()
}

struct User {
    name: String,
    token: String,
}

async fn sign_up(http: &reqwest::Client, url: &str, name: &str) -> anyhow::Result<User> {
    let body = serde_json::json!({"username": name, "password": "correct horse battery"});
    let r = http.post(format!("{url}/v1/users")).json(&body).send().await?;
    if r.status() != 201 && r.status() != 409 {
        bail!("sign up {name}: {}", r.status());
    }
    let r = http.post(format!("{url}/v1/sessions")).json(&body).send().await?;
    if r.status() == 429 {
        let wait = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(5);
        tokio::time::sleep(Duration::from_secs(wait)).await;
        return Box::pin(sign_up(http, url, name)).await;
    }
    let v: Value = r.error_for_status()?.json().await?;
    Ok(User { name: name.to_string(), token: v["token"].as_str().context("token")?.to_string() })
}

async fn upload(http: &reqwest::Client, url: &str, user: &User, n: usize, bytes: Vec<u8>) -> anyhow::Result<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64);
    let title = format!("{} {} {}", WORDS[rng.gen_range(0..WORDS.len())], WORDS[rng.gen_range(0..WORDS.len())], n);
    let tags = serde_json::json!({"tags": [WORDS[rng.gen_range(0..WORDS.len())]]}).to_string();
    loop {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name(format!("p{n}.jpg")))
            .text("title", title.clone())
            .text("metadata", tags.clone());
        let r = http.post(format!("{url}/v1/photos")).bearer_auth(&user.token).multipart(form).send().await?;
        match r.status().as_u16() {
            202 => {
                let v: Value = r.json().await?;
                return Ok(v["id"].as_str().context("id")?.to_string());
            }
            429 | 503 => tokio::time::sleep(Duration::from_millis(50)).await,
            s => bail!("upload: {s} {}", r.text().await.unwrap_or_default()),
        }
    }
}

/// Latencies (µs) and outcomes per endpoint.
#[derive(Default)]
struct Stats {
    lat: BTreeMap<&'static str, Vec<u64>>,
    errors: BTreeMap<&'static str, BTreeMap<String, usize>>,
    /// Per second of the phase (by when a read was due): reads over
    /// [`SLOW_MICROS`] and the slowest, to tell a stall from a spread.
    slow: BTreeMap<u64, (usize, u64)>,
    /// The same slow reads by second and endpoint: a stall that is one
    /// endpoint's (searches queueing) reads differently from one that is
    /// every endpoint's (the process or the machine).
    slow_by: BTreeMap<(u64, &'static str), usize>,
}

/// The read schedule's random sequences: the phase's is the same in every
/// run; the warm-up's differs from it.
const PHASE_SEED: u64 = 7;
const WARMUP_SEED: u64 = 8;

/// A read slower than this (the p99 target) counts as slow.
const SLOW_MICROS: u64 = 25_000;

impl Stats {
    fn record(&mut self, what: &'static str, micros: u64, outcome: Result<u16, String>) {
        match outcome {
            Ok(s) if (200..400).contains(&s) => self.lat.entry(what).or_default().push(micros),
            Ok(s) => *self.errors.entry(what).or_default().entry(s.to_string()).or_default() += 1,
            Err(e) => *self.errors.entry(what).or_default().entry(e).or_default() += 1,
        }
    }

    /// Notes a read due `second` seconds into the phase that took `micros`.
    fn timeline(&mut self, second: u64, what: &'static str, micros: u64) {
        let (slow, max) = self.slow.entry(second).or_default();
        *slow += usize::from(micros > SLOW_MICROS);
        *max = (*max).max(micros);
        if micros > SLOW_MICROS {
            *self.slow_by.entry((second, what)).or_default() += 1;
        }
    }

    /// `photo JSON 12, search 40, …`: the slow reads of one second by endpoint.
    fn slow_endpoints(&self, second: u64) -> String {
        self.slow_by
            .range((second, "")..)
            .take_while(|((s, _), _)| *s == second)
            .map(|((_, what), n)| format!("{what} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// What the server's `/metrics` says about its requests (loopback may
/// scrape it), read before and after the phase.
#[derive(Default)]
struct Scrape {
    /// Per GET route: (finished within 25 ms, all), from the
    /// request-duration histogram. It times each handler from routing to
    /// its response, so what it leaves out — waiting in the kernel's
    /// queues, for a runtime worker to be scheduled, and the client's own
    /// side — is the difference from what the generator measured.
    handled: BTreeMap<String, (u64, u64)>,
    /// Per catalog pool: (acquired within 5 ms, all), from
    /// `photostream_catalog_acquire_seconds`: a read slow in its handler
    /// because it waited for a connection shows up here.
    acquired: BTreeMap<String, (u64, u64)>,
}

async fn scrape(http: &reqwest::Client, url: &str) -> Option<Scrape> {
    let text = http.get(format!("{url}/metrics")).send().await.ok()?.error_for_status().ok()?.text().await.ok()?;
    let mut out = Scrape::default();
    for line in text.lines() {
        let (map, fast, rest) = if let Some(r) = line.strip_prefix("photostream_http_request_duration_seconds_bucket{") {
            (&mut out.handled, "0.025", r)
        } else if let Some(r) = line.strip_prefix("photostream_catalog_acquire_seconds_bucket{") {
            (&mut out.acquired, "0.005", r)
        } else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else { continue };
        let label = |k: &str| {
            labels.split(',').find_map(|kv| kv.strip_prefix(k)?.strip_prefix("=\"")?.strip_suffix('"'))
        };
        let Some(le) = label("le") else { continue };
        let key = match label("pool") {
            Some(pool) => pool,
            None => match (label("method"), label("route")) {
                (Some("GET"), Some(route)) => route,
                _ => continue,
            },
        };
        let Ok(n) = value.trim().parse::<f64>() else { continue };
        let e = map.entry(key.to_string()).or_default();
        if le == fast {
            e.0 += n as u64;
        } else if le == "+Inf" {
            e.1 += n as u64;
        }
    }
    Some(out)
}

/// (slow, all) for `key` between two readings of a `Scrape` map.
fn slow_between(before: &BTreeMap<String, (u64, u64)>, after: &BTreeMap<String, (u64, u64)>, key: &str) -> (u64, u64) {
    let (f0, n0) = before.get(key).copied().unwrap_or_default();
    let (f1, n1) = after.get(key).copied().unwrap_or_default();
    let n = n1.saturating_sub(n0);
    (n - f1.saturating_sub(f0).min(n), n)
}

/// The machine's disk, from `/proc/vmstat` and `/proc/stat`.
#[derive(Clone, Copy)]
struct Disk {
    /// KiB read in and written out.
    read_kib: u64,
    written_kib: u64,
    /// File pages read back after the kernel had dropped them: a read that
    /// misses the page cache waits for the disk, however idle the CPUs are.
    refaults: u64,
    /// CPU time spent idle with I/O outstanding, in clock ticks (1/100 s).
    iowait_ticks: u64,
}

/// Waiting on the disk, not the CPU: with the bytes read and written, the
/// seconds the machine's cores sat idle with I/O outstanding. A stall with
/// iowait and idle cores is the disk's (the nginx peer reads the same
/// files, so it shows there too).
fn print_disk(what: &str, before: Option<Disk>, after: Option<Disk>) {
    let (Some(a), Some(b)) = (before, after) else { return };
    println!(
        "{what}: {:.1} MiB read from disk ({} file pages read back after the kernel dropped them), {:.1} MiB written, {:.1} core-seconds idle waiting on the disk",
        b.read_kib.saturating_sub(a.read_kib) as f64 / 1024.0,
        b.refaults.saturating_sub(a.refaults),
        b.written_kib.saturating_sub(a.written_kib) as f64 / 1024.0,
        b.iowait_ticks.saturating_sub(a.iowait_ticks) as f64 / 100.0
    );
}

fn disk() -> Option<Disk> {
    let vm = std::fs::read_to_string("/proc/vmstat").ok()?;
    let get = |k: &str| vm.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix(' ')?.parse::<u64>().ok());
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // cpu  user nice system idle iowait …
    let iowait_ticks = stat.lines().next()?.split_whitespace().nth(5)?.parse().ok()?;
    Some(Disk {
        read_kib: get("pgpgin")?,
        written_kib: get("pgpgout")?,
        refaults: get("workingset_refault_file")?,
        iowait_ticks,
    })
}

/// CPU seconds (user+system) and resident memory (MiB) of a process.
fn proc_usage(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((ticks / 100.0, rss_kb / 1024.0))
}

#[derive(Clone, Copy)]
enum Req {
    Photo,
    Thumbnail,
    Photostream,
    Search,
    Feed,
}

impl Req {
    const ALL: [Req; 5] = [Req::Photo, Req::Thumbnail, Req::Photostream, Req::Search, Req::Feed];

    /// The route template the server labels this read's metrics with.
    fn route(self) -> &'static str {
        match self {
            Req::Photo => "/v1/photos/{id}",
            Req::Thumbnail => "/v1/photos/{id}/thumbnail",
            Req::Photostream => "/v1/users/{username}/photos",
            Req::Search => "/v1/search",
            Req::Feed => "/v1/feed",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Req::Photo => "photo JSON",
            Req::Thumbnail => "thumbnail",
            Req::Photostream => "photostream page",
            Req::Search => "search",
            Req::Feed => "feed",
        }
    }
    /// The mix: 30 % photo JSON, 30 % thumbnails, 15 % photostreams, 15 % search, 10 % feeds.
    fn pick(r: u32) -> Self {
        match r % 100 {
            0..=29 => Req::Photo,
            30..=59 => Req::Thumbnail,
            60..=74 => Req::Photostream,
            75..=89 => Req::Search,
            _ => Req::Feed,
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let o = parse(args)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(1024)
        .build()?;
    println!("load benchmark: {} at {}", o.label, o.url);

    // ---- Seed ----
    let run_id: u32 = rand::random::<u32>() % 100_000;
    let mut users = Vec::new();
    for i in 0..o.users {
        users.push(sign_up(&http, &o.url, &format!("load{run_id}u{i}")).await?);
    }
    let users = Arc::new(users);
    for (i, u) in users.iter().enumerate() {
        for k in 1..=10 {
            let other = &users[(i + k) % users.len()];
            http.put(format!("{}/v1/users/{}/follow", o.url, other.name)).bearer_auth(&u.token).send().await?.error_for_status()?;
        }
    }
    let images: Arc<Vec<Vec<u8>>> = Arc::new((0..64).map(jpeg).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(Mutex::new(Vec::with_capacity(o.photos)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..o.seed_concurrency.min(o.users) {
        let (http, url, users, images, next, ids) = (http.clone(), o.url.clone(), users.clone(), images.clone(), next.clone(), ids.clone());
        let (photos, workers) = (o.photos, o.seed_concurrency.min(o.users));
        tasks.push(tokio::spawn(async move {
            // Worker w uploads for users w, w+workers, …: one upload per user in flight.
            let mut k = 0usize;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= photos {
                    return anyhow::Ok(());
                }
                let mine: Vec<usize> = (w..users.len()).step_by(workers).collect();
                let user = &users[mine[k % mine.len()]];
                k += 1;
                let id = upload(&http, &url, user, n, images[n % images.len()].clone()).await?;
                ids.lock().unwrap().push((mine[(k - 1) % mine.len()], id));
                if n > 0 && n % 10_000 == 0 {
                    println!("  seeded {n} photos ({:.0}/s)", n as f64 / started.elapsed().as_secs_f64());
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let accepted = started.elapsed();
    println!(
        "seed: {} photos accepted in {:.1}s ({:.0} uploads/s, {} concurrent)",
        o.photos,
        accepted.as_secs_f64(),
        o.photos as f64 / accepted.as_secs_f64(),
        o.seed_concurrency
    );
    // Ready: the processors have caught up when every user's last upload is.
    let ids: Vec<(usize, String)> = std::mem::take(&mut *ids.lock().unwrap());
    let mut last_per_user: BTreeMap<usize, String> = BTreeMap::new();
    for (u, id) in &ids {
        last_per_user.insert(*u, id.clone());
    }
    let deadline = Instant::now() + Duration::from_secs(3600);
    for (u, id) in &last_per_user {
        loop {
            let v: Value = http
                .get(format!("{}/v1/photos/{id}", o.url))
                .bearer_auth(&users[*u].token)
                .send()
                .await?
                .json()
                .await?;
            if v["status"] == "ready" {
                break;
            }
            if Instant::now() > deadline {
                bail!("photo {id} not ready after an hour");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let ready = started.elapsed();
    println!(
        "seed: all ready {:.1}s after the first upload ({:.0} photos/s through thumbnailer, indexer, moderation)",
        ready.as_secs_f64(),
        o.photos as f64 / ready.as_secs_f64()
    );
    // Every processor done, the notifier and analytics included: no
    // consumer lag and an empty outbox, so no backlog hides behind "ready".
    loop {
        let text = http.get(format!("{}/metrics", o.url)).send().await?.text().await?;
        let backlog: f64 = text
            .lines()
            .filter(|l| l.starts_with("photostream_consumer_lag_records{") || l.starts_with("photostream_outbox_pending"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if backlog == 0.0 && text.contains("photostream_consumer_lag_records{") {
            break;
        }
        if Instant::now() > deadline {
            bail!("processors still {backlog} records behind after an hour");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let drained = started.elapsed();
    println!(
        "seed: every processor caught up (notifier and analytics included) {:.1}s after the first upload: {:.2}x the accept time",
        drained.as_secs_f64(),
        drained.as_secs_f64() / accepted.as_secs_f64()
    );
    let ids: Arc<Vec<String>> = Arc::new(ids.into_iter().map(|(_, id)| id).collect());
    if let Some(cmd) = &o.after_seed {
        let t = Instant::now();
        let status = tokio::process::Command::new("sh").arg("-c").arg(cmd).status().await?;
        if !status.success() {
            bail!("the after-seed command failed ({status}): {cmd}");
        }
        println!("after the seed: `{cmd}` took {:.1}s", t.elapsed().as_secs_f64());
    }

    // ---- Warm-up: the same reads, reported on their own ----
    if !o.warmup.is_zero() {
        let warm = Arc::new(Mutex::new(Stats::default()));
        // Another sequence than the phase's, so the phase's first reads are
        // not the very photos the warm-up just read.
        reads(&http, &o.url, &users, &ids, o.rate, o.warmup, warm.clone(), Mode::Api(o.only.clone()), WARMUP_SEED).await;
        println!();
        println!("warm-up (not in the figures below): {}/s for {}s, the first reads after the seed", o.rate, o.warmup.as_secs());
        report(&warm.lock().unwrap(), o.warmup);
    }

    // ---- Mixed reads while uploads continue ----
    let stats = Arc::new(Mutex::new(Stats::default()));
    let usage_before = o.server_pid.and_then(proc_usage);
    let scraped_before = scrape(&http, &o.url).await;
    let disk_before = disk();
    let phase = Instant::now();
    let uploader = {
        let (http, url, users, images, rate, duration) =
            (http.clone(), o.url.clone(), users.clone(), images.clone(), o.upload_rate, o.duration);
        let stats = stats.clone();
        tokio::spawn(async move {
            if rate == 0 {
                return;
            }
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            let start = Instant::now();
            let mut n = 10_000_000usize;
            while start.elapsed() < duration {
                tick.tick().await;
                n += 1;
                let (http, url, users, images, stats) = (http.clone(), url.clone(), users.clone(), images.clone(), stats.clone());
                tokio::spawn(async move {
                    let t = Instant::now();
                    let user = &users[n % users.len()];
                    let outcome = upload(&http, &url, user, n, images[n % images.len()].clone()).await.map(|_| 202).map_err(|e| e.to_string());
                    stats.lock().unwrap().record("upload (concurrent)", t.elapsed().as_micros() as u64, outcome);
                });
            }
        })
    };
    let sent = reads(&http, &o.url, &users, &ids, o.rate, o.duration, stats.clone(), Mode::Api(o.only.clone()), PHASE_SEED).await;
    uploader.await.ok();
    let elapsed = phase.elapsed();
    let usage_after = o.server_pid.and_then(proc_usage);
    let scraped_after = scrape(&http, &o.url).await;
    let disk_after = disk();

    println!();
    println!(
        "mixed reads: {} requests scheduled at {}/s for {}s, {} uploads/s alongside",
        sent,
        o.rate,
        o.duration.as_secs(),
        o.upload_rate
    );
    let thumb_p99 = report(&stats.lock().unwrap(), elapsed);
    if let (Some((cpu0, _)), Some((cpu1, rss))) = (usage_before, usage_after) {
        println!(
            "server: {:.2} cores busy on average ({:.1} CPU-s over {:.1}s), {:.0} MiB resident at the end",
            (cpu1 - cpu0) / elapsed.as_secs_f64(),
            cpu1 - cpu0,
            elapsed.as_secs_f64(),
            rss
        );
    }
    if let (Some(before), Some(after)) = (scraped_before, scraped_after) {
        let parts: Vec<String> = Req::ALL
            .iter()
            .map(|&r| {
                let (slow, n) = slow_between(&before.handled, &after.handled, r.route());
                format!("{} {slow} of {n}", r.name())
            })
            .collect();
        println!("server side (handler time, from its /metrics): reads over 25 ms: {}", parts.join(", "));
        let pools: Vec<String> = after
            .acquired
            .keys()
            .map(|pool| {
                let (slow, n) = slow_between(&before.acquired, &after.acquired, pool);
                format!("{pool} {slow} of {n}")
            })
            .collect();
        println!("catalog connections (from its /metrics): waits over 5 ms: {}", pools.join(", "));
    }
    print_disk("machine during the phase", disk_before, disk_after);

    // ---- Peer: nginx serving the same thumbnails as static files ----
    if let Some(peer) = &o.peer_nginx {
        // The thumbnail URLs of the seeded photos, fetched once.
        let mut paths = Vec::new();
        for id in ids.iter().step_by((ids.len() / 2000).max(1)) {
            let v: Value = http.get(format!("{}/v1/photos/{id}", o.url)).send().await?.json().await?;
            if let Some(t) = v["urls"]["thumbnail"].as_str() {
                paths.push(t.trim_start_matches("/media").to_string());
            }
        }
        let peer_stats = Arc::new(Mutex::new(Stats::default()));
        let duration = o.duration.min(Duration::from_secs(30));
        let rate = o.rate * 30 / 100;
        let disk_before = disk();
        reads(&http, peer, &users, &Arc::new(paths), rate, duration, peer_stats.clone(), Mode::StaticPaths, PHASE_SEED).await;
        let disk_after = disk();
        println!();
        println!("peer: nginx static files, the same thumbnails at {rate}/s (photostream's thumbnail share) for {}s", duration.as_secs());
        let peer_p99 = report(&peer_stats.lock().unwrap(), duration);
        print_disk("machine during the peer's run", disk_before, disk_after);
        if let (Some(ours), Some(theirs)) = (thumb_p99, peer_p99) {
            println!("thumbnail p99: photostream {ours:.2} ms vs nginx {theirs:.2} ms ({:.2}x nginx's latency)", ours / theirs);
        }
    }
    Ok(())
}

enum Mode {
    /// The API mix, or only the endpoint named.
    Api(Option<String>),
    /// Static thumbnail paths (`ids` holds paths), for the peer.
    StaticPaths,
}

/// Open loop: request i is due at start + i/rate.
#[allow(clippy::too_many_arguments)]
async fn reads(
    http: &reqwest::Client,
    url: &str,
    users: &Arc<Vec<User>>,
    ids: &Arc<Vec<String>>,
    rate: u64,
    duration: Duration,
    stats: Arc<Mutex<Stats>>,
    mode: Mode,
    seed: u64,
) -> usize {
    let total = (rate as f64 * duration.as_secs_f64()) as usize;
    let start = tokio::time::Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut handles = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due).await;
        let kind = match &mode {
            Mode::StaticPaths => Req::Thumbnail,
            Mode::Api(None) => Req::pick(rng.gen()),
            Mode::Api(Some(only)) => loop {
                let k = Req::pick(rng.gen());
                if k.name().starts_with(only.as_str()) {
                    break k;
                }
            },
        };
        let id = ids[rng.gen_range(0..ids.len())].clone();
        let user = &users[rng.gen_range(0..users.len())];
        let word = WORDS[rng.gen_range(0..WORDS.len())];
        let target = match (&mode, kind) {
            (Mode::StaticPaths, _) => format!("{url}{id}"),
            (_, Req::Photo) => format!("{url}/v1/photos/{id}"),
            (_, Req::Thumbnail) => format!("{url}/v1/photos/{id}/thumbnail"),
            (_, Req::Photostream) => format!("{url}/v1/users/{}/photos?limit=20", user.name),
            (_, Req::Search) => format!("{url}/v1/search?q={word}&limit=20"),
            (_, Req::Feed) => format!("{url}/v1/feed?limit=20"),
        };
        let auth = matches!(kind, Req::Feed).then(|| user.token.clone());
        let second = i as u64 / rate;
        let (http, stats) = (http.clone(), stats.clone());
        handles.push(tokio::spawn(async move {
            let mut rb = http.get(&target);
            if let Some(t) = auth {
                rb = rb.bearer_auth(t);
            }
            let outcome = match rb.send().await {
                Ok(r) => {
                    let s = r.status().as_u16();
                    match r.bytes().await {
                        Ok(_) => Ok(s),
                        Err(e) => Err(format!("body: {e}")),
                    }
                }
                Err(e) => Err(if e.is_timeout() { "timeout".into() } else { "connection".into() }),
            };
            // From the scheduled start, not the actual send.
            let micros = due.elapsed().as_micros() as u64;
            let mut stats = stats.lock().unwrap();
            stats.timeline(second, kind.name(), micros);
            stats.record(kind.name(), micros, outcome);
        }));
    }
    for h in handles {
        h.await.ok();
    }
    total
}

/// Prints the table; returns the thumbnail p99 (ms).
fn report(stats: &Stats, elapsed: Duration) -> Option<f64> {
    println!(
        "{:<22} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}  errors",
        "endpoint", "ok", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    let mut thumb = None;
    let mut names: Vec<&&str> = stats.lat.keys().chain(stats.errors.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let mut l = stats.lat.get(*name).cloned().unwrap_or_default();
        l.sort_unstable();
        let errs = stats.errors.get(*name).map(|e| format!("{e:?}")).unwrap_or_default();
        println!(
            "{:<22} {:>8} {:>9.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {}",
            name,
            l.len(),
            l.len() as f64 / elapsed.as_secs_f64(),
            pct(&l, 50.0),
            pct(&l, 99.0),
            pct(&l, 99.9),
            pct(&l, 100.0),
            errs
        );
        if *name == "thumbnail" {
            thumb = Some(pct(&l, 99.0));
        }
    }
    // Where the slow reads fell: a few bad seconds are a stall, the same
    // few in every second a spread.
    let mut worst: Vec<(&u64, &(usize, u64))> = stats.slow.iter().filter(|(_, (n, _))| *n > 0).collect();
    if !worst.is_empty() {
        let total: usize = worst.iter().map(|(_, (n, _))| n).sum();
        worst.sort_by_key(|(s, (n, _))| (std::cmp::Reverse(*n), **s));
        let shown: Vec<String> = worst
            .iter()
            .take(5)
            .map(|(s, (n, max))| {
                format!("{s}s: {n} (max {:.0} ms; {})", *max as f64 / 1000.0, stats.slow_endpoints(**s))
            })
            .collect();
        println!(
            "reads over {} ms: {total} in {} of {} seconds; the worst seconds of the phase: {}",
            SLOW_MICROS / 1000,
            worst.len(),
            stats.slow.len(),
            shown.join(", ")
        );
    }
    thumb
}
