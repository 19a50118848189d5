//! Turns stream records into analytics events (deduplicated by event id).

use std::sync::Arc;

use async_trait::async_trait;
use photostream_analytics::{Analytics, AnalyticsEvent, EventKind};
use photostream_pipeline::{Envelope, Record};

use crate::{ProcessError, Processor};

pub struct AnalyticsRecorder {
    analytics: Arc<dyn Analytics>,
    name: &'static str,
}

impl AnalyticsRecorder {
    /// The recorder of the `photos` topic (uploads, favorites, …).
    pub fn new(analytics: Arc<dyn Analytics>) -> Self {
        Self { analytics, name: "analytics" }
    }

    /// The recorder of the `views` topic: a consumer group of its own, so
    /// views never queue behind (or ahead of) the lifecycle records.
    pub fn for_views(analytics: Arc<dyn Analytics>) -> Self {
        Self { analytics, name: "analytics-views" }
    }
}

#[async_trait]
impl Processor for AnalyticsRecorder {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError> {
        self.handle_batch(std::slice::from_ref(envelope)).await
    }

    /// Analytics may lag by a second; ClickHouse wants about one insert per
    /// second per table, not one per record or per 200 ms (each insert is a
    /// part to merge: at 300 views/s, 200 ms batches kept ClickHouse at a
    /// third of a core in the load benchmark). 5,000 events are about 2 MB.
    fn batch_size(&self) -> usize {
        5000
    }

    fn batch_wait(&self, default: std::time::Duration) -> std::time::Duration {
        default.max(std::time::Duration::from_secs(1))
    }

    /// One write per batch: ClickHouse wants few, large inserts.
    async fn handle_batch(&self, envelopes: &[Envelope]) -> Result<(), ProcessError> {
        let events: Vec<AnalyticsEvent> = envelopes.iter().filter_map(event_of).collect();
        self.analytics.record(&events).await.map_err(ProcessError::transient)
    }
}

fn event_of(envelope: &Envelope) -> Option<AnalyticsEvent> {
    {
        let event = match &envelope.record {
            Record::PhotoUploaded(r) => AnalyticsEvent {
                id: envelope.id.clone(),
                kind: EventKind::Upload,
                photo_id: r.photo_id.clone(),
                user_id: Some(r.owner_id.clone()),
                owner_id: Some(r.owner_id.clone()),
                at_ms: envelope.at_ms,
                bytes: r.bytes as i64,
                format: Some(r.format.clone()),
                tags: r.tags.clone(),
            },
            Record::PhotoViewed(r) => AnalyticsEvent {
                id: envelope.id.clone(),
                kind: EventKind::View,
                photo_id: r.photo_id.clone(),
                user_id: r.viewer_id.clone(),
                owner_id: Some(r.owner_id.clone()),
                at_ms: envelope.at_ms,
                bytes: 0,
                format: None,
                tags: vec![],
            },
            _ => return None,
        };
        Some(event)
    }
}
