//! The window arithmetic, pure: no clock, no locks, no I/O. Time is always
//! passed in (milliseconds since the epoch), so tests inject it.
//!
//! Every signal is a hopping window in Arroyo's sense: windows of `size`
//! starting every `hop` (a tumbling window is one whose size is its hop),
//! aligned to the epoch, each covering `[end - size, end)`. Events are kept
//! per hop-sized bucket, so one bucket store answers every window that ends
//! on a hop boundary.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// A window's size and hop, in milliseconds (`size` a multiple of `hop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    pub size_ms: i64,
    pub hop_ms: i64,
}

impl WindowSpec {
    pub fn hopping(size_ms: i64, hop_ms: i64) -> Self {
        let hop_ms = hop_ms.max(1);
        let size_ms = (size_ms.max(hop_ms) / hop_ms) * hop_ms;
        Self { size_ms, hop_ms }
    }

    pub fn tumbling(size_ms: i64) -> Self {
        Self::hopping(size_ms, size_ms)
    }

    /// The end of the window that is open at `t` and ends soonest: the
    /// first hop boundary after `t`.
    pub fn open_end(&self, t_ms: i64) -> i64 {
        (t_ms.div_euclid(self.hop_ms) + 1) * self.hop_ms
    }

    /// The end of the newest window that is closed at `watermark_ms`
    /// (Arroyo emits a window once the watermark passes its end).
    pub fn closed_end(&self, watermark_ms: i64) -> i64 {
        watermark_ms.div_euclid(self.hop_ms) * self.hop_ms
    }
}

/// Event time progress: the watermark trails the newest event time seen by
/// `lateness`; an event older than the watermark is late and dropped (as
/// Arroyo drops events behind its watermark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    lateness_ms: i64,
    newest_ms: Option<i64>,
}

impl Watermark {
    pub fn new(lateness_ms: i64) -> Self {
        Self {
            lateness_ms: lateness_ms.max(0),
            newest_ms: None,
        }
    }

    /// Where the watermark is (`None` before the first event).
    pub fn at(&self) -> Option<i64> {
        self.newest_ms.map(|t| t - self.lateness_ms)
    }

    /// Whether an event at `t_ms` is on time; on time events move it on.
    pub fn admit(&mut self, t_ms: i64) -> bool {
        if self.at().is_some_and(|w| t_ms < w) {
            return false;
        }
        self.newest_ms = Some(self.newest_ms.map_or(t_ms, |n| n.max(t_ms)));
        true
    }
}

/// What a bucket holds per key: the event count, the summed weight and the
/// summed weight × offset of each event from the bucket's start (the last
/// makes linear decay exact without keeping events).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    n: u64,
    w: f64,
    w_offset_ms: f64,
}

/// Per-key sums in hop-sized buckets.
#[derive(Debug, Clone)]
pub struct BucketedSums<K> {
    spec: WindowSpec,
    buckets: BTreeMap<i64, HashMap<K, Sums>>,
}

impl<K: Clone + Eq + Hash> BucketedSums<K> {
    pub fn new(spec: WindowSpec) -> Self {
        Self {
            spec,
            buckets: BTreeMap::new(),
        }
    }

    pub fn spec(&self) -> WindowSpec {
        self.spec
    }

    /// Adds one event of `weight` for `key` at `t_ms`.
    pub fn add(&mut self, key: K, t_ms: i64, weight: f64) {
        let start = t_ms.div_euclid(self.spec.hop_ms) * self.spec.hop_ms;
        let s = self
            .buckets
            .entry(start)
            .or_default()
            .entry(key)
            .or_default();
        s.n += 1;
        s.w += weight;
        s.w_offset_ms += weight * (t_ms - start) as f64;
    }

    /// Forgets buckets that start before `t_ms` (no window still asked
    /// about can contain them).
    pub fn forget_before(&mut self, t_ms: i64) {
        self.buckets = self.buckets.split_off(
            &t_ms
                .div_euclid(self.spec.hop_ms)
                .saturating_mul(self.spec.hop_ms),
        );
    }

    fn in_window(&self, end_ms: i64) -> impl Iterator<Item = (&i64, &HashMap<K, Sums>)> + '_ {
        self.buckets.range(end_ms - self.spec.size_ms..end_ms)
    }

    /// How many events `key` had in the window `[end - size, end)`.
    pub fn count(&self, key: &K, end_ms: i64) -> u64 {
        self.count_over(key, end_ms, self.spec.size_ms)
    }

    /// How many events `key` had in `[end - span, end)`: several windows
    /// at once (the last hour of one-minute windows, say).
    pub fn count_over(&self, key: &K, end_ms: i64, span_ms: i64) -> u64 {
        self.buckets
            .range(end_ms - span_ms..end_ms)
            .filter_map(|(_, b)| b.get(key))
            .map(|s| s.n)
            .sum()
    }

    /// Every key's count in the window ending at `end_ms`.
    pub fn counts(&self, end_ms: i64) -> HashMap<K, u64> {
        let mut out: HashMap<K, u64> = HashMap::new();
        for (_, b) in self.in_window(end_ms) {
            for (k, s) in b {
                *out.entry(k.clone()).or_default() += s.n;
            }
        }
        out
    }

    /// Every key's decayed score in the window ending at `end_ms`: each
    /// event counts its weight × (1 − age / size), age = end − event time,
    /// so an event at the window's end counts fully and one a whole window
    /// old not at all (linear decay: what the Arroyo pipeline computes from
    /// two sums, `deploy/arroyo/trending.sql`).
    pub fn decayed(&self, end_ms: i64) -> HashMap<K, f64> {
        let size = self.spec.size_ms as f64;
        let mut out: HashMap<K, f64> = HashMap::new();
        for (start, b) in self.in_window(end_ms) {
            let bucket_age = (end_ms - start) as f64;
            for (k, s) in b {
                let score = s.w * (1.0 - bucket_age / size) + s.w_offset_ms / size;
                *out.entry(k.clone()).or_default() += score;
            }
        }
        out
    }
}

