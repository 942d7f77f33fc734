#!/usr/bin/env bash
# Host time per sampled token: rbees-sampler-bench of this build against the same benchmark built
# with BASELINE's sampler (src/sampling/ at that commit), same rows, repetitions and statistic, one
# after the other on this machine; raw outputs and meta.json into
# bench/results/<date>-<machine>-<commit>/sampler/ (bench/make_results.py renders them).
#   bench/sampler_bench.sh BASELINE [rbees-sampler-bench options, e.g. --reps 9]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
base=${1:?usage: sampler_bench.sh BASELINE_COMMIT [options]}
shift
bin=${BUILD:-$here/build}/rbees-sampler-bench
[ -x "$bin" ] || {
  echo "no $bin: build it first (make build)" >&2
  exit 2
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/sampling" "$tmp/src/core"
# The sampler's sources and the core headers it may include (the exponential), as they were.
for f in $(git -C "$here" ls-tree --name-only "$base" src/sampling/ src/core/); do
  case "$f" in src/sampling/* | src/core/*.hpp) git -C "$here" show "$base:$f" >"$tmp/$f" ;; esac
done
# The flags CMakeLists.txt gives each file (row_weights.cpp and candidate_selection.cpp have their
# own, where the baseline has them).
objs=()
for f in "$tmp"/src/sampling/*.cpp; do
  extra=()
  case "$(basename "$f")" in
  row_weights.cpp | candidate_selection.cpp) extra=(-ffp-contract=off -march=native -mno-fma) ;;
  esac
  g++ -std=c++20 -O3 -DNDEBUG -I"$tmp/src" "${extra[@]}" -c "$f" -o "$f.o"
  objs+=("$f.o")
done
g++ -std=c++20 -O3 -DNDEBUG -I"$tmp/src" "$here/bench/sampler_bench.cpp" "${objs[@]}" -o "$tmp/before"
out=$(python3 "$here/bench/results_meta.py" dir sampler)
"$tmp/before" "$@" >"$out/before.txt"
"$bin" "$@" >"$out/this.txt"
python3 "$here/bench/results_meta.py" write "$out" baseline_commit="$(git -C "$here" rev-parse --short "$base")" \
  options="\"$*\"" workload="\"Rows of normal(0, 3) logits, 200 distinct rows per repetition, seed 42.\"" \
  statistic="\"median, min-max\""
cat "$out/before.txt" "$out/this.txt"
echo "raw outputs: $out"
