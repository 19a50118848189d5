//! The behavioural contract of every stream backend: the same functions run
//! against the embedded log and NATS JetStream (`TEST_NATS_URL`, default
//! `nats://127.0.0.1:4222`; unreachable is a failure, not a skip).

use std::collections::HashSet;
use std::time::Duration;

use photostream_pipeline::{
    ConsumerGroup, EmbeddedLog, Envelope, EventLog, NatsLog, PhotoUploaded, Record, Subscription, Topic,
};
use photostream_types::{PhotoId, UserId};

fn envelope(n: u64) -> Envelope {
    Envelope::new(
        Record::PhotoUploaded(PhotoUploaded {
            photo_id: PhotoId::new(),
            owner_id: UserId::new(),
            original_key: format!("u/default/original/{n}.jpg"),
            format: "jpeg".into(),
            bytes: n,
            client_thumbnail_key: None,
            tags: vec![],
        }),
        None,
    )
}

async fn next(sub: &mut Box<dyn Subscription>) -> Option<photostream_pipeline::Delivery> {
    tokio::time::timeout(Duration::from_secs(5), sub.next()).await.ok().map(|r| r.unwrap())
}

async fn nothing_within(sub: &mut Box<dyn Subscription>, d: Duration) -> bool {
    tokio::time::timeout(d, sub.next()).await.is_err()
}

fn bytes_of(d: &photostream_pipeline::Delivery) -> u64 {
    match d.envelope().unwrap().record {
        Record::PhotoUploaded(r) => r.bytes,
        _ => panic!("unexpected record"),
    }
}

/// Publish, consume in order, commit, resume after the commit, independent
/// groups, redelivery of what was not committed.
async fn contract(log: &dyn EventLog, redelivery_after: Duration) {
    log.ping().await.unwrap();
    let topic = Topic::photos();
    let a = ConsumerGroup::new("group-a").unwrap();
    let b = ConsumerGroup::new("group-b").unwrap();
    for n in 0..5 {
        log.publish(&topic, &format!("k{n}"), &envelope(n)).await.unwrap();
    }

    let mut sub = log.subscribe(&topic, &a).await.unwrap();
    for n in 0..3 {
        let d = next(&mut sub).await.expect("record");
        assert_eq!(bytes_of(&d), n);
        sub.commit(&d).await.unwrap();
    }
    // Consumer lag: two records are not finished (where the backend tells).
    assert_lag(log, &topic, &a, 2).await;
    // Read the fourth without committing, then "crash".
    let d = next(&mut sub).await.expect("record");
    assert_eq!(bytes_of(&d), 3);
    drop(sub);

    // The same group resumes after its last commit: 3 is redelivered.
    tokio::time::sleep(redelivery_after).await;
    let mut sub = log.subscribe(&topic, &a).await.unwrap();
    // At-least-once: duplicates of uncommitted records are allowed, losses
    // and committed records coming back are not.
    let mut seen = HashSet::new();
    while seen.len() < 2 {
        let d = next(&mut sub).await.expect("redelivered record");
        assert!(d.delivery_count >= 1);
        let n = bytes_of(&d);
        assert!(n == 3 || n == 4, "committed record {n} came back");
        seen.insert(n);
        sub.commit(&d).await.unwrap();
    }

    // New records reach a waiting subscriber.
    log.publish(&topic, "k5", &envelope(5)).await.unwrap();
    loop {
        let d = next(&mut sub).await.expect("new record");
        let n = bytes_of(&d);
        sub.commit(&d).await.unwrap();
        if n == 5 {
            break;
        }
        assert!(n == 3 || n == 4, "committed record {n} came back");
    }
    assert!(nothing_within(&mut sub, Duration::from_millis(300)).await, "records after the last commit");
    assert_lag(log, &topic, &a, 0).await;

    // Another group sees everything, independently, and commits it as
    // one round (`commit_all`, as the runner does).
    let mut other = log.subscribe(&topic, &b).await.unwrap();
    let mut round = Vec::new();
    for _ in 0..6 {
        round.push(next(&mut other).await.expect("record for group b"));
    }
    assert_eq!(round.iter().map(bytes_of).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 5]);
    other.commit_all(&round).await.unwrap();
    assert_lag(log, &topic, &b, 0).await;

    // A batch append (the views path): every record, in order, on a topic
    // of its own that the photos topic's groups never see.
    let views = Topic::views();
    let batch: Vec<(String, Envelope)> = (10..20).map(|n| (format!("k{n}"), envelope(n))).collect();
    log.publish_batch(&views, &batch).await.unwrap();
    log.publish_batch(&views, &[]).await.unwrap();
    let mut sub = log.subscribe(&views, &a).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..10 {
        let d = next(&mut sub).await.expect("batched record");
        got.push(bytes_of(&d));
        sub.commit(&d).await.unwrap();
    }
    assert_eq!(got, (10..20).collect::<Vec<_>>());
    assert!(nothing_within(&mut other, Duration::from_millis(200)).await, "views reached the photos topic");
}

