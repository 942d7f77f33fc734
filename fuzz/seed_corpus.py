#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from the project's real files (tests/data,
models/wp-llama-5m, fuzz/seeds) and ../shared when it is there.

    seed_corpus.py BUILD_DIR OUT_DIR

Large files are cut down to small files of the same form (a few tensors of a real safetensors file,
the first tokens of a real tokenizer.json) so that each fuzzing run stays fast."""
import json
import pathlib
import shutil
import struct
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def write(out, target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def small_safetensors(path, keep):
    """The `keep` smallest tensors of a real safetensors file, offsets renumbered."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", None)
    items = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][1] - kv[1]["data_offsets"][0])[:keep]
    new, blob = {}, b""
    if meta is not None:
        new["__metadata__"] = meta
    for name, info in items:
        a, b = info["data_offsets"]
        new[name] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [len(blob), len(blob) + b - a]}
        blob += raw[8 + n + a : 8 + n + b]
    h = json.dumps(new).encode()
    return struct.pack("<Q", len(h)) + h + blob, raw[: 8 + n]


def small_tokenizer(path, keep):
    """A real tokenizer.json with its vocabulary cut to the first `keep` ids (merges and added
    tokens filtered to match)."""
    tok = json.loads(path.read_text())
    model = tok["model"]
    vocab = {t: i for t, i in model["vocab"].items() if i < keep}
    model["vocab"] = vocab
    merges = []
    for m in model.get("merges", []):
        parts = m.split(" ", 1) if isinstance(m, str) else m
        if len(parts) == 2 and all(p in vocab for p in parts) and "".join(parts) in vocab:
            merges.append(m)
    model["merges"] = merges
    tok["added_tokens"] = [t for t in tok.get("added_tokens", []) if t["id"] < keep]
    return json.dumps(tok)


def main():
    build, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    model_dir = ROOT / "models/wp-llama-5m"
    have_shared = SHARED.is_dir()

    # safetensors
    for i, f in enumerate([ROOT / "tests/data/wp-llama-5m.ref-given.safetensors", model_dir / "model.safetensors"]):
        for keep in (1, 3, 8):
            small, header_only = small_safetensors(f, keep)
            write(out, "safetensors_fuzz", f"real{i}-{keep}.safetensors", small)
        write(out, "safetensors_fuzz", f"real{i}-header.safetensors", header_only[:65536])

    # GGUF: tiny whole models, and the start of the real files (metadata and tensor infos)
    seeder = build / "fuzz/rbees-make-gguf-seed"
    for t in ("f32", "f16"):
        target = out / "gguf_fuzz" / f"tiny-{t}.gguf"
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(seeder), str(target), t], check=True)
    # Inputs that once failed (tests/data/fuzz) keep being replayed and mutated.
    regressions = sorted((ROOT / "tests/data/fuzz").glob("*.gguf"))
    shared_gguf = [SHARED / "models/llama-2-tiny-random.gguf"] if have_shared else []
    for f in [ROOT / "tests/data/wp-llama-5m-q8_0.gguf"] + regressions + shared_gguf:
        write(out, "gguf_fuzz", f.name + ".head", f.read_bytes()[:65536])

    # config.json and generation_config.json
    for f in ["config.json", "generation_config.json", "tokenizer_config.json"]:
        write(out, "hf_config_fuzz", f, (model_dir / f).read_bytes())
    if have_shared:
        for i, f in enumerate(sorted(SHARED.glob("**/config.json"))):
            write(out, "hf_config_fuzz", f"shared{i}.json", f.read_bytes())

    # tokenizer.json: cut-down real files (the full ones are hundreds of kilobytes)
    tokenizers = [model_dir / "tokenizer.json"]
    if have_shared:
        tokenizers.append(SHARED / "tokenizers/llama2-spm-tokenizer/tokenizer.json")
    for i, f in enumerate(tokenizers):
        for keep in (64, 300):
            write(out, "tokenizer_json_fuzz", f"real{i}-{keep}.json", small_tokenizer(f, keep))

    # encoder/decoder: mode byte + text, or mode byte + int32 ids
    texts = [c["prompt"] for c in json.loads((ROOT / "tests/data/wp-llama-5m.ref-given.json").read_text()).get("cases", [])]
    id_lists = [c["input_ids"] for c in json.loads((ROOT / "tests/data/wp-llama-5m.ref-given.json").read_text()).get("cases", [])]
    if have_shared:
        for entry in json.loads((SHARED / "tokenizers/tokenizer-refs.json").read_text()):
            for c in entry["cases"]:
                texts.append(c["text"][:512])
                if entry["tokenizer"] == "wp-llama-5m":
                    id_lists.append(c["ids"][:128])
    for i, t in enumerate(texts):
        write(out, "tokenizer_codec_fuzz", f"text{i}", bytes([1 | 2 | 4]) + t.encode())
    for i, ids in enumerate(id_lists):
        write(out, "tokenizer_codec_fuzz", f"ids{i}", bytes([0]) + struct.pack(f"<{len(ids)}i", *ids))

    # chat templates
    write(out, "chat_template_fuzz", "wp-llama-5m.jinja", (model_dir / "chat_template.jinja").read_bytes())
    if have_shared:
        refs = json.loads((SHARED / "tokenizers/chat-template-refs.json").read_text())
        for t in refs["templates"]:
            write(out, "chat_template_fuzz", f"shared-{t['template']}.jinja", t["source"])

    # request bodies
    for f in sorted((ROOT / "fuzz/seeds/request_body").iterdir()):
        write(out, "request_body_fuzz", f.name, f.read_bytes())


if __name__ == "__main__":
    main()
