#!/bin/sh
# Registers the signal pipelines (deploy/arroyo/pipelines.txt: a template
# and its variables per pipeline) with a running Arroyo cluster: fills in the
# ${…} placeholders and POSTs each as one pipeline (one sink per pipeline),
# skipping pipelines that already exist by name. docker-compose.yml runs it once Arroyo is up.
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
# A template with its sources in: each `-- source: TABLE` line becomes
# _source.sql (its comments left out) for that table.
expand() {
  while IFS= read -r line; do
    case "$line" in
      "-- source: "*) grep -v '^--' "$dir/_source.sql" | sed "s|\${TABLE}|${line#-- source: }|g" ;;
      *) printf '%s\n' "$line" ;;
    esac
  done < "$dir/$1"
}
grep -v '^#' "$dir/pipelines.txt" | while read -r pipeline template vars; do
  [ -n "$pipeline" ] || continue
  name="photostream-signals-$pipeline"
  if grep -q "\"name\":\"$name\"" /tmp/pipelines.json; then
    echo "$name: already registered"; continue
  fi
  query=$(expand "$template")
  for kv in $vars PIPELINE="$pipeline" NATS_SERVERS="$NATS_SERVERS" STREAM_PREFIX="$STREAM_PREFIX" \
            REDIS_URL="$REDIS_URL" SIGNALS_PREFIX="$SIGNALS_PREFIX"; do
    query=$(printf '%s\n' "$query" | sed "s|\${${kv%%=*}}|${kv#*=}|g")
  done
  # JSON-escape the query with what a busybox image has (no jq).
  escaped=$(printf '%s' "$query" | awk 'BEGIN { ORS = "" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); if (NR > 1) print "\\n"; print }')
  body="{\"name\":\"$name\",\"query\":\"$escaped\",\"parallelism\":1}"
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$body" "$ARROYO_URL/api/v1/pipelines" > /dev/null
  echo "$name: registered"
done
