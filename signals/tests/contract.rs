//! The same recorded events through both implementations, compared window
//! by window: trending (hop 1 min over 1 h, decayed), live view counters
//! (tumbling 1 min) and abuse rates (hop 1 min over 10 min).
//!
//! The embedded side always runs (with an injected clock) and is checked
//! against hand-computed values. The Arroyo side runs when `ARROYO_URL` is
//! set (the Arroyo API, e.g. `http://127.0.0.1:5115`): it registers the
//! pipelines of `deploy/arroyo/pipelines.txt` under a random prefix, publishes the
//! events to NATS JetStream (`NATS_URL`, default `nats://127.0.0.1:4222`)
//! as the API and outbox relay would, waits for the windows in Redis
//! (`REDIS_URL`, default `redis://127.0.0.1:6379`) and compares what
//! `ArroyoSignals` reads with the embedded answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use photostream_signals::{
    Action, ArroyoSignals, At, EmbeddedSignals, SignalEvent, Signals, SignalsConfig, ViewScope,
};
use photostream_types::{PhotoId, UserId};

const MIN: i64 = 60_000;

/// The recorded events: ids and times relative to `base` (an hour boundary).
struct Recording {
    base: i64,
    photos: [PhotoId; 3],
    owners: [UserId; 2],
    users: [UserId; 2],
    events: Vec<SignalEvent>,
}

fn recording(base: i64) -> Recording {
    let photos = [PhotoId::new(), PhotoId::new(), PhotoId::new()];
    let owners = [UserId::new(), UserId::new()];
    let users = [UserId::new(), UserId::new()];
    let [a, b, c] = photos.clone();
    let [o1, o2] = owners.clone();
    let [u1, u2] = users.clone();
    let at = |m: f64| base + (m * MIN as f64) as i64;
    let mut events = vec![
        SignalEvent::view(a.clone(), o1.clone(), at(1.0)),
        SignalEvent::view(a.clone(), o1.clone(), at(2.5)),
        SignalEvent::view(a.clone(), o1.clone(), at(30.0)),
        SignalEvent::view(a.clone(), o1.clone(), at(59.0)),
        SignalEvent::favorite(a.clone(), u1.clone(), at(10.0)),
        SignalEvent::favorite(a.clone(), u2.clone(), at(45.0)),
        SignalEvent::view(b.clone(), o1.clone(), at(50.0)),
        SignalEvent::view(b.clone(), o1.clone(), at(50.2)),
        SignalEvent::view(b.clone(), o1.clone(), at(50.4)),
        SignalEvent::favorite(b.clone(), u1.clone(), at(58.0)),
        SignalEvent::view(c.clone(), o2.clone(), at(5.0)),
        SignalEvent::favorite(c.clone(), u2.clone(), at(70.0)),
        SignalEvent::action(Action::Upload, u1.clone(), at(1.0)),
        SignalEvent::action(Action::Upload, u1.clone(), at(3.0)),
        SignalEvent::action(Action::Upload, u1.clone(), at(9.0)),
        SignalEvent::action(Action::Comment, u2.clone(), at(2.0)),
        SignalEvent::action(Action::Comment, u2.clone(), at(4.0)),
        SignalEvent::action(Action::Comment, u2.clone(), at(12.0)),
    ];
    events.sort_by_key(|e| e.at_ms);
    Recording {
        base,
        photos,
        owners,
        users,
        events,
    }
}

/// Everything compared, in a stable order.
#[derive(Debug, PartialEq)]
struct Observed {
    trending: Vec<(i64, Vec<(PhotoId, f64)>)>,
    live: Vec<(String, i64, u64, u64)>,
    rates: Vec<(String, i64, u64)>,
}

/// Scores may differ by this much: Arroyo sums `w·t` over epoch seconds in
/// doubles, the embedded side sums offsets within minute buckets, so the
/// two round differently (by about 1e-10 on these numbers).
const SCORE_TOLERANCE: f64 = 1e-6;

