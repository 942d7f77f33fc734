#!/usr/bin/env bash
# GPU benchmark, steps 2 and 3 (same machine, right after prepare.sh). Both sides run REPS times (3 by
# default) and every figure is reported as the median with min-max:
#   measure.sh engine   quantizes to Q8_0 and Q4_0 with llama-quantize, then `llama-bench -r REPS -o json`
#                       against `rbees-workerd bench -r REPS --json` on each file (prefill 512, decode 128,
#                       and for F16 aggregate decode at 1 8 32 64 128 streams); TYPES="f16" for F16 alone
#   measure.sh batched  llama-batched-bench on F16 (REPS separate runs, --output-format jsonl), and
#                       llama-server against `rbees-workerd serve` through HTTP at 1 and 64 streams, REPS
#                       runs per point (bench/http_load.py; identical short prompts), then bench/gpu/report.py
# Raw outputs go to $OUT, else the folder prepare.sh chose (/tmp/rbees-gpu-out).
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out="${OUT:-$(cat /tmp/rbees-gpu-out 2>/dev/null)}"
[ -n "$out" ] || { echo "no OUT and no /tmp/rbees-gpu-out: run prepare.sh first" >&2; exit 2; }
reps=${REPS:-3}
models=/tmp/models
bin=${ANCHOR_BIN:-/tmp/anchor/bin}
ours="$here/build-cuda/rbees-workerd"
mkdir -p "$out"
case "${1:-}" in
engine)
  python3 "$here/bench/results_meta.py" write "$out" repetitions="$reps" prompt_tokens=512 gen_tokens=128 \
    aggregate_streams="[1,8,32,64,128]" aggregate_prompt_tokens=16
  types=${TYPES:-f16 q8_0 q4_0}
  for lq in $types; do
    [ "$lq" = f16 ] && continue
    q=$(echo "$lq" | tr 'a-z' 'A-Z')
    [ -f "$models/llama2-7b-$lq.gguf" ] ||
      "$bin/llama-quantize" "$models/llama2-7b-f16.gguf" "$models/llama2-7b-$lq.gguf" $q >"$out/quantize-$lq.log" 2>&1
  done
  for t in $types; do
    f="$models/llama2-7b-$t.gguf"
    "$bin/llama-bench" -m "$f" -ngl 99 -p 512 -n 128 -r "$reps" -o json >"$out/llama-bench-$t.json" 2>"$out/llama-bench-$t.log"
    echo "llama-bench $t rc=$?"
    streams="1"
    [ $t = f16 ] && streams="1 8 32 64 128"
    "$ours" bench --model "$f" --device cuda:0 --prompt-tokens 512 --gen-tokens 128 --streams $streams -r "$reps" \
      --json >"$out/ours-bench-$t.json" 2>"$out/ours-bench-$t.log"
    echo "ours bench $t rc=$?"
    grep -E "cpu_fallback|graph_placement" "$out/ours-bench-$t.log" | head -n 2
  done
  ;;
batched)
  python3 "$here/bench/results_meta.py" write "$out" repetitions="$reps" batched_prompt_tokens=16 batched_gen_tokens=128 \
    http_streams="[1,64]" http_gen_tokens=128 http_slots=64 workload="identical short prompts"
  f="$models/llama2-7b-f16.gguf"
  for r in $(seq 1 "$reps"); do
    "$bin/llama-batched-bench" -m "$f" -ngl 99 -c 36864 -b 2048 -ub 512 -npp 16 -ntg 128 -npl 1,8,32,64,128 \
      --output-format jsonl >"$out/llama-batched-bench-f16-r$r.jsonl" 2>"$out/llama-batched-bench-f16-r$r.log"
    echo "llama-batched-bench run $r rc=$?"
  done
  "$bin/llama-server" -m "$f" -ngl 99 -np 64 -c $((64 * 512)) --port 8090 >"$out/llama-server.log" 2>&1 &
  ls_pid=$!
  "$ours" serve --model "$f" --device cuda:0 --port 8091 --max-seqs 64 --max-queue 64 --ctx-size $((64 * 512)) \
    >"$out/ours-serve.log" 2>&1 &
  our_pid=$!
  for port in 8090 8091; do
    for i in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 1; done
  done
  python3 "$here/bench/http_load.py" --url http://127.0.0.1:8090 --streams 1,64 --max-tokens 128 -r "$reps" |
    tee "$out/http-llama-server.jsonl" | sed 's/^/llama-server /'
  python3 "$here/bench/http_load.py" --url http://127.0.0.1:8091 --streams 1,64 --max-tokens 128 -r "$reps" |
    tee "$out/http-rbees-workerd.jsonl" | sed 's/^/rbees-workerd /'
  kill $ls_pid $our_pid; wait
  ;;
*) echo "usage: measure.sh engine|batched" >&2; exit 2 ;;
esac
if [ "${1:-}" = batched ]; then python3 "$here/bench/gpu/report.py" "$out"; fi
