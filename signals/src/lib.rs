//! Windowed signals over what users do: which photos are trending, live
//! view counters per photo and per owner, and per-user action rates for
//! abuse throttling (`docs/streaming-sql.md`).
//!
//! [`Signals`] is the one trait; [`EmbeddedSignals`] computes the windows
//! in-process (the single-machine default), [`ArroyoSignals`] reads what the
//! Arroyo pipelines in `deploy/arroyo/*.sql` wrote to Redis. Both follow the
//! same [`SignalsConfig`]: window sizes, hop, lateness and decay. The
//! window arithmetic itself is pure and lives in [`window`].

mod arroyo;
mod embedded;
pub mod window;

use async_trait::async_trait;
use photostream_types::{PhotoId, UserId};
use serde::{Deserialize, Serialize};

pub use arroyo::ArroyoSignals;
pub use embedded::{Clock, EmbeddedSignals};

#[derive(Debug, thiserror::Error)]
pub enum SignalsError {
    #[error("signals backend error: {0}")]
    Backend(String),
}

pub type Result<T, E = SignalsError> = std::result::Result<T, E>;

/// What happened, as the windows see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// Someone other than the owner looked at a photo.
    View,
    Favorite,
    Upload,
    Comment,
    Report,
}

/// One event: `photo` and `owner` for views and favorites, `actor` for
/// uploads, comments and reports (who did it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalEvent {
    pub kind: SignalKind,
    /// Event time (ms since the epoch): windows are in event time.
    pub at_ms: i64,
    pub photo: Option<PhotoId>,
    pub owner: Option<UserId>,
    pub actor: Option<UserId>,
}

impl SignalEvent {
    pub fn view(photo: PhotoId, owner: UserId, at_ms: i64) -> Self {
        Self {
            kind: SignalKind::View,
            at_ms,
            photo: Some(photo),
            owner: Some(owner),
            actor: None,
        }
    }
    pub fn favorite(photo: PhotoId, by: UserId, at_ms: i64) -> Self {
        Self {
            kind: SignalKind::Favorite,
            at_ms,
            photo: Some(photo),
            owner: None,
            actor: Some(by),
        }
    }
    /// An upload, comment or report by `actor`.
    pub fn action(action: Action, actor: UserId, at_ms: i64) -> Self {
        let kind = match action {
            Action::Upload => SignalKind::Upload,
            Action::Comment => SignalKind::Comment,
            Action::Report => SignalKind::Report,
        };
        Self {
            kind,
            at_ms,
            photo: None,
            owner: None,
            actor: Some(actor),
        }
    }
}

/// The actions whose per-user rate is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Upload,
    Comment,
    Report,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Upload, Action::Comment, Action::Report];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Comment => "comment",
            Self::Report => "report",
        }
    }

    /// The plural noun, for messages ("20 comments in 10 minutes").
    pub fn plural(self) -> &'static str {
        match self {
            Self::Upload => "uploads",
            Self::Comment => "comments",
            Self::Report => "reports",
        }
    }
}

/// Which window to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The freshest the backend has: the embedded one answers from the
    /// window still open now (it becomes final when it closes); Arroyo's
    /// from the newest window it emitted.
    Latest,
    /// The window ending at this hop boundary (ms since the epoch).
    WindowEnd(i64),
}

/// Trending photos of one window, highest score first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trending {
    /// The window's end (it covers the `trending_window_secs` before).
    pub window_end_ms: i64,
    pub photos: Vec<(PhotoId, f64)>,
}

/// Whose views a live counter counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ViewScope {
    Photo(PhotoId),
    /// Every photo of this owner.
    Owner(UserId),
}

/// Views in tumbling one-minute windows (`live_window_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LiveViews {
    /// The end of the newest minute counted (ms since the epoch).
    pub window_end_ms: i64,
    /// Views in that minute.
    pub last_minute: u64,
    /// Views in the 60 minutes ending there.
    pub last_hour: u64,
}