/// Where `got` differs from `expected`: the same windows, the same photos
/// in the same order, scores within [`SCORE_TOLERANCE`], counts equal.
fn differences(got: &Observed, expected: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    if got.trending.len() != expected.trending.len() {
        out.push(format!(
            "trending: {} windows, expected {}",
            got.trending.len(),
            expected.trending.len()
        ));
    }
    for ((ge, gt), (ee, et)) in got.trending.iter().zip(&expected.trending) {
        let ids = |t: &Vec<(PhotoId, f64)>| t.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        if ge != ee || ids(gt) != ids(et) {
            out.push(format!(
                "trending at {ge}: {gt:?}, expected at {ee}: {et:?}"
            ));
            continue;
        }
        for ((p, g), (_, e)) in gt.iter().zip(et) {
            if (g - e).abs() > SCORE_TOLERANCE {
                out.push(format!("trending at {ge}: {p} scored {g}, expected {e}"));
            }
        }
    }
    if got.live != expected.live {
        for (g, e) in got.live.iter().zip(&expected.live) {
            if g != e {
                out.push(format!("live views: {g:?}, expected {e:?}"));
            }
        }
    }
    if got.rates != expected.rates {
        for (g, e) in got.rates.iter().zip(&expected.rates) {
            if g != e {
                out.push(format!("rate: {g:?}, expected {e:?}"));
            }
        }
    }
    out
}

async fn observe(s: &dyn Signals, r: &Recording) -> Observed {
    let end = |m: i64| r.base + m * MIN;
    let mut trending = Vec::new();
    for e in [end(60), end(71)] {
        let t = s.trending(At::WindowEnd(e), 10).await.unwrap();
        trending.push((e, t.photos));
    }
    let mut live = Vec::new();
    let scopes = [
        ("photo a", ViewScope::Photo(r.photos[0].clone())),
        ("photo b", ViewScope::Photo(r.photos[1].clone())),
        ("owner 1", ViewScope::Owner(r.owners[0].clone())),
        ("owner 2", ViewScope::Owner(r.owners[1].clone())),
    ];
    for (name, scope) in &scopes {
        for e in [end(2), end(3), end(31), end(51), end(60)] {
            let v = s.live_views(scope, At::WindowEnd(e)).await.unwrap();
            live.push((name.to_string(), e, v.last_minute, v.last_hour));
        }
    }
    let mut rates = Vec::new();
    for (name, user, action) in [
        ("u1 uploads", &r.users[0], Action::Upload),
        ("u2 comments", &r.users[1], Action::Comment),
    ] {
        for e in [end(10), end(12), end(13), end(20)] {
            rates.push((
                name.to_string(),
                e,
                s.rate(user, action, At::WindowEnd(e)).await.unwrap(),
            ));
        }
    }
    Observed {
        trending,
        live,
        rates,
    }
}

fn embedded(base: i64) -> EmbeddedSignals {
    // The clock is past every window asked about.
    EmbeddedSignals::with_clock(
        SignalsConfig::default(),
        Arc::new(move || base + 3 * 60 * MIN),
    )
}

