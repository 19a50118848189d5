//! The in-process implementation: every window in memory, fed by the API
//! as things happen. One process's view: with several API instances each
//! counts what it served (use the Arroyo backend for one shared view).
//! Nothing survives a restart; the windows refill within their size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use photostream_types::{PhotoId, UserId};

use crate::window::{top, BucketedSums, Watermark};
use crate::{
    Action, At, LiveViews, Result, SignalEvent, SignalKind, Signals, SignalsConfig, Trending,
    ViewScope,
};

/// Where "now" comes from (ms since the epoch); tests pass their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The live counters also answer for the last hour of minutes.
const LIVE_SPAN_MS: i64 = 3_600_000;
/// How long closed windows stay answerable behind the watermark.
const HISTORY_MS: i64 = 3_600_000;

struct Windows {
    watermark: Watermark,
    trending: BucketedSums<PhotoId>,
    photo_views: BucketedSums<PhotoId>,
    owner_views: BucketedSums<UserId>,
    actions: HashMap<Action, BucketedSums<UserId>>,
    late: u64,
}

pub struct EmbeddedSignals {
    config: SignalsConfig,
    clock: Clock,
    windows: Mutex<Windows>,
}

impl EmbeddedSignals {
    pub fn new(config: SignalsConfig) -> Self {
        Self::with_clock(config, Arc::new(photostream_types::now_ms))
    }

    pub fn with_clock(config: SignalsConfig, clock: Clock) -> Self {
        let windows = Windows {
            watermark: Watermark::new(config.lateness_ms()),
            trending: BucketedSums::new(config.trending_spec()),
            photo_views: BucketedSums::new(config.live_spec()),
            owner_views: BucketedSums::new(config.live_spec()),
            actions: Action::ALL
                .iter()
                .map(|a| (*a, BucketedSums::new(config.abuse_spec())))
                .collect(),
            late: 0,
        };
        Self {
            config,
            clock,
            windows: Mutex::new(windows),
        }
    }

    /// Events dropped for arriving behind the watermark so far.
    pub fn late_events(&self) -> u64 {
        self.lock().late
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn end(&self, at: At, spec: crate::window::WindowSpec) -> i64 {
        match at {
            At::Latest => spec.open_end((self.clock)()),
            At::WindowEnd(end) => end,
        }
    }
}

#[async_trait]
impl Signals for EmbeddedSignals {
    async fn record(&self, events: &[SignalEvent]) -> Result<()> {
        let c = &self.config;
        let mut w = self.lock();
        for e in events {
            if !w.watermark.admit(e.at_ms) {
                w.late += 1;
                continue;
            }
            match (e.kind, &e.photo, &e.owner, &e.actor) {
                (SignalKind::View, Some(photo), owner, _) => {
                    w.trending.add(photo.clone(), e.at_ms, c.view_weight);
                    w.photo_views.add(photo.clone(), e.at_ms, 1.0);
                    if let Some(owner) = owner {
                        w.owner_views.add(owner.clone(), e.at_ms, 1.0);
                    }
                }
                (SignalKind::Favorite, Some(photo), _, _) => {
                    w.trending.add(photo.clone(), e.at_ms, c.favorite_weight)
                }
                (SignalKind::Upload, _, _, Some(actor)) => {
                    add_action(&mut w, Action::Upload, actor, e.at_ms)
                }
                (SignalKind::Comment, _, _, Some(actor)) => {
                    add_action(&mut w, Action::Comment, actor, e.at_ms)
                }
                (SignalKind::Report, _, _, Some(actor)) => {
                    add_action(&mut w, Action::Report, actor, e.at_ms)
                }
                _ => tracing::debug!(event = ?e, "signal event without the ids its kind needs"),
            }
        }
        // Forget what no window still asked about can hold: windows ending
        // up to `HISTORY_MS` before the watermark stay answerable.
        if let Some(mark) = w.watermark.at() {
            let forget = |spec: crate::window::WindowSpec, span: i64| {
                mark - span.max(spec.size_ms) - spec.hop_ms - HISTORY_MS
            };
            let t = forget(c.trending_spec(), 0);
            w.trending.forget_before(t);
            let t = forget(c.live_spec(), LIVE_SPAN_MS);
            w.photo_views.forget_before(t);
            w.owner_views.forget_before(t);
            let t = forget(c.abuse_spec(), 0);
            for b in w.actions.values_mut() {
                b.forget_before(t);
            }
        }
        Ok(())
    }

    async fn trending(&self, at: At, limit: usize) -> Result<Trending> {
        let end = self.end(at, self.config.trending_spec());
        let scores = self.lock().trending.decayed(end);
        Ok(Trending {
            window_end_ms: end,
            photos: top(scores, limit.min(self.config.trending_top)),
        })
    }

    async fn live_views(&self, scope: &ViewScope, at: At) -> Result<LiveViews> {
        let end = self.end(at, self.config.live_spec());
        let w = self.lock();
        let (last_minute, last_hour) = match scope {
            ViewScope::Photo(p) => (
                w.photo_views.count(p, end),
                w.photo_views.count_over(p, end, LIVE_SPAN_MS),
            ),
            ViewScope::Owner(o) => (
                w.owner_views.count(o, end),
                w.owner_views.count_over(o, end, LIVE_SPAN_MS),
            ),
        };
        Ok(LiveViews {
            window_end_ms: end,
            last_minute,
            last_hour,
        })
    }