/// Window sizes, hop, lateness, decay weights and abuse limits: one set of
/// numbers for both implementations (the Arroyo pipelines spell the
/// defaults in SQL; change both together). Config section `[signals]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalsConfig {
    /// `embedded` (in-process windows; per API instance) or
    /// `arroyo+redis://host:6379` (read what the Arroyo pipelines of
    /// `deploy/arroyo` wrote to that Redis).
    pub backend: String,
    /// Trending: the sliding window's size …
    pub trending_window_secs: u64,
    /// … and how often a new one starts (and Arroyo emits).
    pub trending_hop_secs: u64,
    /// A favorite's weight in the trending score …
    pub favorite_weight: f64,
    /// … and a view's.
    pub view_weight: f64,
    /// Photos a trending window keeps (top N).
    pub trending_top: usize,
    /// Live view counters: the tumbling window.
    pub live_window_secs: u64,
    /// Abuse rates: the sliding window per user …
    pub abuse_window_secs: u64,
    /// … and its hop.
    pub abuse_hop_secs: u64,
    /// How far behind the newest event an event may arrive and still count.
    pub lateness_secs: u64,
    /// Uploads one user may make per abuse window (0: unlimited).
    pub uploads_per_window: u64,
    /// Comments one user may post per abuse window (0: unlimited).
    pub comments_per_window: u64,
    /// Reports one user may file per abuse window (0: unlimited).
    pub reports_per_window: u64,
    /// Key prefix of the Redis hashes the pipelines write (`arroyo+redis`).
    pub redis_prefix: String,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        Self {
            backend: "embedded".into(),
            trending_window_secs: 3600,
            trending_hop_secs: 60,
            favorite_weight: 1.0,
            view_weight: 0.1,
            trending_top: 100,
            live_window_secs: 60,
            abuse_window_secs: 600,
            abuse_hop_secs: 60,
            lateness_secs: 60,
            uploads_per_window: 60,
            comments_per_window: 60,
            reports_per_window: 20,
            redis_prefix: "photostream:signals".into(),
        }
    }
}

impl SignalsConfig {
    /// The most `action`s per abuse window (`None`: unlimited).
    pub fn limit(&self, action: Action) -> Option<u64> {
        let n = match action {
            Action::Upload => self.uploads_per_window,
            Action::Comment => self.comments_per_window,
            Action::Report => self.reports_per_window,
        };
        (n > 0).then_some(n)
    }

    pub fn trending_spec(&self) -> window::WindowSpec {
        window::WindowSpec::hopping(
            secs(self.trending_window_secs),
            secs(self.trending_hop_secs),
        )
    }

    pub fn live_spec(&self) -> window::WindowSpec {
        window::WindowSpec::tumbling(secs(self.live_window_secs))
    }

    pub fn abuse_spec(&self) -> window::WindowSpec {
        window::WindowSpec::hopping(secs(self.abuse_window_secs), secs(self.abuse_hop_secs))
    }

    pub fn lateness_ms(&self) -> i64 {
        secs(self.lateness_secs)
    }
}

fn secs(s: u64) -> i64 {
    (s.max(1) as i64).saturating_mul(1000)
}

#[async_trait]
pub trait Signals: Send + Sync + 'static {
    /// Feeds events (the API calls it as things happen). A backend that
    /// reads the stream itself (Arroyo) ignores what it gets from the stream.
    async fn record(&self, events: &[SignalEvent]) -> Result<()>;
    /// The top photos of a trending window, at most `limit`.
    async fn trending(&self, at: At, limit: usize) -> Result<Trending>;
    /// A live view counter.
    async fn live_views(&self, scope: &ViewScope, at: At) -> Result<LiveViews>;
    /// How many `action`s `user` made in an abuse window.
    async fn rate(&self, user: &UserId, action: Action, at: At) -> Result<u64>;
    async fn ping(&self) -> Result<()>;
    fn kind(&self) -> &'static str;
}
