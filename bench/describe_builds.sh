#!/usr/bin/env bash
# Says what the two sides of a benchmark are.
#   describe_builds.sh ANCHOR_BIN_DIR OURS_BINARY [BASELINE_BINARY]   for the raw-output folder's
#       builds.txt: the anchor's build options as its CMake cache holds them and the ggml/llama
#       libraries it loads (none for an empty ANCHOR_BIN_DIR), then our binary's version and build
#       options (and those of another build of ours it was measured against)
#   describe_builds.sh --label ANCHOR_BIN_DIR       one line for the report: $ANCHOR_LABEL, else what
#       bench/build-anchor.sh builds, with the options that decide the CPU kernels
if [ "$1" = --label ]; then
  cache="$2/../CMakeCache.txt"
  opts=$(grep -oE '^(GGML_LLAMAFILE|GGML_OPENMP|GGML_CUDA|LLAMA_USE_SYSTEM_GGML):BOOL=[A-Za-z]+' "$cache" 2>/dev/null |
    sed 's/:BOOL//' | paste -sd ' ')
  label=${ANCHOR_LABEL:-}
  if [ -z "$label" ] && grep -q '^LLAMA_USE_SYSTEM_GGML:BOOL=ON' "$cache" 2>/dev/null; then
    label="llama.cpp linked against an external ggml build (not its own defaults)"
  fi
  echo "${label:-llama.cpp from the pinned snapshot with its own default options (bench/build-anchor.sh)} [${opts:-no CMake cache found}]"
  exit 0
fi
anchor=$1
ours=$2
baseline=${3:-}
keys='CMAKE_BUILD_TYPE|BUILD_SHARED_LIBS|LLAMA_USE_SYSTEM_GGML|GGML_(NATIVE|LLAMAFILE|OPENMP|CPU_REPACK|CUDA|BLAS)|CMAKE_CUDA_ARCHITECTURES'
if [ -n "$anchor" ]; then
  echo "anchor: $anchor"
  grep -E "^($keys):" "$anchor/../CMakeCache.txt" 2>/dev/null
  "$anchor/llama-server" --version 2>&1 | tail -n 2
  ldd "$anchor/llama-bench" 2>/dev/null | grep -iE 'ggml|llama|omp'
fi
for side in ours baseline; do
  exe=${!side}
  [ -n "$exe" ] || continue
  echo "$side: $exe"
  "$exe" --version 2>&1
  grep -E "^(CMAKE_BUILD_TYPE|RBEES_[A-Z_]+|GGML_(NATIVE|LLAMAFILE|OPENMP|CUDA)|CMAKE_CUDA_ARCHITECTURES):" \
    "$(dirname "$exe")/CMakeCache.txt" 2>/dev/null
done
exit 0