    async fn rate(&self, user: &UserId, action: Action, at: At) -> Result<u64> {
        let end = self.end(at, self.config.abuse_spec());
        Ok(self
            .lock()
            .actions
            .get(&action)
            .map_or(0, |b| b.count(user, end)))
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }
}

fn add_action(w: &mut Windows, action: Action, actor: &UserId, at_ms: i64) {
    if let Some(b) = w.actions.get_mut(&action) {
        b.add(actor.clone(), at_ms, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    const MIN: i64 = 60_000;

    fn at(now: &Arc<AtomicI64>) -> Clock {
        let now = now.clone();
        Arc::new(move || now.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn trending_ranks_favorites_over_views_and_decays() {
        let now = Arc::new(AtomicI64::new(100 * MIN));
        let s = EmbeddedSignals::with_clock(SignalsConfig::default(), at(&now));
        let (a, b, owner, fan) = (PhotoId::new(), PhotoId::new(), UserId::new(), UserId::new());
        let t = 100 * MIN;
        let mut events = vec![SignalEvent::favorite(a.clone(), fan.clone(), t)];
        events.extend((0..5).map(|_| SignalEvent::view(b.clone(), owner.clone(), t)));
        s.record(&events).await.unwrap();
        let tr = s.trending(At::Latest, 10).await.unwrap();
        assert_eq!(tr.window_end_ms, 101 * MIN);
        assert_eq!(
            tr.photos.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            vec![a.clone(), b.clone()]
        );
        let fav = tr.photos[0].1;
        assert!(
            (fav - (1.0 - 1.0 / 60.0)).abs() < 1e-9,
            "one minute old at the window's end: {fav}"
        );
        // Half an hour on, the same events score half as much as when new.
        now.store(130 * MIN, Ordering::SeqCst);
        let later = s.trending(At::Latest, 10).await.unwrap();
        assert!(
            (later.photos[0].1 - (1.0 - 31.0 / 60.0)).abs() < 1e-9,
            "{later:?}"
        );
        // An hour on they are gone.
        now.store(161 * MIN, Ordering::SeqCst);
        assert!(s.trending(At::Latest, 10).await.unwrap().photos.is_empty());
    }

    #[tokio::test]
    async fn live_counters_per_photo_and_owner_in_tumbling_minutes() {
        let now = Arc::new(AtomicI64::new(10 * MIN + 5_000));
        let s = EmbeddedSignals::with_clock(SignalsConfig::default(), at(&now));
        let (p, q, owner) = (PhotoId::new(), PhotoId::new(), UserId::new());
        let events = vec![
            SignalEvent::view(p.clone(), owner.clone(), 9 * MIN + 10_000),
            SignalEvent::view(p.clone(), owner.clone(), 10 * MIN + 1_000),
            SignalEvent::view(q.clone(), owner.clone(), 10 * MIN + 2_000),
        ];
        s.record(&events).await.unwrap();
        let photo = s
            .live_views(&ViewScope::Photo(p.clone()), At::Latest)
            .await
            .unwrap();
        assert_eq!(
            photo,
            LiveViews {
                window_end_ms: 11 * MIN,
                last_minute: 1,
                last_hour: 2
            }
        );
        let owner_views = s
            .live_views(&ViewScope::Owner(owner.clone()), At::Latest)
            .await
            .unwrap();
        assert_eq!((owner_views.last_minute, owner_views.last_hour), (2, 3));
        let closed = s
            .live_views(&ViewScope::Photo(p), At::WindowEnd(10 * MIN))
            .await
            .unwrap();
        assert_eq!((closed.last_minute, closed.last_hour), (1, 1));
    }

    #[tokio::test]
    async fn abuse_rates_per_user_slide_over_ten_minutes_and_drop_late_events() {
        let now = Arc::new(AtomicI64::new(20 * MIN));
        let s = EmbeddedSignals::with_clock(SignalsConfig::default(), at(&now));
        let (u, v) = (UserId::new(), UserId::new());
        let mut events: Vec<SignalEvent> = (0..3)
            .map(|i| SignalEvent::action(Action::Comment, u.clone(), 15 * MIN + i))
            .collect();
        events.push(SignalEvent::action(Action::Upload, u.clone(), 20 * MIN));
        events.push(SignalEvent::action(Action::Comment, v.clone(), 20 * MIN));
        s.record(&events).await.unwrap();
        assert_eq!(s.rate(&u, Action::Comment, At::Latest).await.unwrap(), 3);
        assert_eq!(s.rate(&u, Action::Upload, At::Latest).await.unwrap(), 1);
        assert_eq!(s.rate(&u, Action::Report, At::Latest).await.unwrap(), 0);
        assert_eq!(s.rate(&v, Action::Comment, At::Latest).await.unwrap(), 1);
        now.store(24 * MIN + 1, Ordering::SeqCst);
        assert_eq!(
            s.rate(&u, Action::Comment, At::Latest).await.unwrap(),
            3,
            "still inside ten minutes"
        );
        now.store(26 * MIN, Ordering::SeqCst);
        assert_eq!(
            s.rate(&u, Action::Comment, At::Latest).await.unwrap(),
            0,
            "aged out"
        );
        // Two minutes behind the newest event is beyond the minute of lateness.
        s.record(&[SignalEvent::action(Action::Comment, u.clone(), 18 * MIN)])
            .await
            .unwrap();
        assert_eq!(s.late_events(), 1);
        assert_eq!(
            s.rate(&u, Action::Comment, At::WindowEnd(25 * MIN))
                .await
                .unwrap(),
            3
        );
    }
}
