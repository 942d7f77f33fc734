#!/usr/bin/env bash
# CPU benchmark against llama.cpp on the same random-weight TinyLlama-1.1B-shaped GGUF files (F16 and
# Q8_0), the same machine and thread count, in one run:
#   - engine level: `rbees-workerd bench` against `llama-bench` (prefill and single-stream decode)
#   - HTTP: `rbees-workerd serve --max-seqs 8` against `llama-server -np 8` (same slots and context),
#     aggregate decode at 1, 4, 8, 16 concurrent streams through /v1/completions (bench/http_load.py)
# Usage: bench/cpu_bench.sh [PROMPT_TOKENS] [GEN_TOKENS]    (defaults 128 and 32: a 2-core machine)
# Prebuilt binaries (e.g. on the GPU machine, run with CUDA_VISIBLE_DEVICES= so both stay on the CPU):
#   OURS=path/rbees-workerd MAKE_GGUF=path/rbees-make-random-gguf ANCHOR_BIN=dir VOCAB=file.gguf OUT_DIR=dir
#   (RBEES_COMMIT=hash names the commit in the report where the copy's git history is stale)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
pp=${1:-128}
tg=${2:-32}
threads=${THREADS:-$(nproc)}
cache="${RBEES_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rbees-workerd}"
models="$cache/bench-models"
out="${OUT_DIR:-$here/bench/out}"
mkdir -p "$models" "$out"
build="${BUILD:-$here/build}"
if [ -n "${OURS:-}" ]; then
  ours="$OURS"
  make_gguf="$MAKE_GGUF"
else
  ours="$build/rbees-workerd"
  make_gguf="$build/rbees-make-random-gguf"
  cmake --build "$build" --target rbees-workerd rbees-make-random-gguf -j"$(nproc)" >/dev/null
fi
bin=${ANCHOR_BIN:-$("$here/bench/build-anchor.sh" 2>"$out/anchor-build.log" | tail -n 1)}
vocab="${VOCAB:-$here/../shared/models/llama-2-tiny-random.gguf}"
[ -f "$models/tinyllama-f16.gguf" ] || "$make_gguf" --shape tinyllama-1.1b --vocab-from "$vocab" \
  --out "$models/tinyllama-f16.gguf" --type f16
[ -f "$models/tinyllama-q8_0.gguf" ] ||
  "$bin/llama-quantize" "$models/tinyllama-f16.gguf" "$models/tinyllama-q8_0.gguf" Q8_0 >"$out/quantize.log" 2>&1

wait_health() { for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 1; done; return 1; }
for t in f16 q8_0; do
  f="$models/tinyllama-$t.gguf"
  "$bin/llama-bench" -m "$f" -t "$threads" -p "$pp" -n "$tg" -r 2 -o json >"$out/llama-bench-$t.json" 2>/dev/null
  "$ours" bench --model "$f" --threads "$threads" --prompt-tokens "$pp" --gen-tokens "$tg" --streams 1 -r 2 \
    >"$out/ours-bench-$t.txt" 2>/dev/null
  "$bin/llama-server" -m "$f" -t "$threads" -np 8 -c $((8 * 256)) --port 18090 >"$out/llama-server-$t.log" 2>&1 &
  pid=$!
  wait_health 18090 && python3 "$here/bench/http_load.py" --url http://127.0.0.1:18090 --streams 1,4,8,16 \
    --max-tokens "$tg" >"$out/http-llama-server-$t.jsonl"
  kill $pid; wait $pid 2>/dev/null
  "$ours" serve --model "$f" --threads "$threads" --max-seqs 8 --ctx-size $((8 * 256)) --port 18091 \
    >"$out/ours-serve-$t.log" 2>&1 &
  pid=$!
  wait_health 18091 && python3 "$here/bench/http_load.py" --url http://127.0.0.1:18091 --streams 1,4,8,16 \
    --max-tokens "$tg" >"$out/http-ours-$t.jsonl"
  kill $pid; wait $pid 2>/dev/null
done
python3 "$here/bench/cpu_report.py" "$out" "$threads" "$pp" "$tg"
