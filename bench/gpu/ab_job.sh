#!/usr/bin/env bash
# A short GPU call comparing ours with itself under different serve options, one GPU session, no
# anchor: builds rbees-workerd alone (the random Llama-2-7B-shaped F16 file written meanwhile), then
# for each of ROUNDS rounds serves every AB entry ("label:options;label:options", alternating within
# the round) at 256 clients (ours' defaults otherwise, 384 requests, seed 2: serve_job.sh step 3) and
# at 64 clients (serve_job.sh step 2's slots and context, 160 requests, seed 1) when C64=1.
# AB='defaults:' ROUNDS=1 is ours with its defaults alone at 256 clients.
# After each stage everything so far is packed into $OUT/ab.tgz (one file: a call brings back only a
# few), so a call cut short still returns what finished.
# Run from a checkout that carries .carry/ (scripts/gpu/prepare-carry.sh).
set -u
O=/tmp/ab
mkdir -p "$O"
t0=$(date +%s)
el() {
  echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$O/ab.log"
  [ -n "${OUT:-}" ] && tar -C "$O" -czf "$OUT/ab.tgz.part" . && mv "$OUT/ab.tgz.part" "$OUT/ab.tgz"
}
el "start, commit ${RBEES_COMMIT:-unknown}"
mkdir -p /tmp/models
bash bench/gpu/build_ours.sh "$O/build.log" rbees-make-random-gguf
M=/tmp/models/llama2-7b-f16.gguf
build-cuda/rbees-make-random-gguf --shape llama2-7b --vocab-from .carry/vocab-llama2.gguf --out "$M" --type f16 \
  >"$O/model.log" 2>&1 &
bash bench/gpu/build_ours.sh "$O/build.log" rbees-workerd
el "built rc=$?"
wait
el "model written"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$O/ab.log"
# label clients requests seed [serve options]
serve() {
  local label=$1 clients=$2 n=$3 seed=$4
  shift 4
  build-cuda/rbees-workerd serve --model "$M" --device cuda:0 --port 18290 --max-queue 512 "$@" >"$O/$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18290/health >"$O/health-$label.json" && break; sleep 0.5; done
  timeout 90 python3 bench/serve_bench.py --url http://127.0.0.1:18290 --label "$label" \
    --tokenizer-url http://127.0.0.1:18290 --corpus .carry/war-and-peace.txt --prompt-tokens 100:1000 \
    --max-tokens 64:256 --seed "$seed" --num-requests "$n" --concurrency "$clients" --out "$O/$label.json.gz" \
    >"$O/console-$label.txt" 2>&1
  el "$label rc=$? $(grep -m1 'tok/s' "$O/console-$label.txt")"
  kill $pid
  wait $pid
}
IFS=';' read -ra ab <<<"${AB:?AB=label:options;label:options}"
for r in $(seq 1 "${ROUNDS:-2}"); do
  for e in "${ab[@]}"; do
    # shellcheck disable=SC2086 # the entry's options are words
    serve "${e%%:*}-c256-r$r" 256 384 2 ${e#*:}
  done
  [ -n "${C64:-}" ] || continue
  for e in "${ab[@]}"; do
    # shellcheck disable=SC2086
    serve "${e%%:*}-c64-r$r" 64 160 1 --max-seqs 64 --ctx-size 98304 --threads 2 ${e#*:}
  done
done
el done
