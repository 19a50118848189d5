#!/bin/sh
# Registers the signal pipelines (deploy/arroyo/*.sql) with a running Arroyo
# cluster: fills in the ${…} placeholders from the environment and POSTs
# each file as one pipeline (one sink per pipeline), skipping pipelines that
# already exist by name. docker-compose.yml runs it once Arroyo is up.
#
#   ARROYO_URL      http://arroyo:5115        the Arroyo API
#   NATS_SERVERS    nats:4222                 where photostream's stream is
#   STREAM_PREFIX   photostream               photostream's stream_prefix
#   REDIS_URL       redis://redis:6379        where the API reads signals
#   SIGNALS_PREFIX  photostream:signals       signals.redis_prefix
set -eu
: "${ARROYO_URL:=http://arroyo:5115}"
: "${NATS_SERVERS:=nats:4222}"
: "${STREAM_PREFIX:=photostream}"
: "${REDIS_URL:=redis://redis:6379}"
: "${SIGNALS_PREFIX:=photostream:signals}"
# NATS stream names replace '-' with '_' (pipeline::NatsLog).
STREAM_PREFIX=$(printf '%s' "$STREAM_PREFIX" | tr '-' '_')
dir=$(dirname "$0")

until curl -fsS "$ARROYO_URL/api/v1/pipelines" > /tmp/pipelines.json; do
  echo "waiting for Arroyo at $ARROYO_URL"; sleep 2
done
for sql in "$dir"/*.sql; do
  name="photostream-signals-$(basename "$sql" .sql)"
  if grep -q "\"name\":\"$name\"" /tmp/pipelines.json; then
    echo "$name: already registered"; continue
  fi
  query=$(sed -e "s|\${NATS_SERVERS}|$NATS_SERVERS|g" -e "s|\${STREAM_PREFIX}|$STREAM_PREFIX|g" \
              -e "s|\${REDIS_URL}|$REDIS_URL|g" -e "s|\${SIGNALS_PREFIX}|$SIGNALS_PREFIX|g" "$sql")
  # JSON-escape the query with what a busybox image has (no jq).
  escaped=$(printf '%s' "$query" | awk 'BEGIN { ORS = "" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); if (NR > 1) print "\\n"; print }')
  body="{\"name\":\"$name\",\"query\":\"$escaped\",\"parallelism\":1}"
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$body" "$ARROYO_URL/api/v1/pipelines" > /dev/null
  echo "$name: registered"
done