/// Waits (briefly: acknowledgements may be in flight) for `group`'s lag to
/// read `want`; backends that cannot tell (`None`) pass.
async fn assert_lag(log: &dyn EventLog, topic: &Topic, group: &ConsumerGroup, want: u64) {
    let start = std::time::Instant::now();
    loop {
        match log.lag(topic, group).await.unwrap() {
            None => return,
            Some(n) if n == want => return,
            Some(n) => assert!(start.elapsed() < Duration::from_secs(5), "lag {n}, expected {want}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `next` is cancel-safe: a consumer that keeps abandoning `next` on a very
/// short timeout (as the batching runner does) still receives every record.
async fn cancel_safety(log: &dyn EventLog) {
    let topic = Topic::photos();
    let group = ConsumerGroup::new("cancel-safety").unwrap();
    let mut sub = log.subscribe(&topic, &group).await.unwrap();
    assert!(sub.cancel_safe());
    for n in 100..130 {
        log.publish(&topic, &format!("c{n}"), &envelope(n)).await.unwrap();
    }
    let mut seen = HashSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < 30 {
        assert!(std::time::Instant::now() < deadline, "lost records: got {} of 30", seen.len());
        if let Ok(d) = tokio::time::timeout(Duration::from_micros(300), sub.next()).await {
            let d = d.unwrap();
            seen.insert(bytes_of(&d));
            sub.commit(&d).await.unwrap();
        }
    }
}

#[tokio::test]
async fn embedded_log_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    contract(&log, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    cancel_safety(&log).await;
}

fn nats_url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

async fn nats(prefix: &str) -> NatsLog {
    NatsLog::connect(&nats_url(), prefix, Duration::from_secs(1))
        .await
        .unwrap_or_else(|e| panic!("NATS JetStream at {} is required: {e}", nats_url()))
}

fn prefix() -> String {
    format!("pstest{}", &PhotoId::new().as_str().replace('-', "")[20..])
}

#[tokio::test]
async fn nats_jetstream_meets_the_contract() {
    let log = nats(&prefix()).await;
    // Unacknowledged records come back after ack_wait (1 s here).
    contract(&log, Duration::from_millis(1500)).await;
    cancel_safety(&nats(&prefix()).await).await;
    println!("stream contract: ran against NATS JetStream at {}", nats_url());
}

/// Two members of one group split the records between them, each record
/// handled by one member; a member that dies leaves its share to the other.
#[tokio::test]
async fn nats_group_members_share_the_work() {
    let prefix = prefix();
    let log = nats(&prefix).await;
    let topic = Topic::photos();
    let group = ConsumerGroup::new("shared").unwrap();
    let mut first = log.subscribe(&topic, &group).await.unwrap();
    let mut second = log.subscribe(&topic, &group).await.unwrap();
    for n in 0..40 {
        log.publish(&topic, &format!("k{n}"), &envelope(n)).await.unwrap();
    }
    let mut by_first = HashSet::new();
    let mut by_second = HashSet::new();
    // The first member takes a few and dies without acknowledging one.
    let abandoned = next(&mut first).await.unwrap();
    let abandoned_n = bytes_of(&abandoned);
    drop(first);
    loop {
        match tokio::time::timeout(Duration::from_secs(4), second.next()).await {
            Ok(d) => {
                let d = d.unwrap();
                by_second.insert(bytes_of(&d));
                second.commit(&d).await.unwrap();
            }
            Err(_) => break,
        }
        if by_second.len() == 40 {
            break;
        }
    }
    by_first.insert(abandoned_n);
    assert!(by_second.contains(&abandoned_n), "the dead member's record was redelivered");
    assert_eq!(by_second.len(), 40, "every record handled");
}

/// Runs against Fluvio when `FLUVIO_ENDPOINT` (the SC, `host:9003`) is set;
/// says so plainly when it did not run.
#[tokio::test]
async fn fluvio_meets_the_contract_when_configured() {
    let Ok(endpoint) = std::env::var("FLUVIO_ENDPOINT") else {
        println!("NOT RUN: Fluvio stream contract (FLUVIO_ENDPOINT is not set; no Fluvio cluster in CI)");
        return;
    };
    let log = photostream_pipeline::FluvioLog::connect(&endpoint, &prefix(), 1, (0, 1))
        .await
        .unwrap_or_else(|e| panic!("FLUVIO_ENDPOINT={endpoint} is set but unreachable: {e}"));
    contract(&log, Duration::ZERO).await;
    // Fluvio declares `next` not cancel-safe, so the runner never abandons it.
    let sub = log.subscribe(&Topic::photos(), &ConsumerGroup::new("probe").unwrap()).await.unwrap();
    assert!(!sub.cancel_safe());
    println!("stream contract: ran against Fluvio at {endpoint}");
}

/// Two Fluvio members of one group split the partitions: every record is
/// handled by exactly one of them.
#[tokio::test]
async fn fluvio_members_split_partitions_when_configured() {
    let Ok(endpoint) = std::env::var("FLUVIO_ENDPOINT") else {
        println!("NOT RUN: Fluvio partition split (FLUVIO_ENDPOINT is not set)");
        return;
    };
    let prefix = prefix();
    let a = photostream_pipeline::FluvioLog::connect(&endpoint, &prefix, 4, (0, 2)).await.unwrap();
    let b = photostream_pipeline::FluvioLog::connect(&endpoint, &prefix, 4, (1, 2)).await.unwrap();
    let topic = Topic::photos();
    for n in 0..40 {
        a.publish(&topic, &format!("photo-{n}"), &envelope(n)).await.unwrap();
    }
    let group = ConsumerGroup::new("split").unwrap();
    let mut seen = Vec::new();
    for log in [&a, &b] {
        let mut sub = log.subscribe(&topic, &group).await.unwrap();
        let mut mine = 0;
        while let Ok(d) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
            let d = d.unwrap();
            seen.push(bytes_of(&d));
            sub.commit(&d).await.unwrap();
            mine += 1;
        }
        assert!(mine > 0, "a member got nothing");
    }
    seen.sort();
    assert_eq!(seen, (0..40).collect::<Vec<_>>(), "each record exactly once across the members");
    println!("stream contract: Fluvio partition split ran against {endpoint}");
}
