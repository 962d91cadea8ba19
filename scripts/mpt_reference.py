#!/usr/bin/env python3
"""An independent float64 NumPy forward pass of MPT, the reference for the test goldens.

Written from the MPT definition in MosaicML's llm-foundry (llmfoundry/models/mpt/modeling_mpt.py and
llmfoundry/models/layers/{attention,blocks,ffn,norm}.py), for the configurations StoryWriter runs:
ALiBi without positional embeddings, LayerNorm without bias, fused Wqkv, no biases, exact-erf GELU.
It needs only NumPy: safetensors (bf16/fp16/fp32, single or sharded through an index) are parsed here.

Regenerate the committed goldens (Tests/Fixtures/models/*/golden.json and the logits files) from the
checkpoints that `storywriter synth` makes, after `swift build -c release`:

    scripts/make_goldens.sh

which runs, for each checkpoint listed in Tests/Fixtures/models/checkpoints.json,

    python3 scripts/mpt_reference.py CHECKPOINT_DIR --cases CASES_JSON --tokenizer TOKENIZER_JSON --out OUT_DIR

Check the reference against the goldens of another set of fixtures (golden.json beside safetensors weights;
PyTorch .bin checkpoints are not read, there is no pickle reader here):

    python3 scripts/mpt_reference.py --check-shared ../shared/fixtures/models
"""
import argparse
import json
import math
import os
import sys

import numpy as np

LAYER_NORM_EPS = 1e-5


# ---------------------------------------------------------------------------------------------- weights

def read_safetensors(path):
    """Every tensor of one safetensors file, as float64 arrays."""
    dtypes = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32}
    with open(path, "rb") as handle:
        header_length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(header_length))
        data = handle.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in dtypes:
            raise SystemExit(f"{path}: {name} has dtype {entry['dtype']}; the reference reads BF16, F16 and F32")
        start, end = entry["data_offsets"]
        raw = np.frombuffer(data[start:end], dtype=np.dtype(dtypes[entry["dtype"]]).newbyteorder("<"))
        if entry["dtype"] == "BF16":  # bfloat16 is the upper half of a float32
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = raw.astype(np.float64).reshape(entry["shape"])
    return tensors


