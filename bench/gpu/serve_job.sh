#!/usr/bin/env bash
# One GPU session's serving measurements, run on the GPU machine in the background (setsid) from a
# checkout that carries .carry/ (scripts/gpu/prepare-carry.sh): builds ours and the anchor's
# llama-server side by side, writes the random Llama-2-7B-shaped F16 file, then, most needed first:
#   0. the attention op alone in serving shapes (rbees-attention-bench, into attention/; SKIP_ATTENTION=1 skips),
#   1. constrained decoding (bench/gpu/constrained_job.sh, when present; ours only, short),
#   2. the serving benchmark, ours with its defaults against llama-server, 64 and 16 clients, RUNS runs,
#   3. ours with its defaults (KV cache and slots sized for the GPU) at 256 clients, then EXTRA, then
#      prefill (step 5), then MORE256,
#   4. ours at 64 clients with --profile-ops (one run, not a throughput figure: each op is waited for),
#   5. prefill speed by graph size (`rbees-workerd bench --max-graph-tokens G`, a prompt of each of
#      PREFILL_TOKENS' lengths, default 2048, in one chunk), for each PREFILL_OPTS entry
#      ("label:options;...", default "defaults:"),
#   6. ours alone at 64 clients with other graph and chunk sizes (VARIANTS),
#   7. ours at 256 clients with SEQS (160) slots,
#   8. other traffic against llama-server: open loop at RATES, a shared opening of PREFIX tokens.
# Shorter sessions: GRAPHS, CLIENTS, VARIANTS (graph:chunk pairs), SKIP_160=1, SKIP_PROFILE=1,
# SKIP_ANCHOR=1 (ours alone in step 2, no anchor build: for a session that compares ours with itself),
# EXTRA="OPTIONS" (after step 3's defaults: ours alone at 64 clients with those serve options, an A/B),
# N256 (requests of the 256-client runs, 384: 1.5 per client, so the first prompts' burst and the
# tail weigh a third of the run), N256_LONG (a second defaults run at 256 clients with that many
# requests, e.g. 1024, for the steady state), SKIP_SERVE=1 (no step 2),
# SKIP_PREFILL=1, SKIP_VARIANTS=1, T256 (the 256-client runs' client timeout, 150 s),
# MORE256="label:options;label:options" (after step 3: ours at 256 clients with those options),
# SAMPLED256="label:options;..." (after MORE256: the same, the clients sampling at temperature 0.8),
# GPU_TESTS="gtest filter" (model_tests built with ours and run on cuda:0 first; War and Peace from
# .carry for the tests that read it), IDENTICAL=1 (after step 2: the identical-prompt figures of
# bench/gpu/measure.sh on F16, `engine` and `batched`, into gpu/; builds llama-bench and
# llama-batched-bench with the anchor), TRACE64=1 (after step 3's defaults: one 64-client run of ours with --step-trace, into trace/),
# RATES="4,8" (step 8: open-loop points at these request rates on 64 slots, into serve-open/),
# PREFIX=N (step 8: 64 clients, every prompt opening with the same ~N tokens, into serve-shared-prefix/),
# OURS_ARGS="OPTIONS" (ours' serve options in steps 2 and 3, e.g. to
# fall back from a default that failed the GPU tests).
# Progress: /tmp/gpu/master.log; /tmp/gpu/results.tgz holds what is done so far after each step and
# everything once /tmp/gpu/ALLDONE exists. bench/gpu/poll.sh waits for a step and copies it to $OUT.
set -u
R=/tmp/gpu
mkdir -p "$R"
exec >"$R/master.log" 2>&1
here=$(pwd)
# The machine's label in meta.json and the results folder's name, from the card the job runs on.
case "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)" in
*H100*) machine=nvidia-h100 ;;
*) machine=nvidia-h200 ;;
esac
export RBEES_COMMIT=${RBEES_COMMIT:-unknown} MACHINE=$machine
runs=${RUNS:-3}
t0=$(date +%s)
el() { echo "[$(($(date +%s) - t0)) s] $*"; }
el "start in $here, commit $RBEES_COMMIT"
mkdir -p /tmp/llama-src
tar -C /tmp/llama-src -xJf .carry/llama-src.tar.xz && touch /tmp/llama-src/llama.cpp-nlc-3.22.1/.rbees-complete
export RBEES_CACHE_DIR=/tmp/llama-src
src=/tmp/llama-src/llama.cpp-nlc-3.22.1
[ -n "${SKIP_ANCHOR:-}" ] && echo "anchor rc=skipped" >"$R/anchor.rc"
[ -n "${SKIP_ANCHOR:-}" ] || (cmake -S "$src" -B /tmp/anchor -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_OPENSSL=OFF -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -G Ninja >"$R/anchor-build.log" 2>&1 &&
  cmake --build /tmp/anchor -j16 --target llama-server $([ -n "${IDENTICAL:-}" ] && echo llama-bench llama-batched-bench) \
    >>"$R/anchor-build.log" 2>&1
 echo "anchor rc=$?" >"$R/anchor.rc") &
