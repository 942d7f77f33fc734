#!/usr/bin/env bash
# Soak: runs a worker under a steady mix of requests for SECONDS (default 600), samples its resident
# memory (VmRSS from /proc/PID/status) every SOAK_INTERVAL seconds, and compares the memory after a
# warm-up with the memory at the end. Exits 1 when it grew by SOAK_MAX_GROWTH_PCT percent or more,
# when a request failed, or when the worker died or did not stop cleanly on SIGTERM.
#
#   scripts/soak.sh [SECONDS]
#
# Environment: RBEES_BINARY (default build/rbees-workerd), SOAK_MODEL (default: the embedded model),
# SOAK_CLIENTS (concurrent request loops, default 4), SOAK_INTERVAL (default 5), SOAK_WARMUP
# (seconds, default a quarter of SECONDS), SOAK_MAX_GROWTH_PCT (default 5), SOAK_CSV (where the
# samples go; default a temporary file, kept and named at the end), SOAK_THREADS (default 1),
# SOAK_ARGS (more worker options; default "--ctx-size 1024").
#
# The KV cache is allocated at start, but its pages become resident only as its cells are first
# written, so resident memory grows with the cells used until the whole cache has been (24 MB for
# the embedded model's default 8192 cells). The default cache of 1024 cells is used whole during the
# warm-up, so that what grows after it is not the cache.
#
# The mix, per client, over and over: a streamed /execute (greedy, 48 tokens), a /v1/completions,
# a streamed /v1/chat/completions, an /execute cancelled through /cancel after its first token, an
# /execute whose client disconnects mid-stream, /tokenize, /health and /metrics.
#
# The figure compared is the median of three samples, right after the warm-up and at the end, so
# that one sample taken mid-allocation does not decide.
set -euo pipefail

SECONDS_TOTAL=${1:-600}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RBEES_BINARY:-$ROOT/build/rbees-workerd}
CLIENTS=${SOAK_CLIENTS:-4}
INTERVAL=${SOAK_INTERVAL:-5}
WARMUP=${SOAK_WARMUP:-$((SECONDS_TOTAL / 4))}
MAX_GROWTH=${SOAK_MAX_GROWTH_PCT:-5}
THREADS=${SOAK_THREADS:-1}
read -r -a extra_args <<<"${SOAK_ARGS---ctx-size 1024}"
WORK=$(mktemp -d /tmp/rbees-soak-XXXXXX)
CSV=${SOAK_CSV:-$WORK/rss.csv}

[ -x "$BIN" ] || { echo "soak: no worker binary at $BIN (set RBEES_BINARY)" >&2; exit 2; }
command -v curl >/dev/null || { echo "soak: curl is needed" >&2; exit 2; }

model_args=()
[ -n "${SOAK_MODEL:-}" ] && model_args=(--model "$SOAK_MODEL")

"$BIN" serve --port 0 --threads "$THREADS" --log-format text "${model_args[@]}" "${extra_args[@]}" \
  2>"$WORK/worker.log" &
PID=$!
loops=()
cleanup() {
  for p in "${loops[@]}"; do kill "$p" 2>/dev/null || true; done
  kill -KILL "$PID" 2>/dev/null || true
}
trap cleanup EXIT

