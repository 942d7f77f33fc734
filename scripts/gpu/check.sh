#!/usr/bin/env bash
# On the GPU machine: builds with CUDA and runs the model's checkpoint and greedy-parity tests and the
# engine's concurrency tests on cuda:0. Logs go to $OUT (or /tmp) and a summary to stdout.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out="${OUT:-/tmp/rbees-gpu}"
mkdir -p "$out"
t0=$(date +%s)
if [ -x "$here/build-cuda/rbees-workerd" ] && [ "${REBUILD:-1}" = 0 ]; then
  build="$here/build-cuda"
  rc=0
else
  build=$("$here/scripts/gpu/build.sh" "$here/build-cuda" 2>"$out/build.log" | tail -n 1)
  rc=$?
fi
echo "build rc=$rc in $(( $(date +%s) - t0 )) s"
[ $rc -eq 0 ] || { tail -n 40 "$out/build.log"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$build/rbees-workerd" --version
export RBEES_TEST_DEVICE=cuda:0
for t in model_tests engine_tests; do
  bin=$(find "$build" -name "$t" -type f | head -n 1)
  [ -n "$bin" ] || { echo "$t: not built"; continue; }
  "$bin" --gtest_brief=1 --gtest_output="json:$out/$t.json" >"$out/$t.log" 2>&1
  echo "$t rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/$t.log" | tr '\n' ' ')"
  grep -E '^\[  FAILED  \]|^\[ near tie \]' "$out/$t.log" | head -n 20
done