carry="$here/.carry"
cmake -S "$here" -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DRBEES_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DRBEES_TESTS=$([ -n "${GPU_TESTS:-}" ] && echo ON || echo OFF) -DRBEES_GGML_DIR="$src/ggml" \
  -DRBEES_HTTPLIB_SOURCE_DIR="$src/vendor/cpp-httplib" \
  -DCMAKE_PREFIX_PATH="$carry/deps/usr" -DCMAKE_INCLUDE_PATH="$carry/deps/usr/include" \
  -DCMAKE_LIBRARY_PATH="$carry/deps/usr/lib/x86_64-linux-gnu" >"$R/build.log" 2>&1
targets="rbees-workerd rbees-make-random-gguf rbees-attention-bench $([ -n "${GPU_TESTS:-}" ] && echo model_tests)"
# shellcheck disable=SC2086
cmake --build build-cuda -j16 --target $targets >>"$R/build.log" 2>&1 || {
  # Two CUDA builds side by side (ours and the anchor's) can run the machine out of memory in nvcc;
  # ninja resumes where it stopped, with fewer jobs.
  grep -E -A6 "FAILED|error:|Killed" "$R/build.log" | head -n 20
  el "ours build failed once, resuming with 6 jobs"
  cmake --build build-cuda -j6 --target $targets >>"$R/build.log" 2>&1
}
el "ours built rc=$?"
tail -n 5 "$R/build.log"
mkdir -p /tmp/models
M=/tmp/models/llama2-7b-f16.gguf
build-cuda/rbees-make-random-gguf --shape llama2-7b --vocab-from .carry/vocab-llama2.gguf --out "$M" --type f16 \
  >"$R/model.log" 2>&1
el "model written rc=$?"
ours=build-cuda/rbees-workerd


# What is done so far, for a poll to fetch.
pack() {
  cp "$0" "$R/serve_job.sh" 2>/dev/null
  (cd "$R" && tar czf results.tgz.part --ignore-failed-read $(ls -d gpu attention prefill serve serve-* trace serve256 constrained profile \
    master.log build.log anchor-build.log gpu-tests.log serve_job.sh 2>/dev/null) && mv results.tgz.part results.tgz)
}

wait
el "$(cat $R/anchor.rc)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
if [ -n "${GPU_TESTS:-}" ]; then
  mkdir -p "$here/../shared/data" && cp .carry/war-and-peace.txt "$here/../shared/data/"
  RBEES_TEST_DEVICE=cuda:0 build-cuda/tests/model_tests --gtest_brief=1 --gtest_filter="$GPU_TESTS" >"$R/gpu-tests.log" 2>&1
  el "gpu tests rc=$?"
  grep -E '^\[  (PASSED|FAILED|SKIPPED)|Failure|actual' "$R/gpu-tests.log" | head -n 30
fi
if [ -z "${SKIP_ATTENTION:-}" ]; then
  # The attention op alone in serving shapes: prompt chunks whole and in halves, decode steps padded
  # with placeholder streams and not (bench/attention_bench.cpp). Seconds.
  mkdir -p "$R/attention"
  build-cuda/rbees-attention-bench --device cuda:0 --reps 50 >"$R/attention/attention.txt" 2>"$R/attention/attention.log"
  el "attention bench rc=$?"
  cat "$R/attention/attention.txt"
  pack
fi
if [ -f bench/gpu/constrained_job.sh ] && [ -z "${SKIP_CONSTRAINED:-}" ]; then
  mkdir -p "$R/constrained"
  MODEL="$M" OURS="$ours" OUTDIR="$R/constrained" bash bench/gpu/constrained_job.sh >"$R/constrained/console.txt" 2>&1
  el "constrained rc=$?"
  tail -n 12 "$R/constrained/console.txt"
  pack
fi
# bench/serve_bench.sh on this machine's model, builds and corpus: FOLDER (under $R) and LOG (under $R),
# then the benchmark's own options. The 64-client points share the serving benchmark's workload.
gpu_serve() {
  local dir=$1 log=$2
  shift 2
  mkdir -p "$R/$dir"
  bash bench/serve_bench.sh --device cuda:0 --model "$M" --anchor-bin /tmp/anchor/bin --ours "$ours" \
    --corpus .carry/war-and-peace.txt --machine "$machine" --out "$R/$dir" "$@" >"$R/$log" 2>&1
}
w64=(--prompt-tokens 100:1000 --ctx-per-slot 1536 --num-requests 160)
[ -n "${SKIP_SERVE:-}" ] && CLIENTS=none
servers=ours,llama-server
[ -z "${SKIP_ANCHOR:-}" ] || servers=ours
[ "${CLIENTS:-}" = none ] || gpu_serve serve serve-bench.log --servers $servers --clients "${CLIENTS:-64,16}" "${w64[@]}" \
  --runs "$runs" --ours-args "${OURS_ARGS:-}"
