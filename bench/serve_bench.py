#!/usr/bin/env python3
"""Serving benchmark against any OpenAI-compatible server, in the style of vLLM's benchmark_serving.

Every request has its own prompt: a slice of a corpus (War and Peace by default) starting at a random
word, its length drawn from --prompt-tokens, its output length from --max-tokens. Requests go to
/v1/completions with "stream": true, stream_options.include_usage, ignore_eos and temperature 0, so
each one generates exactly max_tokens. A fixed --seed makes the request list reproducible; a list
written once with --write-workload and passed with --workload goes unchanged to every server.

Prompt length in tokens: measured with the server's /tokenize (content without special tokens, so
the server's own prompt count is one more where it adds BOS), the slice grown or cut by whole words
until it is within 1% of the target; with --tokenizer words (or a server without /tokenize) it is
estimated as words x --tokens-per-word and the workload says so.

--shared-prefix-tokens N opens every prompt with the same slice of about N tokens (a system prompt or
a shared document, then a blank line, then the request's own slice): what a server's prefix cache is for.

Modes: closed loop, --concurrency N clients, each sending its next request when its previous one
ends, for --num-requests requests (and at most --duration seconds of new requests); open loop,
--request-rate R requests/s with Poisson arrivals (exponential gaps from the seed; 'inf' sends all
at once), optionally capped by --max-concurrency.

Per request: TTFT (send to the first chunk carrying text), latency (send to the end of the stream),
TPOT = (latency - TTFT) / (output tokens - 1), every inter-token gap between text chunks (ITL),
output tokens from usage (chunk count when the server gives no usage), errors. The summary: output
tok/s and requests/s over the wall time (first send to last end), TTFT / TPOT / ITL / latency
mean, p50, p90, p99. --out writes the workload, the settings, every raw per-request record and the
summary as JSON; summarize() recomputes the summary from the records (bench/serve_report.py does).

How to run
  # one server, 8 clients, 40 requests (the server must be up):
  bench/serve_bench.py --url http://127.0.0.1:8080 --concurrency 8 --num-requests 40 --out r.json
  # open loop at 4 requests/s:
  bench/serve_bench.py --url http://127.0.0.1:8080 --request-rate 4 --num-requests 200
  # ours against llama-server on one GGUF, slots, per-slot context, threads and request list, then the
  # table and plot (bench/serve_report.py) from the raw files under bench/results/<date>-<machine>-<commit>/serve/.
  # CPU, issue 14's target workload: embedded model's F16 GGUF, 2 threads, clients 1,4,8,16 (8 is the
  # target), prompts 100:700, output 64:256, 64 requests per point, 2 runs; about 8 minutes on 2 cores:
  bench/serve_bench.sh
  # GPU: ours built with -DRBEES_CUDA=ON, llama.cpp's tools by bench/build-anchor.sh -DGGML_CUDA=ON
  # (-DCMAKE_CUDA_ARCHITECTURES=90); llama-server gets -ngl 999:
  bench/serve_bench.sh --device cuda:0 --model /tmp/models/llama2-7b-f16.gguf --ours build-cuda/rbees-workerd \\
      --anchor-bin /tmp/anchor/bin --clients 16,64 --prompt-tokens 100:1000 --ctx-per-slot 1536 --num-requests 256
  bench/serve_bench.sh --help   # every option
Standard library only.
"""
import argparse
import gzip
import hashlib
import http.client
import json
import math
import os
import random
import re
import sys
import threading
import time
import urllib.parse

DEFAULT_CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
                              "war-and-peace.txt")


PREFIX_JOIN = "\n\n"  # between the shared prefix and a request's own text


def parse_range(spec):
    """'A:B' (uniform integers, both ends included) or 'N' (fixed)."""
    parts = [int(p) for p in str(spec).split(":")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or parts[0] < 1 or parts[1] < parts[0]:
        raise argparse.ArgumentTypeError(f"{spec!r}: want N or A:B with 1 <= A <= B")
    return parts


def http_json(url, path, body, timeout=60):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status}: {data[:200]!r}")
        return json.loads(data)
    finally:
        conn.close()


