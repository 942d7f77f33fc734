#!/usr/bin/env bash
# Installs the Debian packages the build needs (when missing) and obtains the ggml source.
#   setup.sh [fuzz]    fuzz: also clang, its libFuzzer/sanitizer runtimes and python3 (fuzz/run.sh)
set -euo pipefail

PACKAGES=(build-essential cmake git xxd pkg-config ccache
  nlohmann-json3-dev libcpp-httplib-dev libboost-dev libcli11-dev
  libpcre2-dev libutf8proc-dev libgtest-dev libgmock-dev
  json-schema-test-suite)
# libclang-rt-dev: Debian's default clang version's runtimes, libclang_rt.fuzzer among them.
[ "${1:-}" != fuzz ] || PACKAGES+=(clang libclang-rt-dev python3)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from outside Debian; only ask apt for npm when there is none.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q "${missing[@]}" >/dev/null
  }
fi

"$(dirname "$0")/ggml-source.sh" >/dev/null