el "serve bench rc=$?"
tail -n 30 "$R/serve-bench.log"
pack

if [ -n "${IDENTICAL:-}" ]; then
  # The identical-prompt figures (single stream against llama-bench, aggregate decode against
  # llama-batched-bench, HTTP at 1 and 64 streams), F16 only.
  mkdir -p "$R/gpu"
  bench/describe_builds.sh /tmp/anchor/bin "$ours" >"$R/gpu/builds.txt" 2>&1
  python3 bench/results_meta.py write "$R/gpu" benchmark=gpu gpu="\"$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)\"" \
    model_shape=llama2-7b anchor_label="\"$(bench/describe_builds.sh --label /tmp/anchor/bin)\"" statistic="median, min-max"
  OUT="$R/gpu" TYPES=f16 REPS="$runs" bash bench/gpu/measure.sh engine >"$R/gpu/console-engine.txt" 2>&1
  el "identical engine rc=$?"
  OUT="$R/gpu" REPS="$runs" bash bench/gpu/measure.sh batched >"$R/gpu/console-batched.txt" 2>&1
  el "identical batched rc=$?"
  tail -n 40 "$R/gpu/console-batched.txt"
  pack
fi

mkdir -p "$R/serve256"
# Ours at 256 clients: label, then extra serve options (none: its defaults, KV cache and slots sized
# for the GPU).
serve256() {
  local label=$1
  shift
  $ours serve --model "$M" --device cuda:0 --port 18290 --max-queue 512 "$@" >"$R/serve256/$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do curl -sf http://127.0.0.1:18290/health >"$R/serve256/health-$label.json" && break; sleep 0.5; done
  cat "$R/serve256/health-$label.json"
  echo
  timeout ${T256:-150} python3 bench/serve_bench.py --url http://127.0.0.1:18290 --label "$label" \
    --tokenizer-url http://127.0.0.1:18290 --corpus .carry/war-and-peace.txt --prompt-tokens 100:1000 \
    --max-tokens 64:256 --seed 2 --num-requests ${n256:-${N256:-384}} --concurrency 256 --out "$R/serve256/$label-c256.json.gz" \
    ${bench256:-} >"$R/serve256/console-$label.txt" 2>&1
  el "256 clients, $label rc=$?"
  tail -n 8 "$R/serve256/console-$label.txt"
  kill $pid
  wait $pid
}
# shellcheck disable=SC2086
serve256 ours-defaults ${OURS_ARGS:-}
if [ -n "${TRACE64:-}" ]; then
  # One traced run at 64 clients (step 2's slots and context, seed 1): bench/step_costs.py reads it.
  mkdir -p "$R/trace"
  # shellcheck disable=SC2086
  $ours serve --model "$M" --device cuda:0 --port 18290 --max-queue 512 --max-seqs 64 --ctx-size 98304 --threads 2 \
    --step-trace "$R/trace/steps-c64.jsonl" ${OURS_ARGS:-} >"$R/trace/c64.log" 2>&1 &
  tpid=$!
  for _ in $(seq 1 300); do curl -sf http://127.0.0.1:18290/health >/dev/null && break; sleep 0.5; done
  timeout 120 python3 bench/serve_bench.py --url http://127.0.0.1:18290 --label c64 \
    --tokenizer-url http://127.0.0.1:18290 --corpus .carry/war-and-peace.txt --prompt-tokens 100:1000 \
    --max-tokens 64:256 --seed 1 --num-requests 160 --concurrency 64 --out "$R/trace/c64.json.gz" \
    >"$R/trace/console-c64.txt" 2>&1
  el "trace c64 rc=$? $(grep -m1 'tok/s' "$R/trace/console-c64.txt")"
  kill $tpid
  wait $tpid
fi
if [ -n "${N256_LONG:-}" ]; then
  # The same with more requests per client: the steady state, less of the first burst and the drain.
  # shellcheck disable=SC2086
  n256=$N256_LONG serve256 "ours-defaults-n$N256_LONG" ${OURS_ARGS:-}
fi
pack

