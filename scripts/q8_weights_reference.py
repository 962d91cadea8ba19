"""What `--weights q8` should give on tiny-storywriter's 3,000-token `long` case, computed independently of the
engine: the shared float64 NumPy MPT (../shared/reference/numpy_mpt.py) run on weights quantized the way
Int8Blocks does it (groups of 32 along each row, scale = absmax/127 in float32, round half away from zero).
Prints the last-logit relative L2 against the golden reference and the mean NLL, exact and q8.

    python3 scripts/q8_weights_reference.py      # needs numpy; ~30 s
"""
import json, os, struct, sys
import numpy as np

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")
sys.path.insert(0, os.path.join(SHARED, "reference"))
import numpy_mpt

MODEL = os.path.join(SHARED, "fixtures", "models", "tiny-storywriter")

def load_bf16_safetensors(path):
    raw = open(path, "rb").read()
    length = struct.unpack("<Q", raw[:8])[0]
    header, start = json.loads(raw[8:8 + length]), 8 + length
    weights = {}
    for name, entry in header.items():
        if name == "__metadata__": continue
        assert entry["dtype"] == "BF16", name
        begin, end = entry["data_offsets"]
        bits = np.frombuffer(raw[start + begin:start + end], dtype="<u2").astype(np.uint32) << 16
        weights[name] = bits.view(np.float32).astype(np.float64).reshape(entry["shape"])
    return weights

def q8(matrix):
    values = matrix.astype(np.float32)
    out = np.empty_like(values)
    for first in range(0, values.shape[1], 32):
        group = values[:, first:first + 32]
        scale = (np.abs(group).max(1, keepdims=True) / np.float32(127)).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(scale > 0, group / scale, 0)
        codes = np.clip(np.sign(ratio) * np.floor(np.abs(ratio) + 0.5), -127, 127)
        out[:, first:first + 32] = codes * scale
    return out.astype(np.float64)

config = json.load(open(os.path.join(MODEL, "config.json")))
case = next(c for c in json.load(open(os.path.join(MODEL, "golden.json")))["cases"] if c["name"] == "long")
ids = case["input_ids"]
exact = load_bf16_safetensors(os.path.join(MODEL, "model.safetensors"))
quantized = {name: q8(w) if any(p in name for p in ("Wqkv", "out_proj", "up_proj", "down_proj")) else w for name, w in exact.items()}
quantized["lm_head.weight"] = q8(exact["transformer.wte.weight"])  # the tied head is quantized, the lookup is not
reference = np.fromfile(os.path.join(MODEL, case["last_logits_file"]), dtype="<f4").astype(np.float64)
for name, weights in (("stored", exact), ("q8", quantized)):
    logits = numpy_mpt.forward(weights, config, ids)
    relative = np.linalg.norm(logits[-1] - reference) / np.linalg.norm(reference)
    logp = logits[:-1] - logits[:-1].max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -logp[np.arange(len(ids) - 1), ids[1:]].mean()
    print(f"{name}: last-logit relative L2 {relative:.6g}, mean NLL {nll:.8f} (reference {case['mean_nll']:.8f})")
