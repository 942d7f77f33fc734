#!/usr/bin/env bash
# CPU benchmark against llama.cpp on the same random-weight TinyLlama-1.1B-shaped GGUF files (F16, and
# Q8_0 by llama-quantize), the same machine and thread count:
#   - engine level: `rbees-workerd bench --json -r N` against `llama-bench -r N -o json` (prefill of a
#     PP-token prompt, single-stream decode of TG tokens)
#   - HTTP: `rbees-workerd serve --max-seqs SLOTS` against `llama-server -np SLOTS` (same slots and
#     context), aggregate decode at STREAMS concurrent streams through /v1/completions, N runs per point
#     (bench/http_load.py; every stream sends the same short prompt, TG tokens each, ignore_eos)
# The anchor is llama.cpp built from the pinned snapshot with its own default options
# (bench/build-anchor.sh). Both sides run N times; every figure is the median with min-max.
# Raw outputs (as the tools print them) and logs: bench/results/<date>-<machine>-<commit>/cpu/
# (bench/results_meta.py names it); at the end bench/cpu_report.py prints the table.
#
# Usage: bench/cpu_bench.sh        the issue-19 workload: PP=128 TG=32 REPS=5 STREAMS=8,16 SLOTS=8
# Settings (environment): PP TG REPS STREAMS SLOTS THREADS (default: all cores) TYPES ("f16 q8_0")
#   OURS_ARGS: extra options for our bench and serve (e.g. --batch-invariant), named in the report
# Prebuilt binaries (e.g. on a GPU machine, run with CUDA_VISIBLE_DEVICES= so both stay on the CPU):
#   OURS=path/rbees-workerd MAKE_GGUF=path/rbees-make-random-gguf ANCHOR_BIN=dir VOCAB=file.gguf
#   ANCHOR_LABEL="..." says what ANCHOR_BIN is when it is not build-anchor.sh's default build (e.g. one
#   linked against our ggml build); RESULT_DIR=dir, MACHINE=name, RBEES_COMMIT=hash (see results_meta.py).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
pp=${PP:-128}
tg=${TG:-32}
reps=${REPS:-5}
streams=${STREAMS:-8,16}
slots=${SLOTS:-8}
types=${TYPES:-f16 q8_0}
read -r -a ours_args <<<"${OURS_ARGS:-}"
threads=${THREADS:-$(nproc)}
ctx=$((slots * 256))
cache="${RBEES_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rbees-workerd}"
models="$cache/bench-models"
out=$(python3 "$here/bench/results_meta.py" dir cpu)
mkdir -p "$models"
rm -f "$out/meta.json"  # a run again on the same day and commit starts its description afresh
echo "raw outputs: $out" >&2
start=$(date +%s)

build="${BUILD:-$here/build}"
if [ -n "${OURS:-}" ]; then
  ours="$OURS"
  make_gguf="${MAKE_GGUF:-$(dirname "$OURS")/rbees-make-random-gguf}"
else
  ours="$build/rbees-workerd"
  make_gguf="$build/rbees-make-random-gguf"
  cmake --build "$build" --target rbees-workerd rbees-make-random-gguf -j"$(nproc)" >"$out/ours-build.log" 2>&1
fi
if [ -n "${ANCHOR_BIN:-}" ]; then
  bin="$ANCHOR_BIN"
else
  bin=$("$here/bench/build-anchor.sh" 2>"$out/anchor-build.log" | tail -n 1)
fi
for tool in llama-bench llama-server llama-quantize; do
  [ -x "$bin/$tool" ] || { echo "no $tool in $bin (see $out/anchor-build.log)" >&2; exit 1; }
done
[ -x "$ours" ] || { echo "no rbees-workerd at $ours" >&2; exit 1; }

"$here/bench/describe_builds.sh" "$bin" "$ours" >"$out/builds.txt"
anchor_label=$("$here/bench/describe_builds.sh" --label "$bin")

vocab="${VOCAB:-$here/../shared/models/llama-2-tiny-random.gguf}"
[ -f "$models/tinyllama-f16.gguf" ] || "$make_gguf" --shape tinyllama-1.1b --vocab-from "$vocab" \
  --out "$models/tinyllama-f16.gguf" --type f16 >"$out/make-gguf.log" 2>&1
[ -f "$models/tinyllama-q8_0.gguf" ] ||
  "$bin/llama-quantize" "$models/tinyllama-f16.gguf" "$models/tinyllama-q8_0.gguf" Q8_0 >"$out/quantize.log" 2>&1

python3 "$here/bench/results_meta.py" write "$out" benchmark=cpu threads="$threads" prompt_tokens="$pp" \
  gen_tokens="$tg" repetitions="$reps" http_streams="[$streams]" slots="$slots" ctx_size="$ctx" \
  types="\"$types\"" model_shape=tinyllama-1.1b anchor_label="\"$anchor_label\"" \
  workload="identical short prompts" statistic="median, min-max" ours_args="\"${OURS_ARGS:-}\""

pid=""
stop_server() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
trap stop_server EXIT
wait_health() { for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 1; done; return 1; }
# http_load.py against the server on port $1, its JSON lines into $2 (a failed start leaves a note).
http_runs() {
  if wait_health "$1"; then
    python3 "$here/bench/http_load.py" --url "http://127.0.0.1:$1" --streams "$streams" --max-tokens "$tg" \
      --repetitions "$reps" >"$2"
  else
    echo "server on port $1 did not become healthy" >&2
  fi
}

for t in $types; do
  f="$models/tinyllama-$t.gguf"
  echo "$t: llama-bench" >&2
  "$bin/llama-bench" -m "$f" -t "$threads" -p "$pp" -n "$tg" -r "$reps" -o json \
    >"$out/llama-bench-$t.json" 2>"$out/llama-bench-$t.log"
  echo "$t: rbees-workerd bench" >&2
  "$ours" bench --model "$f" --threads "$threads" --prompt-tokens "$pp" --gen-tokens "$tg" --streams 1 \
    -r "$reps" --json "${ours_args[@]}" >"$out/ours-bench-$t.json" 2>"$out/ours-bench-$t.log"
  echo "$t: llama-server" >&2
  "$bin/llama-server" -m "$f" -t "$threads" -np "$slots" -c "$ctx" --port 18090 >"$out/llama-server-$t.log" 2>&1 &
  pid=$!
  http_runs 18090 "$out/http-llama-server-$t.jsonl"
  stop_server
  echo "$t: rbees-workerd serve" >&2
  "$ours" serve --model "$f" --threads "$threads" --max-seqs "$slots" --ctx-size "$ctx" --port 18091 \
    "${ours_args[@]}" >"$out/ours-serve-$t.log" 2>&1 &
  pid=$!
  http_runs 18091 "$out/http-ours-$t.jsonl"
  stop_server
done
python3 "$here/bench/results_meta.py" write "$out" duration_s="$(($(date +%s) - start))"
python3 "$here/bench/cpu_report.py" "$out"
