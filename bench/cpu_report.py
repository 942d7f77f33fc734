#!/usr/bin/env python3
"""Prints the CPU benchmark table (ours, llama.cpp, ratio) from bench/cpu_bench.sh's output folder."""
import json
import os
import re
import subprocess
import sys
import datetime
import platform

out, threads, pp, tg = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


def ours_engine(t):
    txt = open(f"{out}/ours-bench-{t}.txt").read()
    pre = float(re.search(r"prefill, 1 stream.*?([\d.]+)\s*$", txt, re.M).group(1))
    dec = float(re.search(r"^decode, 1 stream.*?([\d.]+)\s*$", txt, re.M).group(1))
    return pre, dec


def anchor_engine(t):
    rows = json.load(open(f"{out}/llama-bench-{t}.json"))
    pre = next(r["avg_ts"] for r in rows if r["n_prompt"] > 0)
    dec = next(r["avg_ts"] for r in rows if r["n_gen"] > 0)
    return pre, dec


def http(name, t):
    res = {}
    for line in open(f"{out}/http-{name}-{t}.jsonl"):
        j = json.loads(line)
        res[j["streams"]] = (j["tokens_per_s"], j["errors"])
    return res


# RBEES_COMMIT names the commit where the checkout's own history is not the one built (a copied tree).
commit = os.environ.get("RBEES_COMMIT") or subprocess.run(
    ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
print(f"date {datetime.date.today()}  machine: {cpu}, {threads} threads  commit {commit}  prompt {pp}  gen {tg}")
print("| model | measurement | rbees-workerd tok/s | llama.cpp tok/s | ratio |")
print("|---|---|---|---|---|")
for t in ["f16", "q8_0"]:
    o, a = ours_engine(t), anchor_engine(t)
    print(f"| tinyllama-1.1b {t} | prefill {pp} (engine vs llama-bench pp) | {o[0]:.1f} | {a[0]:.1f} | {o[0]/a[0]:.2f} |")
    print(f"| tinyllama-1.1b {t} | decode 1 stream (engine vs llama-bench tg) | {o[1]:.1f} | {a[1]:.1f} | {o[1]/a[1]:.2f} |")
    ho, ha = http("ours", t), http("llama-server", t)
    for n in sorted(ho):
        eo, ea = ho[n][1], ha.get(n, (0, 0))[1]
        note = f" (errors: ours {eo}, anchor {ea})" if eo or ea else ""
        ratio = ho[n][0] / ha[n][0] if ha.get(n, (0,))[0] else float("nan")
        print(f"| tinyllama-1.1b {t} | HTTP aggregate decode, {n} streams (8 slots each){note} | {ho[n][0]:.1f} | {ha[n][0]:.1f} | {ratio:.2f} |")
