//! The API's side of the windowed signals (`photostream-signals`): it feeds
//! what users do as it happens, and refuses an action from a user over
//! their configured rate (429 `rate_limited`). Trending for explore and the
//! live view counters of owner statistics read the same backend.

use photostream_signals::{Action, At, SignalEvent};
use photostream_types::{metric, UserId};

use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::AppState;

/// Refuses `action` when `user` already made `signals.*_per_window` of
/// them in the abuse window. A signals outage lets the action through: the
/// limit guards against floods, it must not take uploads down with it.
pub async fn check_rate(st: &AppState, user: &UserId, action: Action) -> Result<(), ApiError> {
    let Some(limit) = st.config.signals.limit(action) else {
        return Ok(());
    };
    let made = match st.signals.rate(user, action, At::Latest).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, action = action.as_str(), "abuse rate unavailable; not limiting");
            return Ok(());
        }
    };
    if made < limit {
        return Ok(());
    }
    metric::RATE_LIMITED_TOTAL.with([action.as_str()]).increment(1);
    let minutes = st.config.signals.abuse_window_secs.div_ceil(60);
    Err(ApiError::too_many(
        format!(
            "{made} {} in the last {minutes} minutes is the most allowed; try again later",
            action.plural()
        ),
        st.config.signals.abuse_hop_secs,
    )
    .with_code(ErrorCode::RateLimited))
}

/// Feeds one event to the signals; a failure loses only the signal.
pub async fn record(st: &AppState, event: SignalEvent) {
    if let Err(e) = st.signals.record(std::slice::from_ref(&event)).await {
        tracing::warn!(error = %e, kind = ?event.kind, "signal not recorded");
    }
}

/// An upload, comment or report by `user`, now.
pub async fn record_action(st: &AppState, user: &UserId, action: Action) {
    record(
        st,
        SignalEvent::action(action, user.clone(), photostream_types::now_ms()),
    )
    .await;
}