def read_weights(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as handle:
            files = sorted(set(json.load(handle)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        tensors.update(read_safetensors(os.path.join(folder, name)))
    return tensors


# ---------------------------------------------------------------------------------------------- config

class Config:
    """The fields of config.json that change the computation, in either dialect (mosaicml's or the one
    transformers' save_pretrained writes: both nest the attention options under attn_config)."""

    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as handle:
            raw = json.load(handle)
        attn = raw.get("attn_config", {})
        self.d_model = raw["d_model"]
        self.n_heads = raw["n_heads"]
        self.n_layers = raw["n_layers"]
        self.vocab_size = raw["vocab_size"]
        self.expansion_ratio = raw.get("expansion_ratio", 4)
        self.alibi_bias_max = attn.get("alibi_bias_max", 8)
        self.clip_qkv = attn.get("clip_qkv")
        self.softmax_scale = attn.get("softmax_scale")
        self.logit_scale = raw.get("logit_scale")
        self.tied = raw.get("tie_word_embeddings", True)
        unsupported = [
            ("alibi", attn.get("alibi", True) is not True),
            ("qk_ln", bool(attn.get("qk_ln", False))),
            ("no_bias", raw.get("no_bias", True) is not True),
            ("kv_n_heads", attn.get("kv_n_heads", self.n_heads) != self.n_heads),
            ("prefix_lm", bool(attn.get("prefix_lm", False))),
        ]
        for key, present in unsupported:
            if present:
                raise SystemExit(f"{folder}: {key} in config.json is outside what this reference computes")
        if self.logit_scale == "inv_sqrt_d_model":
            self.logit_scale = 1 / math.sqrt(self.d_model)


# ---------------------------------------------------------------------------------------------- model

def layer_norm(x, weight):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + LAYER_NORM_EPS) * weight


def gelu(x):
    """GELU with the exact error function (torch.nn.GELU(approximate='none'))."""
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def alibi_slopes(n_heads, alibi_bias_max):
    """llm-foundry's gen_slopes: slopes for the next power of two of heads; for another head count, the odd
    ones then the even ones, cut to n_heads."""
    padded = 2 ** math.ceil(math.log2(n_heads))
    m = np.arange(1, padded + 1, dtype=np.float64) * (alibi_bias_max / padded)
    slopes = 1.0 / np.power(2.0, m)
    if padded != n_heads:
        slopes = np.concatenate([slopes[1::2], slopes[::2]])[:n_heads]
    return slopes


class MPT:
    def __init__(self, folder, weights_folder=None):
        self.config = Config(folder)
        self.weights = read_weights(weights_folder or folder)
        c = self.config
        self.head_dim = c.d_model // c.n_heads
        self.softmax_scale = c.softmax_scale if c.softmax_scale is not None else 1 / math.sqrt(self.head_dim)
        self.slopes = alibi_slopes(c.n_heads, c.alibi_bias_max)
        self.embedding = self.weights["transformer.wte.weight"]
        self.head = self.embedding if c.tied else self.weights["lm_head.weight"]

    def block(self, x, layer, cache, start):
        """One transformer block on rows at positions start..start+len(x)-1; cache holds earlier keys/values."""
        c, w = self.config, self.weights
        prefix = f"transformer.blocks.{layer}."
        qkv = layer_norm(x, w[prefix + "norm_1.weight"]) @ w[prefix + "attn.Wqkv.weight"].T
        if c.clip_qkv is not None:
            qkv = np.clip(qkv, -c.clip_qkv, c.clip_qkv)
        q, k, v = np.split(qkv, 3, axis=-1)
        rows = x.shape[0]
        heads = lambda t: t.reshape(t.shape[0], c.n_heads, self.head_dim).transpose(1, 0, 2)
        q, k, v = heads(q), heads(k), heads(v)
        if layer in cache:
            k = np.concatenate([cache[layer][0], k], axis=1)
            v = np.concatenate([cache[layer][1], v], axis=1)
        cache[layer] = (k, v)
        query_positions = np.arange(start, start + rows)
        key_positions = np.arange(k.shape[1])
        distance = key_positions[None, :] - query_positions[:, None]  # ≤ 0 for keys a query may see
        scores = q @ k.transpose(0, 2, 1) * self.softmax_scale + self.slopes[:, None, None] * distance[None]
        scores = np.where(distance[None] > 0, -np.inf, scores)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention = (scores / scores.sum(axis=-1, keepdims=True)) @ v
        x = x + attention.transpose(1, 0, 2).reshape(rows, c.d_model) @ w[prefix + "attn.out_proj.weight"].T
        hidden = gelu(layer_norm(x, w[prefix + "norm_2.weight"]) @ w[prefix + "ffn.up_proj.weight"].T)
        return x + hidden @ w[prefix + "ffn.down_proj.weight"].T

    def hidden_states(self, ids, cache, start):
        x = self.embedding[np.asarray(ids)]
        for layer in range(self.config.n_layers):
            x = self.block(x, layer, cache, start)
        return layer_norm(x, self.weights["transformer.norm_f.weight"])

    def logits(self, hidden):
        logits = hidden @ self.head.T
        return logits * self.config.logit_scale if self.config.logit_scale is not None else logits

    def evaluate(self, ids, greedy_tokens=16, rows_per_chunk=256):
        """Last-position logits, mean NLL of tokens 2..N, and greedy decoding through the cache."""
        cache = {}
        hidden = self.hidden_states(ids, cache, 0)
        nll = 0.0
        for first in range(0, len(ids) - 1, rows_per_chunk):
            last = min(first + rows_per_chunk, len(ids) - 1)
            logits = self.logits(hidden[first:last])
            peak = logits.max(axis=-1, keepdims=True)
            log_normalizer = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=-1))
            targets = np.asarray(ids[first + 1:last + 1])
            nll += float((log_normalizer - logits[np.arange(last - first), targets]).sum())
        logits = self.logits(hidden[-1:])[0]
        last_logits = logits
        greedy, margin = [], math.inf
        position = len(ids)
        for _ in range(greedy_tokens):
            best = int(np.argmax(logits))
            margin = min(margin, float(logits[best] - np.delete(logits, best).max()))
            greedy.append(int(best))
            logits = self.logits(self.hidden_states([int(best)], cache, position))[0]
            position += 1
        return last_logits, nll / (len(ids) - 1), greedy, margin


# ---------------------------------------------------------------------------------------------- text