/// The `limit` highest scores, highest first; ties by key, so the order is
/// the same in every implementation.
pub fn top<K: Ord + Clone>(scores: HashMap<K, f64>, limit: usize) -> Vec<(K, f64)> {
    let mut v: Vec<(K, f64)> = scores.into_iter().filter(|(_, s)| *s > 0.0).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    #[test]
    fn windows_end_on_hop_boundaries() {
        let s = WindowSpec::hopping(HOUR, MIN);
        assert_eq!(s.open_end(0), MIN);
        assert_eq!(s.open_end(MIN - 1), MIN);
        assert_eq!(
            s.open_end(MIN),
            2 * MIN,
            "a boundary belongs to the window it starts"
        );
        assert_eq!(s.closed_end(MIN + 5), MIN);
        assert_eq!(
            WindowSpec::hopping(90_000, MIN).size_ms,
            MIN,
            "size rounds down to whole hops"
        );
        assert_eq!(WindowSpec::tumbling(MIN).hop_ms, MIN);
    }

    #[test]
    fn late_events_are_dropped_behind_the_watermark() {
        let mut w = Watermark::new(MIN);
        assert_eq!(w.at(), None);
        assert!(w.admit(10 * MIN));
        assert_eq!(w.at(), Some(9 * MIN));
        assert!(w.admit(9 * MIN + 1), "inside the allowed lateness");
        assert!(!w.admit(9 * MIN - 1), "behind the watermark");
        assert!(w.admit(20 * MIN));
        assert!(!w.admit(18 * MIN), "the watermark moved on");
        assert_eq!(w.at(), Some(19 * MIN), "a late event never moves it back");
    }

    #[test]
    fn hopping_counts_slide_by_the_hop() {
        let mut b = BucketedSums::new(WindowSpec::hopping(10 * MIN, MIN));
        b.add("alice", 0, 1.0);
        b.add("alice", 5 * MIN + 30_000, 1.0);
        b.add("bob", 9 * MIN, 1.0);
        assert_eq!(b.count(&"alice", 10 * MIN), 2);
        assert_eq!(
            b.count(&"alice", 11 * MIN),
            1,
            "the first event left the window"
        );
        assert_eq!(b.count(&"alice", 16 * MIN), 0);
        assert_eq!(b.count(&"bob", 19 * MIN), 1);
        assert_eq!(b.count(&"bob", 20 * MIN), 0);
        assert_eq!(
            b.counts(10 * MIN),
            HashMap::from([("alice", 2), ("bob", 1)])
        );
    }

    #[test]
    fn tumbling_minutes_do_not_overlap() {
        let mut b = BucketedSums::new(WindowSpec::tumbling(MIN));
        b.add("p", 0, 1.0);
        b.add("p", MIN - 1, 1.0);
        b.add("p", MIN, 1.0);
        assert_eq!(b.count(&"p", MIN), 2);
        assert_eq!(b.count(&"p", 2 * MIN), 1);
        assert_eq!(
            b.count_over(&"p", 2 * MIN, 60 * MIN),
            3,
            "an hour of minutes"
        );
    }

    #[test]
    fn decay_is_linear_in_age() {
        let mut b = BucketedSums::new(WindowSpec::hopping(HOUR, MIN));
        let end = 2 * HOUR;
        b.add("fresh", end - 1, 1.0);
        b.add("half", end - HOUR / 2, 1.0);
        b.add("quarter", end - 3 * HOUR / 4, 2.0);
        b.add("gone", end - HOUR - 1, 5.0);
        let d = b.decayed(end);
        assert!((d["fresh"] - 1.0).abs() < 1e-6, "{d:?}");
        assert!((d["half"] - 0.5).abs() < 1e-9, "{d:?}");
        assert!(
            (d["quarter"] - 0.5).abs() < 1e-9,
            "weight 2 at a quarter: {d:?}"
        );
        assert!(!d.contains_key("gone"), "outside the window");
        // The same events an hour on have all aged out.
        assert!(b.decayed(end + HOUR).is_empty());
    }

    #[test]
    fn decay_within_one_bucket_uses_each_events_time() {
        let mut b = BucketedSums::new(WindowSpec::hopping(HOUR, MIN));
        // Two events in one minute bucket, 30 s apart: each decays by its own age.
        b.add("p", 30 * MIN, 1.0);
        b.add("p", 30 * MIN + 30_000, 1.0);
        let end = HOUR;
        let expected = (1.0 - 30.0 / 60.0) + (1.0 - 29.5 / 60.0);
        assert!((b.decayed(end)["p"] - expected).abs() < 1e-9);
    }

    #[test]
    fn forgetting_keeps_what_windows_still_need() {
        let mut b = BucketedSums::new(WindowSpec::hopping(10 * MIN, MIN));
        b.add("u", MIN, 1.0);
        b.add("u", 5 * MIN, 1.0);
        b.forget_before(2 * MIN);
        assert_eq!(b.count(&"u", 10 * MIN), 1);
    }

    #[test]
    fn top_is_ordered_and_deterministic() {
        let scores = HashMap::from([("b", 1.0), ("a", 1.0), ("c", 3.0), ("z", 0.0)]);
        assert_eq!(
            top(scores.clone(), 10),
            vec![("c", 3.0), ("a", 1.0), ("b", 1.0)]
        );
        assert_eq!(top(scores, 2), vec![("c", 3.0), ("a", 1.0)]);
    }
}
