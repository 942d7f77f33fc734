#!/usr/bin/env bash
# A short GPU call that traces ours alone (serve --step-trace): builds rbees-workerd only (no
# anchor), writes the random Llama-2-7B-shaped F16 file, then serves the serving benchmark's
# workload at 64 clients (serve_job.sh's slots and context) and at 256 clients (ours with its
# defaults), one run each, every step traced. After each stage everything done so far is packed into
# $OUT/trace.tgz (one file: a call's $OUT brings back only a few files), so a call cut short still
# brings back what was done. Not a throughput comparison: bench/step_costs.py reads the traces.
set -u
O=/tmp/trace-out
mkdir -p "$O"
t0=$(date +%s)
el() {
  echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$O/log.txt"
  [ -n "${OUT:-}" ] && tar -C "$O" -czf "$OUT/trace.tgz.part" . && mv "$OUT/trace.tgz.part" "$OUT/trace.tgz"
}
bash bench/gpu/build_ours.sh "$O/build.log" rbees-workerd rbees-make-random-gguf
el "built rc=$?"
M=/tmp/llama2-7b-f16.gguf
build-cuda/rbees-make-random-gguf --shape llama2-7b --vocab-from .carry/vocab-llama2.gguf --out "$M" --type f16 \
  >"$O/model.log" 2>&1
el "model written rc=$?"
# label clients requests seed [serve options]
trace() {
  local label=$1 clients=$2 n=$3 seed=$4
  shift 4
  build-cuda/rbees-workerd serve --model "$M" --device cuda:0 --port 18290 --max-queue 512 \
    --step-trace "$O/steps-$label.jsonl" "$@" >"$O/$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do curl -sf http://127.0.0.1:18290/health >"$O/health-$label.json" && break; sleep 0.5; done
  timeout 120 python3 bench/serve_bench.py --url http://127.0.0.1:18290 --label "$label" \
    --tokenizer-url http://127.0.0.1:18290 --corpus .carry/war-and-peace.txt --prompt-tokens 100:1000 \
    --max-tokens 64:256 --seed "$seed" --num-requests "$n" --concurrency "$clients" --out "$O/$label.json.gz" \
    >"$O/console-$label.txt" 2>&1
  el "$label rc=$? $(grep -m1 'tok/s' "$O/console-$label.txt")"
  grep -E '^(TTFT|TPOT) ' "$O/console-$label.txt" | tee -a "$O/log.txt"
  kill $pid
  wait $pid
}
# TRACES: runs separated by ';', each "label clients requests seed [serve options]"; by default the
# 64-client point (serve_job.sh's slots and context) and the 256-client one (ours with its defaults).
TRACES=${TRACES:-"c64 64 160 1 --max-seqs 64 --ctx-size 98304 --threads 2; c256 256 384 2"}
IFS=';' read -ra runs <<<"$TRACES"
for r in "${runs[@]}"; do
  # shellcheck disable=SC2086 # each run's words are its arguments
  trace $r
done
el done
