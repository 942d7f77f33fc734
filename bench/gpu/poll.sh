#!/usr/bin/env bash
# Waits on the GPU machine for a background serve_job.sh: until MARKER (a line of /tmp/gpu/master.log,
# as a grep pattern) appears, /tmp/gpu/ALLDONE exists, or SECONDS_MAX (540) pass; then prints the log's
# tail and copies what is packed so far (/tmp/gpu/results.tgz) into $OUT, so that every poll brings
# the results back even if the machine is lost before the next one.
#   bash bench/gpu/poll.sh "serve bench rc" [SECONDS_MAX]
set -u
marker=${1:?usage: poll.sh MARKER [SECONDS_MAX]}
limit=${2:-540}
start=$SECONDS
until grep -q -- "$marker" /tmp/gpu/master.log 2>/dev/null || [ -f /tmp/gpu/ALLDONE ] ||
  [ $((SECONDS - start)) -ge "$limit" ]; do
  sleep 5
done
tail -n 60 /tmp/gpu/master.log 2>/dev/null || echo "no /tmp/gpu/master.log"
[ -f /tmp/gpu/ALLDONE ] && echo "ALLDONE"
if [ -n "${OUT:-}" ] && [ -f /tmp/gpu/results.tgz ]; then cp /tmp/gpu/results.tgz "$OUT/"; fi