#[tokio::test]
async fn embedded_windows_match_the_hand_computed_values() {
    let base = 1_790_000_000_000 / (60 * MIN) * (60 * MIN);
    let r = recording(base);
    let s = embedded(base);
    s.record(&r.events).await.unwrap();
    let o = observe(&s, &r).await;

    // Trending at base+60 min: b (3 views at 10 min old, a favorite at 2),
    // then a, then c; at base+71 the window [11, 71) min holds c's favorite.
    let (end, top) = &o.trending[0];
    assert_eq!(*end, base + 60 * MIN);
    let ids: Vec<&PhotoId> = top.iter().map(|(p, _)| p).collect();
    assert_eq!(ids, vec![&r.photos[1], &r.photos[0], &r.photos[2]]);
    let b = 0.1 * (1.0 - 9.8 / 60.0)
        + 0.1 * (1.0 - 9.6 / 60.0)
        + 0.1 * (1.0 - 10.0 / 60.0)
        + (1.0 - 2.0 / 60.0);
    assert!((top[0].1 - b).abs() < 1e-6, "{top:?}");
    let a = 0.1 * (1.0 + 2.5 + 30.0 + 59.0) / 60.0 + 10.0 / 60.0 + 45.0 / 60.0;
    assert!((top[1].1 - a).abs() < 1e-6, "{top:?}");
    let (_, later) = &o.trending[1];
    assert_eq!(
        later[0].0, r.photos[2],
        "the newest favorite leads an hour on: {later:?}"
    );

    // Live counters: photo a had one view in [2, 3) min; owner 1 four views
    // of a and three of b in the hour to base+60.
    let live: HashMap<(String, i64), (u64, u64)> = o
        .live
        .iter()
        .map(|(n, e, m, h)| ((n.clone(), *e), (*m, *h)))
        .collect();
    assert_eq!(live[&("photo a".to_string(), base + 3 * MIN)], (1, 2));
    assert_eq!(live[&("photo a".to_string(), base + 2 * MIN)], (1, 1));
    assert_eq!(live[&("photo b".to_string(), base + 51 * MIN)], (3, 3));
    assert_eq!(live[&("owner 1".to_string(), base + 60 * MIN)], (1, 7));
    assert_eq!(live[&("owner 2".to_string(), base + 60 * MIN)], (0, 1));

    // Rates over ten minutes, hop one minute.
    let rates: HashMap<(String, i64), u64> = o
        .rates
        .iter()
        .map(|(n, e, c)| ((n.clone(), *e), *c))
        .collect();
    assert_eq!(rates[&("u1 uploads".to_string(), base + 10 * MIN)], 3);
    assert_eq!(rates[&("u1 uploads".to_string(), base + 12 * MIN)], 2);
    assert_eq!(rates[&("u1 uploads".to_string(), base + 20 * MIN)], 0);
    assert_eq!(rates[&("u2 comments".to_string(), base + 13 * MIN)], 2);
}

/// Publishes the recording as the API and the outbox relay would: views on
/// `views`, favorites, uploads and comments on `photos`, stamped with the
/// recorded times.
async fn publish(log: &dyn photostream_pipeline::EventLog, events: &[SignalEvent]) {
    use photostream_pipeline::{
        CommentAdded, Envelope, Favorited, PhotoUploaded, PhotoViewed, Record, Topic,
    };
    use photostream_signals::SignalKind;
    for e in events {
        let (topic, record) = match e.kind {
            SignalKind::View => (
                Topic::views(),
                Record::PhotoViewed(PhotoViewed {
                    photo_id: e.photo.clone().unwrap(),
                    owner_id: e.owner.clone().unwrap(),
                    viewer_id: None,
                }),
            ),
            SignalKind::Favorite => (
                Topic::photos(),
                Record::Favorited(Favorited {
                    photo_id: e.photo.clone().unwrap(),
                    user_id: e.actor.clone().unwrap(),
                }),
            ),
            SignalKind::Upload => (
                Topic::photos(),
                Record::PhotoUploaded(PhotoUploaded {
                    photo_id: PhotoId::new(),
                    owner_id: e.actor.clone().unwrap(),
                    original_key: "contract/default/original/x.png".into(),
                    format: "png".into(),
                    bytes: 1,
                    client_thumbnail_key: None,
                    tags: Vec::new(),
                }),
            ),
            SignalKind::Comment => (
                Topic::photos(),
                Record::CommentAdded(CommentAdded {
                    comment_id: PhotoId::new().to_string(),
                    photo_id: PhotoId::new(),
                    author_id: e.actor.clone().unwrap(),
                }),
            ),
            SignalKind::Report => continue, // not on the stream
        };
        let envelope = Envelope {
            at_ms: e.at_ms,
            ..Envelope::new(record, None)
        };
        log.publish(&topic, &envelope.record.key(), &envelope)
            .await
            .unwrap();
    }
}