PORT=
for _ in $(seq 1 300); do
  PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$WORK/worker.log" | head -n 1)
  [ -n "$PORT" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/worker.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$PORT" ] || { echo "soak: the worker did not open its port" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && break
  sleep 0.1
done

END=$(($(date +%s) + SECONDS_TOTAL))

# One client: the mix above until END; one line per request into its outcome file ("ok" or why not).
client() {
  local id=$1 n=0 out="$WORK/client-$1.out"
  local prompts=("The old count" "Prince Andrew looked at the sky" "Natasha" "It was in July, 1805, and")
  while [ "$(date +%s)" -lt "$END" ]; do
    n=$((n + 1))
    local p=${prompts[$((n % ${#prompts[@]}))]}
    local job="soak-$id-$n"
    local body
    body=$(curl -sN --max-time 120 "$URL/execute" -H 'Content-Type: application/json' \
      -d "{\"job_id\":\"$job\",\"prompt\":\"$p\",\"max_tokens\":48,\"temperature\":0}" || true)
    [[ $body == *"event: end"* ]] && echo ok >>"$out" || echo "execute: ${body: -200}" >>"$out"

    body=$(curl -s --max-time 120 "$URL/v1/completions" -H 'Content-Type: application/json' \
      -d "{\"prompt\":\"$p\",\"max_tokens\":32,\"logprobs\":2}" || true)
    [[ $body == *'"finish_reason"'* ]] && echo ok >>"$out" || echo "completions: ${body: -200}" >>"$out"

    body=$(curl -sN --max-time 120 "$URL/v1/chat/completions" -H 'Content-Type: application/json' \
      -d "{\"messages\":[{\"role\":\"user\",\"content\":\"$p\"}],\"max_tokens\":32,\"stream\":true}" || true)
    [[ $body == *"[DONE]"* ]] && echo ok >>"$out" || echo "chat: ${body: -200}" >>"$out"

    # Cancelled after its first token.
    local cjob="$job-c"
    (sleep 0.3; curl -s --max-time 30 "$URL/cancel" -H 'Content-Type: application/json' \
      -d "{\"job_id\":\"$cjob\"}" >/dev/null || true) &
    body=$(curl -sN --max-time 120 "$URL/execute" -H 'Content-Type: application/json' \
      -d "{\"job_id\":\"$cjob\",\"prompt\":\"$p\",\"max_tokens\":400,\"temperature\":0.8}" || true)
    wait
    [[ $body == *"CANCELLED"* || $body == *"event: end"* ]] && echo ok >>"$out" || echo "cancel: ${body: -200}" >>"$out"

    # The client goes away mid-stream (curl's time limit closes the connection).
    curl -sN --max-time 0.2 "$URL/execute" -H 'Content-Type: application/json' \
      -d "{\"job_id\":\"$job-d\",\"prompt\":\"$p\",\"max_tokens\":400}" >/dev/null 2>&1 || true
    echo ok >>"$out"

    body=$(curl -s --max-time 30 "$URL/tokenize" -H 'Content-Type: application/json' -d "{\"content\":\"$p\"}" || true)
    [[ $body == *'"tokens"'* ]] && echo ok >>"$out" || echo "tokenize: ${body: -200}" >>"$out"
    curl -s --max-time 30 -o /dev/null "$URL/metrics" || true
    [ "$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && echo ok >>"$out" ||
      echo "health" >>"$out"
  done
}

for i in $(seq 1 "$CLIENTS"); do
  client "$i" &
  loops+=($!)
done

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0; }
START=$(date +%s)
echo "seconds,rss_kb" >"$CSV"
while [ "$(date +%s)" -lt "$END" ]; do
  kill -0 "$PID" 2>/dev/null || { echo "soak: the worker died" >&2; tail -n 20 "$WORK/worker.log" >&2; exit 1; }
  echo "$(($(date +%s) - START)),$(rss_kb)" >>"$CSV"
  sleep "$INTERVAL"
done
echo "$(($(date +%s) - START)),$(rss_kb)" >>"$CSV"
for p in "${loops[@]}"; do wait "$p" || true; done
loops=()

# The worker stops cleanly.
kill -TERM "$PID"
code=0
wait "$PID" || code=$?
trap - EXIT

requests=$(cat "$WORK"/client-*.out 2>/dev/null | wc -l)
failures=$(grep -hv '^ok$' "$WORK"/client-*.out 2>/dev/null | wc -l || true)

# Median of three samples: the first three at or after the warm-up, and the last three.
read -r warm_kb end_kb samples < <(awk -F, -v w="$WARMUP" '
  NR > 1 { t[n] = $1; r[n] = $2; n++ }
  function med(a, b, c) { return (a <= b) ? ((b <= c) ? b : ((a <= c) ? c : a)) : ((a <= c) ? a : ((b <= c) ? c : b)) }
  END {
    i = 0; while (i < n && t[i] < w) i++
    if (i > n - 3) i = (n > 3) ? n - 3 : 0
    print med(r[i], r[i + 1], r[i + 2]), med(r[n - 3], r[n - 2], r[n - 1]), n
  }' "$CSV")
growth=$(awk -v a="$warm_kb" -v b="$end_kb" 'BEGIN { printf "%.2f", (a > 0) ? 100 * (b - a) / a : 0 }')
peak=$(awk -F, 'NR > 1 && $2 > m { m = $2 } END { print m }' "$CSV")

echo "soak: ${SECONDS_TOTAL} s, ${CLIENTS} clients, ${requests} requests, ${failures} failed"
echo "soak: RSS after ${WARMUP} s warm-up ${warm_kb} kB, at the end ${end_kb} kB, peak ${peak} kB, growth ${growth}% (limit ${MAX_GROWTH}%), ${samples} samples in ${CSV}"
echo "soak: worker exit code on SIGTERM: ${code}"
if [ "$failures" -gt 0 ]; then
  grep -hv '^ok$' "$WORK"/client-*.out | sort | uniq -c | head -n 10 >&2
fi
status=0
awk -v g="$growth" -v m="$MAX_GROWTH" 'BEGIN { exit !(g >= m) }' && { echo "soak: FAIL: memory grew ${growth}%" >&2; status=1; }
[ "$failures" -eq 0 ] || { echo "soak: FAIL: ${failures} requests failed" >&2; status=1; }
[ "$code" -eq 0 ] || { echo "soak: FAIL: the worker exited with ${code}" >&2; status=1; }
[ "$status" -eq 0 ] && echo "soak: PASS"
exit "$status"
