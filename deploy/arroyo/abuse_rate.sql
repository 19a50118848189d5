-- Abuse rate: ${ACTION}s per user (uploads and comments, one pipeline
-- each, see pipelines.txt) over a sliding 10-minute window, a new
-- window every minute, written to the Redis hash
-- ${SIGNALS_PREFIX}:rate:${ACTION}:{window_end_ms} (field: user id, value:
-- this row as JSON with n). The API refuses a user's next ${ACTION} with 429
-- rate_limited once n reaches signals.${ACTION}s_per_window. Reports are not
-- on the stream (the catalog records them): their rate is counted in-process.
-- ${…} placeholders are filled in by deploy/arroyo/register.sh.

-- source: photos

CREATE TABLE rate_sink (
    window_end TEXT NOT NULL,
    user_id TEXT NOT NULL,
    n BIGINT NOT NULL
) WITH (
    connector = 'redis',
    type = 'sink',
    format = 'json',
    address = '${REDIS_URL}',
    target = 'hash',
    'target.key_prefix' = '${SIGNALS_PREFIX}:rate:${ACTION}:',
    'target.key_column' = 'window_end',
    'target.field_column' = 'user_id'
);

INSERT INTO rate_sink
SELECT CAST(to_unixtime(window.end) * 1000 AS TEXT) AS window_end, user_id, n FROM (
    SELECT hop(INTERVAL '1 minute', INTERVAL '10 minute') AS window, user_id, COUNT(*) AS n
    FROM (
        SELECT extract_json_string(value, '$.record.${USER_FIELD}') AS user_id
        FROM photos
        WHERE extract_json_string(value, '$.record.type') = '${RECORD_TYPE}'
    )
    WHERE user_id IS NOT NULL
    GROUP BY window, user_id
);
