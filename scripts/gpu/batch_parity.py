#!/usr/bin/env python3
"""GPU check of batched decoding through HTTP: eight greedy completions one at a time, then the same
eight at once, against a running `rbees-workerd serve --max-seqs 8` (ignore_eos, 48 tokens each).
Prints how many are identical and, for any that part, where and by what top-2 margin the solo run
chose (a parting is only acceptable at a near tie: kernels round differently in and out of a batch).
Usage: batch_parity.py http://127.0.0.1:PORT
"""
import json, sys, threading, urllib.request
url = sys.argv[1]
prompts = [f"Story {i}: once upon a time in the land of {w}" for i, w in enumerate(
    ["snow", "sand", "rivers", "glass", "iron", "clouds", "salt", "moss"])]
def ask(p):
    body = json.dumps({"prompt": p, "max_tokens": 48, "temperature": 0, "ignore_eos": True, "logprobs": 2}).encode()
    r = urllib.request.urlopen(urllib.request.Request(url + "/v1/completions", body, {"Content-Type": "application/json"}))
    c = json.loads(r.read())["choices"][0]
    return c["logprobs"]["tokens"], c["logprobs"]["top_logprobs"]
solo = [ask(p) for p in prompts]
together = [None] * len(prompts)
def run(i): together[i] = ask(prompts[i])
ts = [threading.Thread(target=run, args=(i,)) for i in range(len(prompts))]
[t.start() for t in ts]; [t.join() for t in ts]
same = 0
for i, (a, b) in enumerate(zip(solo, together)):
    if a[0] == b[0]:
        same += 1; continue
    k = next(j for j in range(len(a[0])) if a[0][j] != b[0][j])
    top = sorted(a[1][k].values(), reverse=True)
    print(f"prompt {i}: parted at token {k}, solo top-2 margin {top[0]-top[1]:.4f}")
print(f"{same} of {len(prompts)} identical (48 greedy tokens each)")
