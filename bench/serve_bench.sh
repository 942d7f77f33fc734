#!/usr/bin/env bash
# Serving benchmark: `rbees-workerd serve` against llama-server (llama.cpp's own, the anchor) on the same
# GGUF, slots, per-slot context and threads, one after the other in one run, at each client count, with
# the same request list (bench/serve_bench.py: distinct corpus prompts, streaming, ignore_eos), closed loop
# at each client count and, with --rates, open loop at each Poisson request rate.
# Raw outputs (workload, one JSON per server, client count and run with every request, server logs,
# meta.json) go to bench/results/<YYYY-MM-DD>-<machine>-<shortcommit>/serve/, and bench/serve_report.py
# then prints the markdown table (also serve.md there) and writes the plot (serve.svg).
#
# Defaults are the CPU target workload of issue 14: the embedded model's F16 GGUF, 2 threads, 8 clients
# (and 1, 4, 16 for the plot), prompts 100 to 700 tokens, 64 to 256 out, 1024 context per slot, slots =
# clients, 64 requests per point, 2 runs; under 10 minutes on 2 cores. GPU: --device cuda:0 (llama-server
# then gets -ngl 999), e.g. (llama-server built by bench/build-anchor.sh -DGGML_CUDA=ON):
#   bench/serve_bench.sh --device cuda:0 --model /tmp/models/llama2-7b-f16.gguf --anchor-bin /tmp/anchor/bin \
#     --ours build-cuda/rbees-workerd --clients 16,64 --prompt-tokens 100:1000 --ctx-per-slot 1536 --num-requests 256
# Options (default):
#   --model FILE (../shared/models/wp-llama-5m-f16.gguf)  --device cpu|cuda:N (cpu)  --threads N (2)
#   --clients LIST (1,4,8,16; '' for none)  --slots N|auto (auto: slots = clients, servers restarted per count)
#   --rates LIST (none) open-loop points: requests arrive at these rates (per second, Poisson, 'inf': all at
#       once) whatever is still running, on a server with --slots slots (auto: the largest client count) that
#       queues every request; files <server>-q<rate>-r<run>.json.gz
#   --ctx-per-slot N (1024)  --prompt-tokens A:B (100:700)  --max-tokens A:B (64:256)  --num-requests N (64)
#   --runs N (2)  --seed N (1)  --servers LIST (ours,llama-server)  --ours BIN (build/rbees-workerd)
#   --anchor-bin DIR ($ANCHOR_BIN, else bench/build-anchor.sh's)  --corpus FILE (../shared/data/war-and-peace.txt)
#   --machine NAME ($MACHINE, else CPU model and cores, e.g. amd-epyc-2c)  --out DIR ($RESULT_DIR)  --port N (18190)
#   --shared-prefix N (0) every prompt opens with the same slice of about N tokens (a system prompt)
#   --temperature T (0: greedy) the requests' temperature; with nothing else of sampling set, each server
#       applies its defaults for the rest (llama-server's top-k 40, top-p 0.95, min-p 0.05; ours' none)
#   --top-p P  --top-k K  --min-p M  the requests' truncations, the same for every server
#   --ours-args "ARGS" (none: ours with its defaults) extra options for rbees-workerd serve, recorded in meta.json
#   --ours-baseline BIN  another build of ours, run as server `ours-baseline` with the same options (the
#       servers then default to ours,ours-baseline: this build against that one, no llama-server)
# $RBEES_COMMIT names the commit where the tree's git history is not the one built (a copied tree).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
model="$here/../shared/models/wp-llama-5m-f16.gguf" corpus="$here/../shared/data/war-and-peace.txt"
device=cpu threads=2 clients=1,4,8,16 rates='' slots=auto ctx=1024 ptok=100:700 otok=64:256 nreq=64 runs=2 seed=1 temperature=0
servers=ours,llama-server ours="$here/build/rbees-workerd" bin="${ANCHOR_BIN:-}" machine="${MACHINE:-}"
out="${RESULT_DIR:-}" port=18190 ours_args="" ours_base="" servers_given=0 prefix=0 truncation=()
while [ $# -gt 0 ]; do
  case "$1" in
  --model) model=$2 ;; --device) device=$2 ;; --threads) threads=$2 ;; --clients) clients=$2 ;; --rates) rates=$2 ;;
  --slots) slots=$2 ;; --ctx-per-slot) ctx=$2 ;; --prompt-tokens) ptok=$2 ;; --max-tokens) otok=$2 ;;
  --num-requests) nreq=$2 ;; --runs) runs=$2 ;; --seed) seed=$2 ;; --ours) ours=$2 ;;
  --servers) servers=$2 servers_given=1 ;;
  --anchor-bin) bin=$2 ;; --corpus) corpus=$2 ;; --machine) machine=$2 ;; --out) out=$2 ;; --port) port=$2 ;;
  --ours-args) ours_args=$2 ;; --shared-prefix) prefix=$2 ;; --temperature) temperature=$2 ;;
  --top-p | --top-k | --min-p) truncation+=("$1" "$2") ;;
  --ours-baseline) ours_base=$2 ;;
  -h | --help) sed -n '2,33p' "$0"; exit 0 ;;
  *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift 2
