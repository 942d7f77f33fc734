#!/usr/bin/env python3
"""Prints the CPU benchmark section (Markdown) from the raw outputs bench/cpu_bench.sh kept.

  cpu_report.py DIR        DIR: bench/results/<date>-<machine>-<commit>/cpu
Reads meta.json, llama-bench-<type>.json (llama-bench -o json: per-run samples_ts), ours-bench-<type>.json
(rbees-workerd bench --json: per-run samples_ts) and http-{ours,llama-server}-<type>.jsonl (http_load.py:
one line per run). Every cell is the median of the runs with min-max; the ratio is of the medians.
A missing file leaves its cells as '-'. Standard library only.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summary import cell, jsonl, load_meta, provenance, ratio  # noqa: E402


def read(path, parse):
    try:
        return parse(path)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"cpu_report.py: {path}: {e!r}", file=sys.stderr)
        return None


def anchor_engine(path):
    """llama-bench's per-run tokens/s of its prefill (pp) and decode (tg) tests."""
    r = {}
    for e in json.load(open(path)):
        kind = "prefill" if e["n_gen"] == 0 else "decode" if e["n_prompt"] == 0 else None
        if kind:
            r[kind] = e["samples_ts"]
    return r


def ours_engine(path):
    j = json.load(open(path))
    return {"prefill": j["prefill"]["samples_ts"], "decode": j["decode"]["samples_ts"]}


def http(path):
    """{streams: ([tokens/s per run], errors over all runs)}"""
    r = {}
    for j in jsonl(path):
        s, e = r.setdefault(j["streams"], ([], [0]))
        s.append(j["tokens_per_s"])
        e[0] += j["errors"]
    return {k: (v[0], v[1][0]) for k, v in r.items()}


def report(folder):
    m = load_meta(folder)
    types = str(m.get("types", "f16 q8_0")).split()
    pp, tg, reps = m.get("prompt_tokens", "?"), m.get("gen_tokens", "?"), m.get("repetitions", "?")
    slots, ctx = m.get("slots", "?"), m.get("ctx_size", "?")
    lines = [
        f"### CPU: {m.get('machine', '?')}, {m.get('threads', '?')} threads, {m.get('date', '?')}, commit {m.get('commit', '?')}",
        "",
        provenance(m, folder),
        "",
        f"Workload: random-weight {m.get('model_shape', 'tinyllama-1.1b')}-shaped GGUF files, F16 and Q8_0 "
        f"(`llama-quantize`), ignore_eos. Engine level: `rbees-workerd bench` against `llama-bench` "
        f"(prefill of a {pp}-token prompt; single-stream decode of {tg} tokens). HTTP (`/v1/completions`): "
        f"**{m.get('workload', 'identical short prompts')}** (every stream sends the same one-sentence prompt), "
        f"{tg} tokens per stream, ours `--max-seqs {slots}` against `llama-server -np {slots}`, both with a "
        f"{ctx}-token context.",
        "",
        f"Anchor: {m.get('anchor_label', '?')} (options and libraries in `builds.txt`). Ours: "
        + (f"run with `{m['ours_args']}`." if m.get("ours_args") else "default options."),
        "",
        f"Method: both sides {reps} runs per figure; each cell is the median tokens/s with min-max in brackets "
        "(llama-bench: of its per-run `samples_ts`; ours: of `bench --json`'s; HTTP: of http_load.py's runs); "
        "ratio = ours median / llama.cpp median.",
        "",
        "| model | measurement | rbees-workerd tok/s | llama.cpp tok/s | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for t in types:
        o = read(os.path.join(folder, f"ours-bench-{t}.json"), ours_engine) or {}
        a = read(os.path.join(folder, f"llama-bench-{t}.json"), anchor_engine) or {}
        for kind, what in (("prefill", f"prefill {pp} (bench vs llama-bench pp{pp})"),
                           ("decode", f"decode 1 stream, {tg} tokens (bench vs llama-bench tg{tg})")):
            oa, aa = o.get(kind, []), a.get(kind, [])
            lines.append(f"| {t} | {what} | {cell(oa)} | {cell(aa)} | {ratio(oa, aa)} |")
        ho = read(os.path.join(folder, f"http-ours-{t}.jsonl"), http) or {}
        ha = read(os.path.join(folder, f"http-llama-server-{t}.jsonl"), http) or {}
        for n in sorted(set(ho) | set(ha)):
            (so, eo), (sa, ea) = ho.get(n, ([], 0)), ha.get(n, ([], 0))
            note = f" (failed requests: ours {eo}, llama-server {ea})" if eo or ea else ""
            lines.append(f"| {t} | HTTP aggregate decode, {n} streams{note} | {cell(so)} | {cell(sa)} | {ratio(so, sa)} |")
    if "duration_s" in m:
        lines += ["", f"The whole run took {m['duration_s'] // 60} min {m['duration_s'] % 60} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(report(sys.argv[1]), end="")