class Tokenizer:
    """Counts tokens with a server's /tokenize, or estimates them from words."""

    def __init__(self, url, tokens_per_word):
        self.url = url
        self.tokens_per_word = tokens_per_word
        self.calls = 0

    def describe(self):
        if self.url:
            return f"server /tokenize at {self.url} (add_special false: no BOS counted)"
        return f"estimated: words x {self.tokens_per_word} tokens per word"

    def count(self, text):
        if not self.url:
            return round(len(text.split()) * self.tokens_per_word)
        self.calls += 1
        return len(http_json(self.url, "/tokenize", {"content": text, "add_special": False})["tokens"])


def build_workload(corpus_path, n, prompt_range, output_range, seed, tok, shared_prefix=0):
    text = open(corpus_path, encoding="utf-8", errors="replace").read()
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    rng = random.Random(seed)
    # All random draws first, so the list does not depend on how the prompts are measured.
    draws = [(rng.randint(*prompt_range), rng.randint(*output_range), rng.random()) for _ in range(n)]
    if tok.url:  # tokens per word of this corpus for this tokenizer, from one sample
        s0 = len(words) // 3
        tok.tokens_per_word = tok.count(text[words[s0][0]:words[s0 + 4000][1]]) / 4001
    prefix = None
    if shared_prefix:
        # The same opening for every prompt (a system prompt, a shared document), drawn after the
        # requests so that their own parts are those of the list without it.
        n_words = max(1, round(shared_prefix / tok.tokens_per_word))
        first = int(rng.random() * (len(words) - n_words - 1))
        span = (words[first][0], words[first + n_words - 1][1])
        prefix = {"char_start": span[0], "char_end": span[1], "tokens": tok.count(text[span[0]:span[1]])}
    requests = []
    for i, (target, max_tokens, u) in enumerate(draws):
        n_words = max(1, round(target / tok.tokens_per_word))
        first = int(u * (len(words) - 4 * n_words - 1))
        best = None
        for _ in range(6):  # grow or cut by whole words towards the target
            n_words = max(1, min(n_words, len(words) - first))
            got = tok.count(text[words[first][0]:words[first + n_words - 1][1]])
            if best is None or abs(got - target) < abs(best[1] - target):
                best = (n_words, got)
            if abs(got - target) <= max(1, target // 100) or not tok.url:
                break
            n_words += round((target - got) / max(tok.tokens_per_word, 0.1)) or (1 if got < target else -1)
        n_words, got = best
        if prefix:  # the whole prompt as sent, counted as one text
            got = tok.count(text[prefix["char_start"]:prefix["char_end"]] + PREFIX_JOIN
                            + text[words[first][0]:words[first + n_words - 1][1]])
        requests.append({"id": i, "char_start": words[first][0], "char_end": words[first + n_words - 1][1],
                         "target_prompt_tokens": target, "prompt_tokens": got, "max_tokens": max_tokens})
    return {"corpus": os.path.abspath(corpus_path),
            "corpus_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "seed": seed, "prompt_tokens": "%d:%d uniform" % tuple(prompt_range),
            "max_tokens": "%d:%d uniform" % tuple(output_range), "tokenizer": tok.describe(),
            "tokens_per_word": round(tok.tokens_per_word, 4), "shared_prefix": prefix, "requests": requests}


def load_prompts(workload):
    text = open(workload["corpus"], encoding="utf-8", errors="replace").read()
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != workload["corpus_sha256"]:
        sys.exit(f"corpus {workload['corpus']} differs from the one the workload was made from")
    p = workload.get("shared_prefix")
    head = text[p["char_start"]:p["char_end"]] + PREFIX_JOIN if p else ""
    return [head + text[r["char_start"]:r["char_end"]] for r in workload["requests"]]


def send(url, body, t_origin, rec):
    """One streamed completion; fills rec with times (seconds from t_origin) and counts."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=3600)
    chunk_times, usage, finish = [], None, None
    t0 = time.perf_counter()
    rec["start"] = t0 - t_origin
    try:
        conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        rec["http_status"] = resp.status
        if resp.status != 200:
            rec["error"] = f"HTTP {resp.status}: {resp.read()[:300].decode(errors='replace')}"
            return
        while True:
            line = resp.readline()
            if not line:
                break
            t = time.perf_counter()
            line = line.strip()
            if not line.startswith(b"data:"):
                if line.startswith(b"error:"):
                    rec["error"] = line[:300].decode(errors="replace")
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                continue  # read on to the end of the body, so the connection closes cleanly
            obj = json.loads(payload)
            if "error" in obj:
                rec["error"] = json.dumps(obj["error"])[:300]
                break
            for c in obj.get("choices") or []:
                if c.get("text"):
                    chunk_times.append(t - t0)
                if c.get("finish_reason"):
                    finish = c["finish_reason"]
            if obj.get("usage"):
                usage = obj["usage"]
    except Exception as e:  # a refused, reset or malformed stream is a failed request, not a crash
        rec["error"] = f"{type(e).__name__}: {e}"[:300]
    finally:
        conn.close()
        rec["latency"] = time.perf_counter() - t0
        rec["end"] = rec["start"] + rec["latency"]
        rec["n_chunks"] = len(chunk_times)
        rec["ttft"] = chunk_times[0] if chunk_times else None
        rec["itl"] = [round(b - a, 6) for a, b in zip(chunk_times, chunk_times[1:])]
        rec["finish_reason"] = finish
        rec["usage_completion_tokens"] = usage.get("completion_tokens") if usage else None
        rec["usage_prompt_tokens"] = usage.get("prompt_tokens") if usage else None
        details = (usage or {}).get("prompt_tokens_details") or {}
        rec["cached_tokens"] = details.get("cached_tokens")
        rec["output_tokens"] = rec["usage_completion_tokens"] if usage else len(chunk_times)
        rec["tokens_from"] = "usage" if usage else "chunks"
        if not rec.get("error") and not chunk_times:
            rec["error"] = "stream ended without a token"


def request_body(args, prompt, max_tokens):
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": args.temperature, "stream": True,
            "stream_options": {"include_usage": True}, "ignore_eos": True}
    # Truncations only when asked for: unset, each server applies its own defaults.
    for field in ("top_p", "top_k", "min_p"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    if args.model_name:
        body["model"] = args.model_name
    return body


def new_record(req):
    return {"id": req["id"], "prompt_tokens": req["prompt_tokens"], "max_tokens": req["max_tokens"], "error": None}


def run_closed(args, workload, prompts, t_origin):
    records, lock, next_idx = [], threading.Lock(), [0]
    deadline = t_origin + args.duration if args.duration else None

    def client():
        while True:
            with lock:
                i = next_idx[0]
                if i >= len(prompts) or (deadline and time.perf_counter() >= deadline):
                    return
                next_idx[0] += 1
            req = workload["requests"][i]
            rec = new_record(req)
            send(args.url, request_body(args, prompts[i], req["max_tokens"]), t_origin, rec)
            with lock:
                records.append(rec)

    threads = [threading.Thread(target=client) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return records


def run_open(args, workload, prompts, t_origin):
    rng = random.Random(args.seed + 1)  # arrivals: the same schedule for every server
    records, threads, lock = [], [], threading.Lock()
    cap = threading.Semaphore(args.max_concurrency) if args.max_concurrency else None
    at = 0.0

    def one(i, scheduled):
        if cap:
            cap.acquire()
        try:
            req = workload["requests"][i]
            rec = new_record(req)
            rec["scheduled"] = scheduled
            send(args.url, request_body(args, prompts[i], req["max_tokens"]), t_origin, rec)
            with lock:
                records.append(rec)
        finally:
            if cap:
                cap.release()

    for i in range(len(prompts)):
        if args.duration and at >= args.duration:
            break
        delay = t_origin + at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t = threading.Thread(target=one, args=(i, at))
        t.start()
        threads.append(t)
        if math.isfinite(args.request_rate):
            at += rng.expovariate(args.request_rate)
    for t in threads:
        t.join()
    return records


def percentile(xs, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not xs:
        return None
    s = sorted(xs)
    k = (len(s) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def stats(xs):
    return {"mean": sum(xs) / len(xs) if xs else None, "p50": percentile(xs, 50), "p90": percentile(xs, 90),
            "p99": percentile(xs, 99), "max": max(xs) if xs else None, "n": len(xs)}


def summarize(records):
    ok = [r for r in records if not r.get("error")]
    wall = (max(r["end"] for r in records) - min(r["start"] for r in records)) if records else 0.0
    out_tokens = sum(r["output_tokens"] for r in ok)
    tpot = [(r["latency"] - r["ttft"]) / (r["output_tokens"] - 1) for r in ok if r["output_tokens"] > 1]
    return {
        "requests": len(records), "completed": len(ok), "errors": len(records) - len(ok),
        "wall_s": wall, "output_tokens": out_tokens,
        "prompt_tokens": sum(r["usage_prompt_tokens"] or r["prompt_tokens"] for r in ok),
        "output_tok_s": out_tokens / wall if wall > 0 else 0.0,
        "requests_s": len(ok) / wall if wall > 0 else 0.0,
        "ttft_s": stats([r["ttft"] for r in ok]), "tpot_s": stats(tpot),
        "itl_s": stats([g for r in ok for g in r["itl"]]), "latency_s": stats([r["latency"] for r in ok]),
        # Where servers count differently: output short of max_tokens despite ignore_eos, text chunks
        # not one per token, prompt tokens beyond the workload's count plus one BOS.
        "output_not_max_tokens": sum(1 for r in ok if r["output_tokens"] != r["max_tokens"]),
        "chunks_not_tokens": sum(1 for r in ok if r["n_chunks"] != r["output_tokens"]),
        "prompt_count_off": sum(1 for r in ok if r["usage_prompt_tokens"] is not None
                                and r["usage_prompt_tokens"] - r["prompt_tokens"] not in (0, 1)),
        "cached_tokens": sum(r.get("cached_tokens") or 0 for r in ok),
        "first_errors": sorted({r["error"] for r in records if r.get("error")})[:5],
    }


def print_table(label, s, mode):
    ms = lambda x: "-" if x is None else f"{x * 1000:.1f}"
    print(f"==== {label}: {mode} ====")
    print(f"requests {s['completed']}/{s['requests']} ok, errors {s['errors']}, wall {s['wall_s']:.1f} s")
    print(f"output {s['output_tokens']} tokens, {s['output_tok_s']:.1f} tok/s; {s['requests_s']:.2f} requests/s")
    print(f"{'ms':<10}{'mean':>9}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}")
    for name, key in (("TTFT", "ttft_s"), ("TPOT", "tpot_s"), ("ITL", "itl_s"), ("latency", "latency_s")):
        st = s[key]
        print(f"{name:<10}" + "".join(f"{ms(st[k]):>9}" for k in ("mean", "p50", "p90", "p99", "max")))
    odd = {k: s[k] for k in ("output_not_max_tokens", "chunks_not_tokens", "prompt_count_off") if s[k]}
    if odd:
        print(f"counted differently: {odd}")
    for e in s["first_errors"]:
        print(f"error: {e}")


def warm_up(args, workload, n):
    """Short requests on prompts outside the measured list, so the first measured ones pay no start-up."""
    text = open(workload["corpus"], encoding="utf-8", errors="replace").read()
    for i in range(n):
        rec = {}
        send(args.url, request_body(args, text[1000 * i:1000 * i + 400], 8), time.perf_counter(), rec)
        if rec.get("error"):
            sys.exit(f"warm-up request failed: {rec['error']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="server base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--label", default="server", help="name of the server in the table and the JSON")
    ap.add_argument("--model-name", default="", help="'model' field of each request (default: none sent)")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--num-requests", type=int, default=40)
    ap.add_argument("--prompt-tokens", type=parse_range, default=[100, 700], help="N or A:B uniform (default 100:700)")
    ap.add_argument("--max-tokens", type=parse_range, default=[64, 256], help="N or A:B uniform (default 64:256)")
    ap.add_argument("--shared-prefix-tokens", type=int, default=0,
                    help="every prompt opens with the same slice of about this many tokens (a system prompt), "
                         "its own part drawn from --prompt-tokens as without it (default 0: none)")
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--top-p", type=float, help="each request's top_p (default: not sent)")
    ap.add_argument("--top-k", type=int, help="each request's top_k (default: not sent)")
    ap.add_argument("--min-p", type=float, help="each request's min_p (default: not sent)")
    ap.add_argument("--tokenizer", choices=["server", "words"], default="server",
                    help="measure prompt lengths with --tokenizer-url's /tokenize (default) or estimate from words")
    ap.add_argument("--tokenizer-url", help="server whose /tokenize measures prompts (default: --url)")
    ap.add_argument("--tokens-per-word", type=float, default=1.3, help="estimate for --tokenizer words")
    ap.add_argument("--workload", help="read the request list from this file instead of making it")
    ap.add_argument("--write-workload", help="write the request list here (and exit when no --url is given)")
    ap.add_argument("--concurrency", type=int, default=8, help="closed loop: clients (default 8)")
    ap.add_argument("--request-rate", type=float, help="open loop: Poisson arrivals per second ('inf': all at once)")
    ap.add_argument("--max-concurrency", type=int, help="open loop: at most this many requests in flight")
    ap.add_argument("--duration", type=float, help="seconds after which no new request starts")
    ap.add_argument("--warmup", type=int, default=2, help="short unmeasured requests first (default 2)")
    ap.add_argument("--out", help="write workload, settings, raw records and summary here (JSON; gzip when it ends in .gz)")
    args = ap.parse_args()
    if not args.url and not args.write_workload:
        ap.error("--url is needed (or --write-workload with --tokenizer-url / --tokenizer words)")

    if args.workload:
        workload = json.load(open(args.workload))
        if len(workload["requests"]) < args.num_requests:
            sys.exit(f"{args.workload} holds {len(workload['requests'])} requests, fewer than --num-requests")
        workload["requests"] = workload["requests"][:args.num_requests]
    else:
        tok_url = (args.tokenizer_url or args.url) if args.tokenizer == "server" else None
        tok = Tokenizer(tok_url, args.tokens_per_word)
        try:
            tok.count("probe")
        except Exception as e:
            print(f"no /tokenize at {tok_url} ({e}); prompt lengths estimated from words", file=sys.stderr)
            tok = Tokenizer(None, args.tokens_per_word)
        workload = build_workload(args.corpus, args.num_requests, args.prompt_tokens, args.max_tokens, args.seed, tok,
                                  args.shared_prefix_tokens)
    if args.write_workload:
        json.dump(workload, open(args.write_workload, "w"), indent=1)
        if not args.url:
            return
    prompts = load_prompts(workload)

    if args.request_rate is not None:
        mode = {"kind": "open", "request_rate": args.request_rate, "max_concurrency": args.max_concurrency,
                "arrival_seed": args.seed + 1}
        runner = run_open
    else:
        mode = {"kind": "closed", "concurrency": args.concurrency}
        runner = run_closed
    mode.update({"num_requests": len(prompts), "duration": args.duration, "temperature": args.temperature,
                 "top_p": args.top_p, "top_k": args.top_k, "min_p": args.min_p,
                 "ignore_eos": True, "stream": True, "warmup": args.warmup})
    warm_up(args, workload, args.warmup)
    cpu0, started = time.process_time(), time.time()
    records = runner(args, workload, prompts, time.perf_counter())
    records.sort(key=lambda r: r["id"])
    summary = summarize(records)
    desc = (f"closed loop, {args.concurrency} clients" if mode["kind"] == "closed"
            else f"open loop, {args.request_rate} requests/s")
    print_table(args.label, summary, desc)
    if args.out:
        result = {"label": args.label, "url": args.url, "mode": mode, "started_unix": started,
                  "client_cpu_s": time.process_time() - cpu0, "workload": workload, "summary": summary,
                  "records": records}
        # A name ending in .gz is written gzip-compressed (deterministically: no name or time in the
        # header), which keeps the per-request records of a kept run small.
        if args.out.endswith(".gz"):
            with open(args.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as z:
                z.write(json.dumps(result, indent=1).encode())
        else:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
