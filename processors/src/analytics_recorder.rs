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

#[cfg(test)]
mod tests {
    use photostream_pipeline::{Favorited, PhotoUploaded};
    use photostream_testkit::records;
    use photostream_types::{PhotoId, UserId};

    use super::*;

    #[test]
    fn an_upload_becomes_an_upload_event_with_its_size_format_and_tags() {
        let (photo, owner) = (PhotoId::new(), UserId::new());
        let envelope = Envelope::new(
            Record::PhotoUploaded(PhotoUploaded {
                photo_id: photo.clone(),
                owner_id: owner.clone(),
                original_key: "alice/default/original/swans.png".into(),
                format: "png".into(),
                bytes: 1234,
                client_thumbnail_key: None,
                tags: vec!["birds".into()],
            }),
            None,
        );
        let event = event_of(&envelope).expect("an event");
        assert_eq!(event.id, envelope.id, "deduplicated by the record's id");
        assert_eq!(event.kind, EventKind::Upload);
        assert_eq!(event.photo_id, photo);
        assert_eq!((event.user_id, event.owner_id), (Some(owner.clone()), Some(owner)));
        assert_eq!((event.bytes, event.format.as_deref()), (1234, Some("png")));
        assert_eq!(event.tags, vec!["birds".to_string()]);
        assert_eq!(event.at_ms, envelope.at_ms);
    }

    #[test]
    fn a_view_names_its_viewer_if_any() {
        let (photo, owner) = (PhotoId::new(), UserId::new());
        let anonymous = records::viewed(&photo, &owner, None);
        let event = event_of(&anonymous).expect("an event");
        assert_eq!(event.kind, EventKind::View);
        assert_eq!((event.user_id, event.owner_id), (None, Some(owner.clone())));
        assert_eq!((event.bytes, event.format), (0, None));
        let viewer = UserId::new();
        let signed_in = records::viewed(&photo, &owner, Some(&viewer));
        assert_eq!(event_of(&signed_in).unwrap().user_id, Some(viewer));
    }

    #[test]
    fn other_records_are_not_analytics_events() {
        let favorited = Envelope::new(
            Record::Favorited(Favorited { user_id: UserId::new(), photo_id: PhotoId::new() }),
            None,
        );
        assert!(event_of(&favorited).is_none());
        assert!(event_of(&Envelope::new(Record::Unknown, None)).is_none());
    }
}
