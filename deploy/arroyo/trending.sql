-- Trending for explore: favorites (weight 1.0) and views (weight 0.1) per
-- photo over a sliding 1-hour window, a new window every minute, each event
-- decayed linearly with its age at the window's end:
--
--   score = Σ w · (1 − (end − t) / 1 h)
--         = Σ w − (end · Σ w − Σ w·t) / 1 h          (t, end in seconds)
--
-- so two plain sums per window give the exact decayed score. Top 100 per
-- window go to the Redis hash ${SIGNALS_PREFIX}:trending:{window_end_ms}
-- (field: photo id, value: this row as JSON), read by ArroyoSignals.
-- The same numbers are [signals] in config/photostream.toml: change both.
-- ${…} placeholders are filled in by deploy/arroyo/register.sh.

-- source: views

-- source: photos

CREATE TABLE trending_sink (
    window_end TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    score DOUBLE NOT NULL,
    events BIGINT NOT NULL,
    rank BIGINT NOT NULL
) WITH (
    connector = 'redis',
    type = 'sink',
    format = 'json',
    address = '${REDIS_URL}',
    target = 'hash',
    'target.key_prefix' = '${SIGNALS_PREFIX}:trending:',
    'target.key_column' = 'window_end',
    'target.field_column' = 'photo_id'
);

-- Both event kinds as one stream, in a VIEW: Arroyo cannot group a bare
-- UNION ALL ("KeyCalculationExtension should have exactly one input"), but
-- materialises a view as one operator, which it can. One sink reads it.
CREATE VIEW trending_events AS
SELECT extract_json_string(value, '$.record.photo_id') AS photo_id,
       0.1 AS w,
       CAST(get_first_json_object(value, '$.at_ms') AS DOUBLE) / 1000.0 AS t
FROM views
WHERE extract_json_string(value, '$.record.type') = 'photo_viewed'
UNION ALL
SELECT extract_json_string(value, '$.record.photo_id') AS photo_id,
       1.0 AS w,
       CAST(get_first_json_object(value, '$.at_ms') AS DOUBLE) / 1000.0 AS t
FROM photos
WHERE extract_json_string(value, '$.record.type') = 'favorited';

INSERT INTO trending_sink
SELECT window_end, photo_id, score, events, rank FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY window ORDER BY score DESC, photo_id) AS rank
    FROM (
        SELECT
            window,
            CAST(to_unixtime(window.end) * 1000 AS TEXT) AS window_end,
            photo_id,
            w_sum - (to_unixtime(window.end) * w_sum - wt_sum) / 3600.0 AS score,
            events
        FROM (
            SELECT
                hop(INTERVAL '1 minute', INTERVAL '1 hour') AS window,
                photo_id,
                SUM(w) AS w_sum,
                SUM(w * t) AS wt_sum,
                COUNT(*) AS events
            FROM trending_events
            WHERE photo_id IS NOT NULL
            GROUP BY window, photo_id
        )
    )
) WHERE rank <= 100;
