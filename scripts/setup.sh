#!/usr/bin/env bash
# Installs the Debian packages the build and tests need (when missing), obtains the ggml source and
# installs the npm package the browser test drives Chromium with.
#   setup.sh [fuzz]    fuzz: also clang, its libFuzzer/sanitizer runtimes and python3 (fuzz/run.sh)
set -euo pipefail

PACKAGES=(build-essential cmake git xxd pkg-config ccache
  nlohmann-json3-dev libcpp-httplib-dev libboost-dev libcli11-dev
  libpcre2-dev libutf8proc-dev libgtest-dev libgmock-dev
  json-schema-test-suite chromium)
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

# The chat page's browser test (tests/app/chat_page_browser.mjs) drives Debian's chromium through
# puppeteer-core, pinned, installed once outside the repository; it downloads no browser. The 24.x
# line runs on Node 18 and 20 (25.x needs Node 22). Without the registry the test skips.
PUPPETEER_VERSION=24.43.1
puppeteer_prefix="${HOME:-}/.cache/rbees-workerd/puppeteer"
if [ -n "${HOME:-}" ] &&
  ! grep -qs "\"version\": \"$PUPPETEER_VERSION\"" "$puppeteer_prefix/node_modules/puppeteer-core/package.json"; then
  echo "installing puppeteer-core@$PUPPETEER_VERSION into $puppeteer_prefix" >&2
  mkdir -p "$puppeteer_prefix"
  timeout 300 npm install --no-audit --no-fund --save-exact --prefix "$puppeteer_prefix" \
    "puppeteer-core@$PUPPETEER_VERSION" >/dev/null 2>&1 ||
    echo "warning: npm could not install puppeteer-core@$PUPPETEER_VERSION; the browser test will skip" >&2
fi