if [ -n "${EXTRA:-}" ]; then
  # Ours alone at 64 clients with other options (EXTRA, e.g. "--decode-buckets off"): an A/B against
  # step 2's defaults on the same machine.
  gpu_serve serve-extra serve-extra.log --servers ours --clients 64 "${w64[@]}" --runs "$runs" --ours-args "$EXTRA"
  el "extra ($EXTRA) rc=$?"
  tail -n 12 "$R/serve-extra.log"
  pack
fi

mkdir -p "$R/prefill"
[ -n "${SKIP_PREFILL:-}" ] && GRAPHS=none
IFS=';' read -ra prefill_opts <<<"${PREFILL_OPTS:-defaults:}"
for g in ${GRAPHS:-2048 4096}; do
  [ "$g" = none ] && break
  for pt in ${PREFILL_TOKENS:-2048}; do
    for po in "${prefill_opts[@]}"; do
      pl=${po%%:*}
      f="$R/prefill/graph-$g-$pl"
      [ "$pt" = 2048 ] || f="$R/prefill/graph-$g-p$pt-$pl"
      # shellcheck disable=SC2086
      $ours bench --model "$M" --device cuda:0 --prompt-tokens "$pt" --prefill-chunk "$pt" --gen-tokens 16 --streams 1 \
        -r "$runs" --json --max-graph-tokens $g ${po#*:} >"$f.json" 2>"$f.log"
      el "prefill graph $g prompt $pt $pl rc=$? $(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["prefill"], j["decode"]["median_ts"])' "$f.json" 2>&1 | cut -c1-300)"
    done
  done
done
pack

IFS=';' read -ra more256 <<<"${MORE256:-}"
for m in "${more256[@]}"; do
  # shellcheck disable=SC2086
  serve256 "ours-${m%%:*}" ${m#*:}
  pack
done
# The same clients sampling (temperature 0.8, a seed per request): SAMPLED256="label:options;...".
IFS=';' read -ra sampled256 <<<"${SAMPLED256:-}"
for m in "${sampled256[@]}"; do
  # shellcheck disable=SC2086
  bench256="--temperature 0.8" serve256 "ours-sampled-${m%%:*}" ${m#*:}
  pack
done


if [ -z "${SKIP_PROFILE:-}" ]; then
  # Where the steps' device time goes, op by op. Each op is waited for alone: the throughput of this
  # run is not a figure.
  gpu_serve profile profile/console.txt --servers ours --clients 64 "${w64[@]}" --runs 1 --ours-args "--profile-ops"
  el "profile rc=$?"
  grep -h "engine_op_profile\|engine_totals" "$R"/profile/*.log | cut -c1-2000
  pack
fi

[ -n "${SKIP_VARIANTS:-}" ] && VARIANTS=none
for v in ${VARIANTS:-"4096:0"}; do
  [ "$v" = none ] && break
  g=${v%%:*} c=${v##*:}
  gpu_serve "serve-g$g-c$c" "serve-g$g-c$c.log" --servers ours --clients 64 "${w64[@]}" --runs 1 \
    --ours-args "--max-graph-tokens $g --prefill-chunk $c"
  el "variant graph $g chunk $c rc=$?"
  tail -n 12 "$R/serve-g$g-c$c.log"
done
pack

# More slots than the defaults choose: does batching more sequences pay?
[ -n "${SKIP_160:-}" ] || serve256 "ours-${SEQS:-160}seqs" --max-seqs "${SEQS:-160}"
grep -h engine_totals "$R"/serve/*.log "$R"/serve-extra/*.log "$R"/serve-g*/*.log "$R"/serve256/ours-*.log | cut -c1-600
pack

# Last, for what time is left: other kinds of traffic against llama-server.
if [ -n "${RATES:-}" ]; then
  # Open loop: requests arriving at each rate (Poisson) on 64 slots, whatever is still running.
  gpu_serve serve-open serve-open-bench.log --servers $servers --clients '' --slots 64 --rates "$RATES" "${w64[@]}" \
    --runs "$runs" --ours-args "${OURS_ARGS:-}"
  el "open-loop bench rc=$?"
  tail -n 30 "$R/serve-open-bench.log"
  pack
fi

if [ -n "${PREFIX:-}" ]; then
  # Every prompt opens with the same slice of about PREFIX tokens (a system prompt), 64 clients.
  gpu_serve serve-shared-prefix serve-prefix-bench.log --servers $servers --clients 64 --shared-prefix "$PREFIX" \
    --prompt-tokens 100:500 --ctx-per-slot 1536 --num-requests 160 --runs "$runs" --ours-args "${OURS_ARGS:-}"
  el "shared-prefix bench rc=$?"
  tail -n 30 "$R/serve-prefix-bench.log"
  pack
fi
el "done"
touch "$R/ALLDONE"