async fn register(
    http: &reqwest::Client,
    arroyo: &str,
    vars: &[(&str, String)],
    suffix: &str,
) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/arroyo");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let source = read("_source.sql");
    let mut ids = Vec::new();
    // As register.sh does: one pipeline per line of pipelines.txt, its
    // template's `-- source: TABLE` lines replaced by _source.sql (without
    // its comments), then the line's variables, then the deployment's.
    for line in read("pipelines.txt").lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        let (pipeline, template) = (words.next().unwrap(), words.next().unwrap());
        let mut query: String = read(template)
            .lines()
            .map(|l| match l.strip_prefix("-- source: ") {
                Some(table) => source
                    .lines()
                    .filter(|s| !s.starts_with("--"))
                    .map(|s| s.replace("${TABLE}", table) + "\n")
                    .collect(),
                None => format!("{l}\n"),
            })
            .collect();
        let own = words.map(|kv| kv.split_once('=').unwrap()).map(|(k, v)| (k, v.to_string()));
        for (k, v) in own.chain([("PIPELINE", pipeline.to_string())]).chain(vars.iter().cloned()) {
            query = query.replace(&format!("${{{k}}}"), &v);
        }
        let name = format!("contract-{pipeline}-{suffix}");
        let r = http
            .post(format!("{arroyo}/api/v1/pipelines"))
            .json(&serde_json::json!({"name": name, "query": query, "parallelism": 1}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        assert!(status.is_success(), "registering {pipeline}: {status} {body}");
        ids.push(body["id"].as_str().unwrap_or_default().to_string());
    }
    ids
}

