#!/usr/bin/env bash
# Runs each libFuzzer target for a given time and prints its figures (executions, coverage, features,
# crashes). Builds the targets first (clang, -DRBEES_FUZZ=ON) and seeds the corpora when missing.
#
#   fuzz/run.sh [SECONDS_PER_TARGET (default 30)] [TARGET...]
#
# Environment: BUILD (default build-fuzz), JOBS (build parallelism, default 2), NO_BUILD=1 (use the
# targets as built).
# Corpora grow in $BUILD/corpus/<target>; crashing inputs land in $BUILD/artifacts/<target>/.
# Each target's result is written as soon as it ends, to $BUILD/results/<target>.ok or .failed (the
# folder is emptied first), so that a run stopped from outside still tells which targets failed.
# Exits 1 when any target found a crash, leak or timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-30}
shift || true
BUILD=${BUILD:-build-fuzz}
ALL=(safetensors_fuzz gguf_fuzz hf_config_fuzz tokenizer_json_fuzz tokenizer_codec_fuzz chat_template_fuzz request_body_fuzz)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
rm -rf "$BUILD/results"
mkdir -p "$BUILD/results"

if [ -z "${NO_BUILD:-}" ]; then
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRBEES_FUZZ=ON -DRBEES_TESTS=OFF \
      -DRBEES_BENCH_TOOLS=OFF >/dev/null
  fi
  cmake --build "$BUILD" -j"${JOBS:-2}" --target "${TARGETS[@]}" rbees-make-gguf-seed >/dev/null
fi

if [ ! -f "$BUILD/corpus/.seeded" ]; then
  python3 fuzz/seed_corpus.py "$BUILD" "$BUILD/corpus"
  touch "$BUILD/corpus/.seeded"
fi

dict_for() {
  case $1 in
    chat_template_fuzz) echo fuzz/dicts/jinja.dict ;;
    hf_config_fuzz) echo fuzz/dicts/config.dict ;;
    tokenizer_json_fuzz) echo fuzz/dicts/tokenizer.dict ;;
    request_body_fuzz | safetensors_fuzz) echo fuzz/dicts/json.dict ;;
  esac
}
max_len_for() {
  case $1 in
    gguf_fuzz | safetensors_fuzz) echo 131072 ;;
    tokenizer_json_fuzz) echo 65536 ;;
    *) echo 16384 ;;
  esac
}

failed=0
printf '%-22s %8s %12s %8s %8s %7s %s\n' target seconds executions cov ft crashes result
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts/$t" "$BUILD/logs"
  log="$BUILD/logs/$t.log"
  dict=$(dict_for "$t")
  start=$(date +%s)
  set +e
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$BUILD/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=2560 \
    -max_len="$(max_len_for "$t")" -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t/" \
    ${dict:+-dict=$dict} "$BUILD/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "rc $rc, see $log" >"$BUILD/results/$t.failed"
  else
    : >"$BUILD/results/$t.ok"
  fi
  secs=$(($(date +%s) - start))
  # A target that failed early may have printed no figures: they show as '?', and the run goes on.
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -n 1 || true)
  last=$(grep -E '#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(grep -c 'Test unit written to' "$log" || true)
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (rc $rc, see $log)"
    failed=1
  fi
  printf '%-22s %8s %12s %8s %8s %7s %s\n' "$t" "$secs" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes" "$result"
done
exit $failed
