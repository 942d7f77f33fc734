#!/usr/bin/env bash
# Exits 0 when LeakSanitizer can run here: it stops the process's threads with ptrace, which some
# containers forbid (then every sanitized program would fail at exit with "LeakSanitizer has
# encountered a fatal error").
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'int main() { return 0; }\n' >"$dir/t.c"
cc -fsanitize=address "$dir/t.c" -o "$dir/t" 2>/dev/null || exit 1
ASAN_OPTIONS=detect_leaks=1 "$dir/t" >/dev/null 2>&1
