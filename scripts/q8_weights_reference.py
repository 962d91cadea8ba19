"""What `--weights q8` should give on tiny-storywriter's 3,000-token `long` case, computed independently of the
engine: the float64 NumPy MPT of scripts/mpt_reference.py run on weights quantized the way Q8 does it
(groups of 32 along each row, scale = absmax/127 in float32, round half away from zero).
Prints the last-logit relative L2 against the golden and the mean NLL, stored and q8.

    python3 scripts/q8_weights_reference.py CHECKPOINT      # needs numpy; a minute or two

CHECKPOINT is tiny-storywriter as the tests make it: `storywriter synth DIR` with its flags in
Tests/Fixtures/models/checkpoints.json (a test run leaves it in .build/release/test-fixtures/KEY/tiny-storywriter).
"""
import json, os, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpt_reference import MPT

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "models", "tiny-storywriter")

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

if len(sys.argv) != 2:
    raise SystemExit(__doc__)
case = next(c for c in json.load(open(os.path.join(GOLDEN, "golden.json")))["cases"] if c["name"] == "long")
reference = np.fromfile(os.path.join(GOLDEN, case["last_logits_file"]), dtype="<f4").astype(np.float64)
model = MPT(sys.argv[1])
stored = (model.weights, model.head)
quantized = {name: q8(w) if any(p in name for p in ("Wqkv", "out_proj", "up_proj", "down_proj")) else w for name, w in model.weights.items()}
for name, (weights, head) in (("stored", stored), ("q8", (quantized, q8(model.embedding)))):  # the tied head is quantized, the lookup is not
    model.weights, model.head = weights, head
    logits, nll, _, _ = model.evaluate(case["input_ids"], greedy_tokens=0)
    relative = np.linalg.norm(logits - reference) / np.linalg.norm(reference)
    print(f"{name}: last-logit relative L2 {relative:.6g}, mean NLL {nll:.8f} (golden {case['mean_nll']:.8f})")