class ByteLevelDecoder:
    """tokenizers' decode(ids) for a byte-level BPE tokenizer.json: special tokens and ids without text are
    skipped; the rest map back to bytes, read as UTF-8 with replacement characters."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as handle:
            tokenizer = json.load(handle)
        self.tokens = {index: token for token, index in tokenizer["model"]["vocab"].items()}
        self.special = set()
        for added in tokenizer["added_tokens"]:
            self.tokens[added["id"]] = added["content"]
            if added["special"]:
                self.special.add(added["id"])
        printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
        extra = 0
        self.byte_of = {}
        for byte in range(256):
            if byte in printable:
                self.byte_of[chr(byte)] = byte
            else:
                self.byte_of[chr(256 + extra)] = byte
                extra += 1

    def decode(self, ids):
        data = bytearray()
        for index in ids:
            if index in self.special or index not in self.tokens:
                continue
            for character in self.tokens[index]:
                if character in self.byte_of:
                    data.append(self.byte_of[character])
                else:
                    data.extend(character.encode("utf-8"))
        return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------- commands

def golden(args):
    """Writes golden.json and one float32 little-endian logits file per case into args.out."""
    model = MPT(args.checkpoint)
    decoder = ByteLevelDecoder(args.tokenizer)
    with open(args.cases) as handle:
        cases = json.load(handle)["cases"]
    os.makedirs(args.out, exist_ok=True)
    written = []
    for case in cases:
        last_logits, mean_nll, greedy, margin = model.evaluate(case["input_ids"])
        logits_file = f"golden-{case['name']}.logits.f32"
        last_logits.astype("<f4").tofile(os.path.join(args.out, logits_file))
        written.append({
            "name": case["name"], "input_ids": case["input_ids"], "last_logits_file": logits_file,
            "mean_nll": mean_nll, "greedy_ids": greedy, "greedy_text": decoder.decode(greedy),
            "greedy_min_top2_margin": margin,
        })
        print(f"{args.checkpoint} {case['name']}: {len(case['input_ids'])} tokens, mean NLL {mean_nll:.6f}, "
              f"greedy margin {margin:.4g}", file=sys.stderr)
    document = {"reference": "scripts/mpt_reference.py: float64 NumPy forward pass of MPT (llm-foundry's definition)", "cases": written}
    with open(os.path.join(args.out, "golden.json"), "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, ensure_ascii=False)
        handle.write("\n")


def check_shared(args):
    """Compares the reference with every golden.json under args.models; exits non-zero on disagreement."""
    failures = 0
    for name in sorted(os.listdir(args.models)):
        folder = os.path.join(args.models, name)
        golden_path = os.path.join(folder, "golden.json")
        if not os.path.exists(golden_path):
            continue
        model = MPT(folder)
        with open(golden_path) as handle:
            cases = json.load(handle)["cases"]
        for case in cases:
            last_logits, mean_nll, greedy, margin = model.evaluate(case["input_ids"], greedy_tokens=len(case["greedy_ids"]))
            expected = np.fromfile(os.path.join(folder, case["last_logits_file"]), dtype="<f4").astype(np.float64)
            relative_l2 = float(np.linalg.norm(last_logits - expected) / np.linalg.norm(expected))
            max_absolute = float(np.abs(last_logits - expected).max())
            nll_relative = abs(mean_nll - case["mean_nll"]) / abs(case["mean_nll"])
            same_greedy = greedy == case["greedy_ids"]
            agrees = relative_l2 < 1e-5 and nll_relative < 1e-5 and same_greedy
            failures += not agrees
            print(f"{name:20} {case['name']:7} {len(case['input_ids']):5} tokens  logits rel. L2 {relative_l2:.2e}  "
                  f"max abs {max_absolute:.2e}  mean NLL rel. {nll_relative:.2e}  greedy {'same' if same_greedy else 'DIFFERENT'}"
                  f"  margin {margin:.4f}{'' if agrees else '  FAIL'}")
    if failures:
        raise SystemExit(f"{failures} case(s) disagree")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", nargs="?", help="the checkpoint folder to write goldens for")
    parser.add_argument("--cases", help="a JSON file with cases: [{name, input_ids}]")
    parser.add_argument("--tokenizer", help="tokenizer.json, to decode the greedy continuations")
    parser.add_argument("--out", help="the folder for golden.json and the logits files")
    parser.add_argument("--check-shared", metavar="MODELS", dest="models",
                        help="instead, reproduce the golden.json in every folder of MODELS")
    args = parser.parse_args()
    if args.models:
        check_shared(args)
    elif args.checkpoint and args.cases and args.tokenizer and args.out:
        golden(args)
    else:
        parser.error("give CHECKPOINT with --cases, --tokenizer and --out, or --check-shared MODELS")


if __name__ == "__main__":
    main()
