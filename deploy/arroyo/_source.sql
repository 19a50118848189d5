-- A source table over one of photostream's streams (${TABLE}: `views` or
-- `photos`, the topic of the same name): the JSON envelope as text, its
-- event time `at_ms` as `ts`, and a watermark one minute behind (the
-- lateness of docs/streaming-sql.md). A pipeline template names the tables
-- it reads with a line `-- source: TABLE`, which registration replaces with
-- this text (Arroyo wants every pipeline to declare its own sources).
-- The event time is spelled in both places: Arroyo does not let the
-- watermark refer to a generated column.
CREATE TABLE ${TABLE} (
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
    stream = '${STREAM_PREFIX}_${TABLE}',
    'consumer.description' = 'photostream signals: ${PIPELINE} (${TABLE})'
);