#[tokio::test]
async fn arroyo_pipelines_agree_with_the_embedded_windows() {
    let Ok(arroyo) = std::env::var("ARROYO_URL") else {
        println!(
            "NOT RUN: Arroyo signals contract (ARROYO_URL is not set; no Arroyo cluster here)"
        );
        return;
    };
    let nats = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let suffix = format!("{:08x}", rand_suffix());
    let stream_prefix = format!("signals_contract_{suffix}");
    let config = SignalsConfig {
        redis_prefix: format!("signals-contract-{suffix}"),
        ..SignalsConfig::default()
    };

    // Two hours back, so every window asked about is long closed once the
    // flush events (three hours on) move the watermark past them.
    let base = (photostream_types::now_ms() - 2 * 60 * MIN) / (60 * MIN) * (60 * MIN);
    let r = recording(base);
    let log =
        photostream_pipeline::NatsLog::connect(&nats, &stream_prefix, Duration::from_secs(30))
            .await
            .unwrap();
    publish(&log, &r.events).await; // creates the streams the pipelines read
    let http = reqwest::Client::new();
    let servers = nats.trim_start_matches("nats://").to_string();
    let vars = [
        ("NATS_SERVERS", servers),
        ("STREAM_PREFIX", stream_prefix.clone()),
        ("REDIS_URL", redis.clone()),
        ("SIGNALS_PREFIX", config.redis_prefix.clone()),
    ];
    let pipelines = register(&http, &arroyo, &vars, &suffix).await;
    let flush_at = base + 3 * 60 * MIN;
    let flush = vec![
        SignalEvent::view(PhotoId::new(), UserId::new(), flush_at),
        SignalEvent::favorite(PhotoId::new(), UserId::new(), flush_at),
    ];
    publish(&log, &flush).await;

    let arroyo_signals = ArroyoSignals::connect(&redis, config.clone())
        .await
        .unwrap();
    let expected = {
        let s = embedded(base);
        s.record(&r.events).await.unwrap();
        observe(&s, &r).await
    };
    // Five pipelines start (one worker process each), read the streams from
    // the start and emit every window once the flush events move their
    // watermarks on; on a loaded two-core machine that takes minutes.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    let mut last_report = started;
    let mut heartbeat = 0;
    let (got, diffs) = loop {
        let got = observe(&arroyo_signals, &r).await;
        let diffs = differences(&got, &expected);
        if diffs.is_empty() || Instant::now() > deadline {
            break (got, diffs);
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "waiting for Arroyo ({:?}): {} differences left, first: {}",
                started.elapsed(),
                diffs.len(),
                diffs[0]
            );
            let mut failed = false;
            for id in pipelines.iter().filter(|id| !id.is_empty()) {
                let state = job_state(&http, &arroyo, id).await;
                failed |= state.contains(" Failed");
                println!("  {state}");
            }
            if failed {
                // A failed pipeline never writes its windows: stop waiting.
                break (got, diffs);
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Keep the streams moving like a live site, each event a minute
        // after the last, all past every window compared. Two Arroyo
        // behaviours make this necessary: its NATS source flushes buffered
        // rows only when the next message arrives (the batch linger is
        // checked per message, not on a timer), and its watermark generator
        // emits the *lowest* watermark of a batch and then nothing until
        // event time moves past the batch's newest event. When the whole
        // recording and the flush events arrive as one batch (they usually
        // do: everything is published before the pipelines start), the
        // watermark stays at the recording's start until later events come.
        heartbeat += 1;
        let at = flush_at + heartbeat * MIN;
        let more = vec![
            SignalEvent::view(PhotoId::new(), UserId::new(), at),
            SignalEvent::favorite(PhotoId::new(), UserId::new(), at),
        ];
        publish(&log, &more).await;
    };
    let mut states = Vec::new();
    for id in pipelines.iter().filter(|id| !id.is_empty()) {
        states.push(job_state(&http, &arroyo, id).await);
    }
    for id in pipelines.iter().filter(|id| !id.is_empty()) {
        let _ = http
            .patch(format!("{arroyo}/api/v1/pipelines/{id}"))
            .json(&serde_json::json!({"stop": "immediate"}))
            .send()
            .await;
    }
    // A pipeline can only be deleted once it has stopped.
    for id in pipelines.iter().filter(|id| !id.is_empty()) {
        for _ in 0..30 {
            let r = http
                .delete(format!("{arroyo}/api/v1/pipelines/{id}"))
                .send()
                .await;
            if r.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    assert!(
        diffs.is_empty(),
        "Arroyo's windows differ from the embedded ones after {:?}:\n{}\npipelines:\n{}\ngot: {got:#?}\nexpected: {expected:#?}",
        started.elapsed(),
        diffs.join("\n"),
        states.join("\n")
    );
    println!(
        "Arroyo agrees with the embedded windows after {:?}: {} trending windows, {} live counters, {} rates",
        started.elapsed(),
        got.trending.len(),
        got.live.len(),
        got.rates.len()
    );
    for ((e, g), (_, x)) in got.trending.iter().zip(&expected.trending) {
        println!(
            "  trending ending base+{} min: arroyo {:?}, embedded {:?}",
            (e - r.base) / MIN,
            g.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
            x.iter().map(|(_, s)| *s).collect::<Vec<_>>()
        );
    }
    for (name, e, m, h) in &got.live {
        println!(
            "  live {name} ending base+{} min: last minute {m}, last hour {h}",
            (e - r.base) / MIN
        );
    }
    for (name, e, n) in &got.rates {
        println!("  rate {name} ending base+{} min: {n}", (e - r.base) / MIN);
    }
    for state in &states {
        println!("  {state}");
    }
}

/// `name: state` of a pipeline's job, for progress and failure messages.
async fn job_state(http: &reqwest::Client, arroyo: &str, id: &str) -> String {
    let jobs: serde_json::Value = match http
        .get(format!("{arroyo}/api/v1/pipelines/{id}/jobs"))
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(e) => return format!("{id}: {e}"),
    };
    let job = &jobs["data"][0];
    format!(
        "{id}: {} {}",
        job["state"].as_str().unwrap_or("?"),
        job["failureMessage"].as_str().unwrap_or("")
    )
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(photostream_types::now_ms());
    h.finish() as u32
}