done
[ -z "$ours_base" ] || [ $servers_given = 1 ] || servers=ours,ours-baseline
for f in "$model" "$corpus"; do [ -f "$f" ] || { echo "no file $f" >&2; exit 1; }; done
model=$(realpath "$model") corpus=$(realpath "$corpus")
if [ "$device" = cpu ]; then ngl=0; else ngl=999; fi
# The same names as the other benchmarks' result folders: the CPU model's first words and the core count.
machine=$(python3 -c 'import re, sys, os
m = sys.argv[1] or next((l.split(":", 1)[1] for l in open("/proc/cpuinfo") if l.startswith("model name")), "cpu")
if not sys.argv[1]:
    w = re.sub(r"\((R|TM|tm|r)\)|CPU|Processor|@.*|\d+-Core", " ", m).lower().split()
    m = "-".join(w[:3] + [f"{os.cpu_count()}c"])
print(re.sub(r"[^a-z0-9]+", "-", m.lower()).strip("-"))' "$machine")
commit=${RBEES_COMMIT:-$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)}
out="${out:-$here/bench/results/$(date +%F)-$machine-$commit/serve}"
mkdir -p "$out"
rm -f "$out"/*-c*-r*.json "$out"/*-c*-r*.json.gz "$out"/*-c*-r*.log  # a run again into the same folder starts afresh
echo "raw outputs: $out" >&2
anchor_used=0; [[ ",$servers," != *,llama-server,* ]] || anchor_used=1
if [ -z "$bin" ] && [ $anchor_used = 1 ]; then
  cuda_arg=(); [ "$device" = cpu ] || cuda_arg=(-DGGML_CUDA=ON)
  bin=$("$here/bench/build-anchor.sh" "${cuda_arg[@]}" 2>"$out/anchor-build.log" | tail -n 1)
fi
[[ ",$servers," != *,llama-server,* ]] || [ -x "$bin/llama-server" ] || { echo "no llama-server in '$bin'" >&2; exit 1; }
[[ ",$servers," != *,ours,* ]] || [ -x "$ours" ] || { echo "no rbees-workerd at $ours" >&2; exit 1; }
[[ ",$servers," != *,ours-baseline,* ]] || [ -x "$ours_base" ] || { echo "no baseline at '$ours_base'" >&2; exit 1; }
IFS=, read -ra levels <<<"$clients"
IFS=, read -ra rate_list <<<"$rates"
IFS=, read -ra names <<<"$servers"
[ ${#levels[@]} -gt 0 ] || [ "$slots" != auto ] || { echo "--clients '' needs --slots N" >&2; exit 2; }
[ ${#levels[@]} -gt 0 ] || [ ${#rate_list[@]} -gt 0 ] || { echo "neither --clients nor --rates" >&2; exit 2; }
for q in "${rate_list[@]}"; do
  [[ $q =~ ^(inf|[0-9]+(\.[0-9]+)?)$ ]] || { echo "--rates: '$q' is not a rate (N, N.N or inf)" >&2; exit 2; }
done
maxc=$( (printf '%s\n' "${levels[@]}"; echo 1) | sort -n | tail -n 1)
[ "$slots" = auto ] || maxc=$slots
# Open loop, every request of a point may be waiting at once: ours queues them all, as llama-server does,
# so that both sides serve the same requests (ours would otherwise answer 503 past its queue).
queue=$((maxc > 64 ? maxc : 64))
[ ${#rate_list[@]} = 0 ] || queue=$((queue > nreq ? queue : nreq))

server_cmd() { # name slots -> the command line, in the array cmd
  case "$1" in
  ours | ours-baseline)
    [ "$1" = ours ] && exe=$ours || exe=$ours_base
    cmd=("$exe" serve --model "$model" --device "$device" --threads "$threads" --max-seqs "$2"
    --max-queue "$queue" --ctx-size $(($2 * ctx)) --port "$port" $ours_args) ;;
  llama-server) cmd=("$bin/llama-server" -m "$model" -t "$threads" -ngl "$ngl" -np "$2" -c $(($2 * ctx))
    --cache-ram 0 --port "$port") ;;
  esac
}
wait_health() {
  for _ in $(seq 1 3000); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}
start_server() { # name slots log
  server_cmd "$1" "$2"
  echo "$1 slots=$2: ${cmd[*]}" >>"$out/commands.txt"
  "${cmd[@]}" >"$3" 2>&1 &
  pid=$!
  wait_health $pid || { echo "$1 did not come up (log: $3)" >&2; kill $pid 2>/dev/null; wait $pid 2>/dev/null; return 1; }
}
stop_server() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }

# The request list, made once with one server's tokenizer (the anchor's when it runs: the same GGUF,
# the same vocabulary), then sent unchanged to every server.
tok_server=${names[0]}
[[ ",$servers," == *,llama-server,* ]] && tok_server=llama-server
: >"$out/commands.txt"
echo "(measures the prompts only)" >>"$out/commands.txt"
start_server "$tok_server" 1 "$out/tokenizer-server.log" || exit 1
python3 "$here/bench/serve_bench.py" --tokenizer-url "http://127.0.0.1:$port" --num-requests "$nreq" \
  --prompt-tokens "$ptok" --max-tokens "$otok" --seed "$seed" --corpus "$corpus" --shared-prefix-tokens "$prefix" \
  --write-workload "$out/workload.json"
rc=$?
stop_server
[ $rc = 0 ] || exit 1

# What was run where, for the report's header (values through the environment: no quoting to get wrong).
version() { "$@" --version 2>&1 | grep -v '^$' | head -n 3 | tr '\n' ' '; }
export M_DATE=$(date +%F) M_TIME_UTC=$(date -u +%T) M_MACHINE=$machine M_COMMIT=$commit M_MODEL=$model \
  M_CORPUS=$corpus M_DEVICE=$device M_THREADS=$threads M_CLIENTS=$clients M_RATES=$rates M_SLOTS=$slots \
  M_RATE_SLOTS=$maxc M_CTX_PER_SLOT=$ctx \
  M_NUM_REQUESTS=$nreq M_RUNS=$runs M_PROMPT_TOKENS=$ptok M_MAX_TOKENS=$otok M_SEED=$seed M_SERVERS=$servers \
  M_OURS_ARGS=$ours_args M_OURS_BASELINE=$ours_base
export M_CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') M_CORES=$(nproc)
export M_GPU=$([ "$device" = cpu ] || nvidia-smi --query-gpu=name --format=csv,noheader -i "${device#cuda:}" 2>/dev/null)
export M_OURS_VERSION=$(version "$ours") M_ANCHOR_VERSION=$([ $anchor_used = 0 ] || version "$bin/llama-server")
export M_OURS_BASELINE_VERSION=$([ -z "$ours_base" ] || version "$ours_base")
# Tracked files changed since the commit (unknown, null, for a copied tree named by RBEES_COMMIT).
export M_TREE_MODIFIED=$([ -n "${RBEES_COMMIT:-}" ] || git -C "$here" status --porcelain --untracked-files=no |
  cut -c4- | paste -sd ,)
python3 - "$out/meta.json" <<'EOF'
import json, os, sys
m = {k[2:].lower(): v for k, v in os.environ.items() if k.startswith("M_")}
for k in ("threads", "ctx_per_slot", "num_requests", "runs", "seed", "cores", "rate_slots"):
    m[k] = int(m[k])
m["clients"] = [int(c) for c in m["clients"].split(",") if c]
m["rates"] = [r for r in m["rates"].split(",") if r]
m["servers"] = m["servers"].split(",")
m["tree_modified"] = None if os.environ.get("RBEES_COMMIT") else [f for f in m["tree_modified"].split(",") if f]
m["model_bytes"] = os.path.getsize(m["model"])
json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF
[ ! -x "$here/bench/describe_builds.sh" ] ||
  "$here/bench/describe_builds.sh" "$([ $anchor_used = 1 ] && echo "$bin")" "$ours" $ours_base >"$out/builds.txt" 2>&1

bench_point() { # name clients run
  python3 "$here/bench/serve_bench.py" --url "http://127.0.0.1:$port" --label "$1" --workload "$out/workload.json" \
    --num-requests "$nreq" --concurrency "$2" --temperature "$temperature" "${truncation[@]}" --out "$out/$1-c$2-r$3.json.gz" |
    tee -a "$out/$1-console.txt"
}
rate_point() { # name rate run
  python3 "$here/bench/serve_bench.py" --url "http://127.0.0.1:$port" --label "$1" --workload "$out/workload.json" \
    --num-requests "$nreq" --request-rate "$2" --seed "$((seed + $3))" --temperature "$temperature" "${truncation[@]}" \
    --out "$out/$1-q$2-r$3.json.gz" |
    tee -a "$out/$1-console.txt"
}
# The servers alternate, per client count when slots = clients (they restart per count anyway), so the
# drift of a shared machine falls on both alike.
for name in "${names[@]}"; do : >"$out/$name-console.txt"; done
for r in $(seq 1 "$runs"); do
  if [ "$slots" = auto ]; then
    for c in "${levels[@]}"; do
      for name in "${names[@]}"; do
        start_server "$name" "$c" "$out/$name-c$c-r$r.log" || continue
        bench_point "$name" "$c" "$r"
        stop_server
      done
    done
  elif [ ${#levels[@]} -gt 0 ]; then
    for name in "${names[@]}"; do
      start_server "$name" "$slots" "$out/$name-r$r.log" || continue
      for c in "${levels[@]}"; do bench_point "$name" "$c" "$r"; done
      stop_server
    done
  fi
  [ ${#rate_list[@]} -gt 0 ] || continue
  for name in "${names[@]}"; do
    start_server "$name" "$maxc" "$out/$name-rates-r$r.log" || continue
    for q in "${rate_list[@]}"; do rate_point "$name" "$q" "$r"; done
    stop_server
  done
done
python3 "$here/bench/serve_report.py" "$out" --out "$out/serve.md" --svg "$out/serve.svg"
echo "raw outputs: $out"
