#!/usr/bin/env python3
"""Where a serving run's step time goes, from `rbees-workerd serve --step-trace FILE`.

    bench/step_costs.py TRACE.jsonl [--engine N] [--skip-ms MS]

A trace holds one header line per engine start and one line per step. For each engine (or the one
asked for) this prints:
  - the engine thread's time: device compute, graph builds, inputs, the rest of the host's work;
  - a least-squares fit of each step's device time (compute_ms) to its contents:
        ms = fixed + per_token * tokens + per_cell * decode_cells + per_pair * prompt_pairs
             + per_chunk * prompt_chunks
    (tokens: decode tokens and prompt tokens, the weight products' columns; decode_cells: the cells
    the decode tokens attended over, the cache reads of their attention; prompt_pairs: query-key
    pairs of the prompt chunks' causal attention), with each term's share of the total device time;
  - the same fit over decode-only steps and over steps with prompt tokens, and the median step by
    kind and size;
  - decode-only steps by whether their graph was built for them or run again (print_reuse).
The fit is a model, not a measurement: the shares say how the time grows with each content, not
which kernel ran when. Pure Python (no numpy).
"""
import argparse
import json
import statistics
import sys

FEATURES = ["fixed", "tokens", "decode_cells", "prompt_pairs", "prompt_chunks"]


def features(s):
    return [1.0, s["decode"] + s["prompt_tokens"], s["decode_cells"], s["prompt_pairs"], s["prompt_chunks"]]


