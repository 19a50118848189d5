-- Live view counters per ${SCOPE} (${KEY}: per photo and per owner, one
-- pipeline each, see pipelines.txt): views in tumbling 1-minute windows,
-- written to the Redis hash ${SIGNALS_PREFIX}:views:${SCOPE}:{${KEY}}
-- (field: the window's end in ms, value: this row as JSON), which
-- ArroyoSignals sums into "last minute" and "last hour" for owner
-- statistics. One sink per pipeline (a shared VIEW feeding two sinks
-- crashed Arroyo's worker), hence one pipeline per scope.
-- ${…} placeholders are filled in by deploy/arroyo/register.sh.

-- source: views

CREATE TABLE live_views_sink (
    ${KEY} TEXT NOT NULL,
    window_end TEXT NOT NULL,
    views BIGINT NOT NULL
) WITH (
    connector = 'redis',
    type = 'sink',
    format = 'json',
    address = '${REDIS_URL}',
    target = 'hash',
    'target.key_prefix' = '${SIGNALS_PREFIX}:views:${SCOPE}:',
    'target.key_column' = '${KEY}',
    'target.field_column' = 'window_end'
);

INSERT INTO live_views_sink
SELECT ${KEY}, CAST(to_unixtime(window.end) * 1000 AS TEXT) AS window_end, views FROM (
    SELECT tumble(INTERVAL '1 minute') AS window, ${KEY}, COUNT(*) AS views
    FROM (
        SELECT extract_json_string(value, '$.record.${KEY}') AS ${KEY}
        FROM views
        WHERE extract_json_string(value, '$.record.type') = 'photo_viewed'
    )
    WHERE ${KEY} IS NOT NULL
    GROUP BY window, ${KEY}
);
