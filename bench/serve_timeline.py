#!/usr/bin/env python3
"""Second by second through one serving benchmark run, from its per-request records: output tokens
streamed, requests in flight and first tokens given, then the run's mean against its mean over the
seconds when every client had a request in flight (the steady state, apart from the first prompts'
burst and the tail, where clients run out of requests).

  serve_timeline.py RUN.json[.gz] [--skip S]
RUN is one of bench/serve_bench.py's outputs. A request's tokens are spread evenly from its first
token to its end (the records keep the gaps' distribution, not every token's time). --skip leaves
the first S seconds out of the steady-state mean (default 5: the burst's prefill).
"""
import argparse
import gzip
import json
from collections import Counter


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--skip", type=float, default=5.0)
    args = ap.parse_args()
    run = load(args.run)
    recs = [r for r in run["records"] if not r.get("error")]
    t0 = min(r["start"] for r in recs)
    end = max(r["start"] + r["latency"] for r in recs) - t0
    concurrency = max(sum(1 for q in recs if q["start"] <= r["start"] < q["start"] + q["latency"]) for r in recs)
    tokens, firsts = Counter(), Counter()
    for r in recs:
        first = r["start"] - t0 + r["ttft"]
        last = r["start"] - t0 + r["latency"]
        n = r["output_tokens"]
        firsts[int(first)] += 1
        for k in range(n):
            tokens[int(first + (last - first) * k / max(1, n - 1))] += 1
    print(f"{run.get('label', '')}: {len(recs)} requests, {concurrency} clients, {end:.1f} s")
    print("second  tokens  in_flight  first_tokens")
    full = []
    for s in range(int(end) + 1):
        in_flight = sum(1 for r in recs if r["start"] - t0 <= s + 0.5 < r["start"] - t0 + r["latency"])
        print(f"{s:6d}  {tokens[s]:6d}  {in_flight:9d}  {firsts[s]:12d}")
        if in_flight >= concurrency and s >= args.skip and s + 1 <= end:
            full.append(tokens[s])
    print(f"mean output tok/s over the run: {sum(tokens.values()) / end:.0f}")
    if full:
        print(f"mean over the {len(full)} whole seconds from {args.skip:g} s with every client in flight: "
              f"{sum(full) / len(full):.0f}")


if __name__ == "__main__":
    main()
