#!/usr/bin/env bash
# One load shape against a fresh dynowatch on Postgres, then SIGTERM or
# kill -9, then what it stored against what it acknowledged: the README's
# "Many apps, dynos and H-code storms" figures, one row per run.
#
#   go build -o /tmp/dw . && scripts/shape.sh /tmp/dw 200x50 200 50 0 60s TERM
#   scripts/shape.sh /tmp/dw storm 200 4 23 20s KILL
#
# usage: shape.sh BIN NAME APPS DYNOS HCODES DURATION TERM|KILL [loadgen flags]
# Needs createdb/dropdb/psql for a Postgres on 127.0.0.1:5432 (user postgres);
# the database dw_shape_NAME is dropped and made anew. Logs go to $OUT.
set -euo pipefail
if [ $# -lt 7 ]; then sed -n '2,12p' "$0"; exit 2; fi
BIN=$1 NAME=$2 APPS=$3 DYNOS=$4 HC=$5 DUR=$6 SIG=$7
shift 7
PORT=${PORT:-5155}
OUT=${OUT:-/tmp/dynowatch-shapes}
mkdir -p "$OUT"
DB=dw_shape_$NAME
dropdb -h 127.0.0.1 -U postgres --if-exists "$DB"
createdb -h 127.0.0.1 -U postgres "$DB"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
DRAIN_SECRET=s DASHBOARD_PASSWORD=pw METRICS_PUBLIC=true PORT=$PORT "$BIN" >"$OUT/$NAME.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
	sleep 0.3
done
HC_ARG=()
[ "$HC" != 0 ] && HC_ARG=(-hcodes "$HC")
SETTLE=10s
[ "$SIG" = KILL ] && SETTLE=0s # kill -9 right as the load ends: what is not flushed yet is lost
"$BIN" loadgen -url "http://dynowatch:s@127.0.0.1:$PORT/drain/st" -duration "$DUR" -apps "$APPS" -dynos "$DYNOS" "${HC_ARG[@]}" \
	-store "$DATABASE_URL" -metrics "http://127.0.0.1:$PORT/metrics" -settle "$SETTLE" -watch-pid "$PID" "$@" | tee "$OUT/$NAME.out"
ACK=$(grep -o 'acknowledged [0-9]*' "$OUT/$NAME.out" | grep -o '[0-9]*' | head -1)
T0=$(date +%s.%N)
kill "-$SIG" "$PID"
RC=0
wait "$PID" || RC=$?
T1=$(date +%s.%N)
STORED=$(psql "$DATABASE_URL" -tAc "SELECT coalesce(sum(messages),0) FROM apps WHERE name LIKE 'st-%' OR name = 'st'")
BATCHES=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM dedupe_keys")
awk -v n="$NAME" -v a="$APPS" -v d="$DYNOS" -v h="$HC" -v s="$SIG" -v rc="$RC" -v t0="$T0" -v t1="$T1" \
	-v ack="$ACK" -v st="$STORED" -v b="$BATCHES" 'BEGIN {
	printf "RESULT %s apps=%s dynos=%s hcodes=%s sig=%s exit=%s stop=%.2fs acknowledged=%s stored=%s (%.1f%%) committed_batches=%s\n",
		n, a, d, h, s, rc, t1 - t0, ack, st, (ack > 0 ? 100 * st / ack : 0), b
}'