def solve(a, b):
    """Solves a x = b (Gauss-Jordan with partial pivoting); None when singular."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        if abs(m[p][c]) < 1e-12:
            return None
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit(steps, use):
    """Least squares of compute_ms on the features in `use` (indices); coefficients or None."""
    xs = [[features(s)[i] for i in use] for s in steps]
    ys = [s["compute_ms"] for s in steps]
    # Scale the columns so the normal equations stay well conditioned (cells run to 1e5, pairs 1e7).
    scale = [max(1e-9, max(abs(x[j]) for x in xs)) for j in range(len(use))]
    xs = [[v / scale[j] for j, v in enumerate(x)] for x in xs]
    k = len(use)
    ata = [[sum(x[i] * x[j] for x in xs) for j in range(k)] for i in range(k)]
    aty = [sum(x[i] * y for x, y in zip(xs, ys)) for i in range(k)]
    coef = solve(ata, aty)
    if coef is None:
        return None
    coef = [c / scale[j] for j, c in enumerate(coef)]
    pred = [sum(c * features(s)[i] for c, i in zip(coef, use)) for s in steps]
    mean = statistics.fmean(ys)
    ss_tot = sum((y - mean) ** 2 for y in ys)
    ss_res = sum((y - p) ** 2 for y, p in zip(ys, pred))
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return coef, r2


def print_fit(title, steps, use):
    if len(steps) < len(use) + 2:
        print(f"{title}: {len(steps)} steps, too few to fit")
        return
    # Columns that never vary in this set (e.g. prompt chunks over decode-only steps) are left out.
    use = [i for i in use if i == 0 or len({features(s)[i] for s in steps}) > 1]
    res = fit(steps, use)
    if res is None:
        print(f"{title}: singular fit")
        return
    coef, r2 = res
    total = sum(s["compute_ms"] for s in steps)
    print(f"{title}: {len(steps)} steps, {total:.0f} ms of device time, fit R^2 {r2:.3f}")
    print(f"  {'term':<14} {'coefficient':>16} {'ms':>9} {'share':>7}")
    units = {"fixed": "ms/step", "tokens": "us/token", "decode_cells": "us/1k cells",
             "prompt_pairs": "us/1M pairs", "prompt_chunks": "us/chunk"}
    mult = {"fixed": 1.0, "tokens": 1e3, "decode_cells": 1e6, "prompt_pairs": 1e9, "prompt_chunks": 1e3}
    for c, i in zip(coef, use):
        name = FEATURES[i]
        part = sum(c * features(s)[i] for s in steps)
        print(f"  {name:<14} {c * mult[name]:>9.3f} {units[name]:<11} {part:>8.0f} {part / total:>7.1%}")


def bucket(n, edges):
    for e in edges:
        if n <= e:
            return e
    return edges[-1] + 1


def report(header, steps):
    print(f"engine: {json.dumps(header)}")
    if not steps:
        print("no steps\n")
        return
    span_s = (steps[-1]["t_ms"] - steps[0]["t_ms"] + steps[-1]["step_ms"]) / 1e3
    tot = {k: sum(s[k] for s in steps) for k in ("compute_ms", "build_ms", "upload_ms", "download_ms", "plan_ms", "step_ms")}
    host = tot["step_ms"] + tot["plan_ms"] - tot["compute_ms"]
    print(f"{len(steps)} steps over {span_s:.1f} s; decode tokens {sum(s['decode'] for s in steps)}, "
          f"prompt tokens {sum(s['prompt_tokens'] for s in steps)}, graphs built "
          f"{sum(s['built'] for s in steps)}, placeholder streams {sum(s['placeholder_streams'] for s in steps)}, "
          f"gathered tokens {sum(s['gathered_tokens'] for s in steps)}, span tokens {sum(s['span_tokens'] for s in steps)}"
          f", split run tokens {sum(s.get('split_run_tokens', 0) for s in steps)}")
    print(f"engine thread: {tot['step_ms'] + tot['plan_ms']:.0f} ms, of which device compute {tot['compute_ms']:.0f} ms; "
          f"host {host:.0f} ms (graph builds {tot['build_ms']:.0f}, inputs {tot['upload_ms']:.0f}, "
          f"logits/picks back {tot['download_ms']:.0f}, planning {tot['plan_ms']:.0f}, "
          f"sampling and events {tot['step_ms'] - tot['compute_ms'] - tot['build_ms'] - tot['upload_ms'] - tot['download_ms']:.0f})")
    print()
    print_fit("all steps", steps, [0, 1, 2, 3, 4])
    print()
    decode_only = [s for s in steps if s["prompt_tokens"] == 0]
    with_prompt = [s for s in steps if s["prompt_tokens"] > 0]
    print_fit("decode-only steps", decode_only, [0, 1, 2])
    print()
    print_fit("steps with prompt tokens", with_prompt, [0, 1, 2, 3, 4])
    print()
    print("median device time by step (ms):")
    print(f"  {'kind':<10} {'size':>12} {'steps':>6} {'decode':>7} {'prompt':>7} {'cells/decode':>13} {'ms':>8}")
    groups = {}
    for s in steps:
        if s["prompt_tokens"] == 0:
            key = ("decode", bucket(s["decode"], [8, 16, 32, 64, 128, 256, 512]))
        else:
            key = ("prompt", bucket(s["prompt_tokens"], [64, 128, 256, 512, 1024, 2048, 4096]))
        groups.setdefault(key, []).append(s)
    for (kind, size), g in sorted(groups.items()):
        dec = statistics.median(s["decode"] for s in g)
        cells = statistics.median(s["decode_cells"] / s["decode"] for s in g) if all(s["decode"] for s in g) else 0
        last = 512 if kind == "decode" else 4096
        label = f"<= {size}" if size <= last else f"> {last}"
        print(f"  {kind:<10} {label:>12} {len(g):>6} {dec:>7.0f} {statistics.median(s['prompt_tokens'] for s in g):>7.0f} "
              f"{cells:>13.0f} {statistics.median(s['compute_ms'] for s in g):>8.2f}")
    print()
    print_reuse(steps)


def print_reuse(steps):
    """Decode-only steps by how their graph came to run: built for the step, or the last decode
    step's graph run again (the first, second, or later time in a row). On a GPU a graph that changed
    runs kernel by kernel; run again unchanged, ggml's CUDA backend captures it as a CUDA graph, and
    after that replays it: the three cost differently."""
    rows = {}
    run = 0  # decode steps in a row on one unbuilt graph, since the last decode step that built one
    for s in steps:
        if s["prompt_tokens"] > 0:
            continue
        run = 0 if s["built"] else run + 1
        key = "built" if run == 0 else ("run again, 1st" if run == 1 else "run again, 2nd" if run == 2 else "run again, later")
        rows.setdefault(key, []).append(s)
    if not rows:
        return
    print("decode-only steps by graph reuse (device ms):")
    print(f"  {'graph':<18} {'steps':>6} {'median ms':>10} {'total ms':>9} {'decode':>7}")
    for key in ("built", "run again, 1st", "run again, 2nd", "run again, later"):
        g = rows.get(key, [])
        if g:
            print(f"  {key:<18} {len(g):>6} {statistics.median(x['compute_ms'] for x in g):>10.2f} "
                  f"{sum(x['compute_ms'] for x in g):>9.0f} {statistics.median(x['decode'] for x in g):>7.0f}")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace")
    ap.add_argument("--engine", type=int, help="only the Nth engine start in the file (from 1)")
    ap.add_argument("--skip-ms", type=float, default=0, help="leave out each engine's first MS of steps (warm-up)")
    args = ap.parse_args()
    engines = []
    with open(args.trace) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{args.trace}:{n}: not JSON ({e})")
            if rec.get("trace") == "steps":
                engines.append((rec, []))
            elif not engines:
                sys.exit(f"{args.trace}:{n}: a step before any engine header")
            else:
                engines[-1][1].append(rec)
    if not engines:
        sys.exit(f"{args.trace}: no engine header")
    for i, (header, steps) in enumerate(engines, 1):
        if args.engine is not None and i != args.engine:
            continue
        steps = [s for s in steps if s["t_ms"] >= (steps[0]["t_ms"] if steps else 0) + args.skip_ms]
        report(header, steps)


if __name__ == "__main__":
    main()
