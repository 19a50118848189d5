-- Live view counters per owner (owner_id): views in tumbling 1-minute
-- windows, written to the Redis hash ${SIGNALS_PREFIX}:views:owner:{owner_id}
-- (field: the window's end in ms, value: this row as JSON), which
-- ArroyoSignals sums into "last minute" and "last hour" for owner
-- statistics. One sink per pipeline (a shared VIEW feeding two sinks
-- crashed Arroyo's worker), hence one file per scope.
-- ${…} placeholders are filled in by deploy/arroyo/register.sh.

CREATE TABLE views (
    value TEXT NOT NULL,
    ts TIMESTAMP NOT NULL GENERATED ALWAYS AS (
        arrow_cast(COALESCE(CAST(get_first_json_object(value, '$.at_ms') AS BIGINT), 0) * 1000000, 'Timestamp(Nanosecond, None)')),
    WATERMARK FOR ts AS
        arrow_cast(COALESCE(CAST(get_first_json_object(value, '$.at_ms') AS BIGINT), 0) * 1000000, 'Timestamp(Nanosecond, None)') - INTERVAL '1 minute'
) WITH (
    connector = 'nats',
    servers = '${NATS_SERVERS}',
    type = 'source',
    format = 'raw_string',
    stream = '${STREAM_PREFIX}_views',
    'consumer.description' = 'photostream signals: live views per owner'
);

CREATE TABLE live_views_sink (
    owner_id TEXT NOT NULL,
    window_end TEXT NOT NULL,
    views BIGINT NOT NULL
) WITH (
    connector = 'redis',
    type = 'sink',
    format = 'json',
    address = '${REDIS_URL}',
    target = 'hash',
    'target.key_prefix' = '${SIGNALS_PREFIX}:views:owner:',
    'target.key_column' = 'owner_id',
    'target.field_column' = 'window_end'
);

INSERT INTO live_views_sink
SELECT owner_id, CAST(to_unixtime(window.end) * 1000 AS TEXT) AS window_end, views FROM (
    SELECT tumble(INTERVAL '1 minute') AS window, owner_id, COUNT(*) AS views
    FROM (
        SELECT extract_json_string(value, '$.record.owner_id') AS owner_id
        FROM views
        WHERE extract_json_string(value, '$.record.type') = 'photo_viewed'
    )
    WHERE owner_id IS NOT NULL
    GROUP BY window, owner_id
);
