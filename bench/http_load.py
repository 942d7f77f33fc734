#!/usr/bin/env python3
"""Aggregate decode throughput through an OpenAI-compatible HTTP API (ours or llama-server).

Sends N concurrent /v1/completions requests (non-streaming, ignore_eos, fixed max_tokens; every
stream sends the same short prompt) and reports completion tokens per second of wall time, from the
server's own usage figures. Standard library only.

  http_load.py --url http://127.0.0.1:8080 --streams 8,16 --max-tokens 32 --repetitions 5
Prints one JSON object per run: the concurrency level, the run's number (1..repetitions) and its
figures; the runs of one level follow each other. The report scripts take median and min-max.
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse


def one_request(url, body, out, idx):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    t0 = time.perf_counter()
    try:
        conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
    except OSError as e:  # refused, reset or timed out: a failed request, counted as such
        out[idx] = {"error": repr(e)}
        return
    t1 = time.perf_counter()
    if resp.status != 200:
        out[idx] = {"error": resp.status, "body": data[:200].decode(errors="replace")}
        return
    j = json.loads(data)
    out[idx] = {"completion_tokens": j["usage"]["completion_tokens"], "seconds": t1 - t0}


def run_level(url, n, max_tokens, prompt):
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True, "stream": False}
    results = [None] * n
    threads = [threading.Thread(target=one_request, args=(url, body, results, i)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    errors = [r for r in results if r is None or "error" in r]
    tokens = sum(r["completion_tokens"] for r in results if r and "completion_tokens" in r)
    return {"streams": n, "completion_tokens": tokens, "wall_s": round(wall, 3),
            "tokens_per_s": round(tokens / wall, 2) if wall > 0 else 0, "errors": len(errors)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--streams", default="1,4,8,16")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--prompt", default="The history of the war began in the autumn of that year, when")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repetitions", "-r", type=int, default=1, help="runs per concurrency level")
    a = ap.parse_args()
    for _ in range(a.warmup):
        run_level(a.url, 1, 8, a.prompt)
    for n in [int(x) for x in a.streams.split(",")]:
        for r in range(a.repetitions):
            res = run_level(a.url, n, a.max_tokens, a.prompt)
            res = {"streams": n, "run": r + 1, "max_tokens": a.max_tokens, **res}
            print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
