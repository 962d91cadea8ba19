#!/usr/bin/env bash
# Times encoding a whole book with StoryWriter's tokenizer (release build), and with Hugging Face
# `tokenizers` when Python has it (pip install tokenizers). Prints one JSON object.
# Usage: [SCRATCH=.build-dir] bench/tokenizer.sh [BOOK] [REPETITIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
book="${1:-Tests/Fixtures/books/gatsby.txt}"
repetitions="${2:-9}"
tokenizer="Tests/Fixtures/tokenizer/tokenizer.json"
scratch="${SCRATCH:-.build}"
swift build -c release --scratch-path "$scratch" --product storywriter >&2
ours=$("$scratch"/release/storywriter tokenize "$book" --tokenizer "$tokenizer" --benchmark "$repetitions")
if python3 -c "import tokenizers" 2>/dev/null; then
    hf=$(python3 bench/tokenizer_hf.py "$tokenizer" "$book" "$repetitions")
else
    hf='null'
fi
python3 - "$ours" "$hf" "$book" <<'PY'
import json, os, platform, sys
ours, hf = json.loads(sys.argv[1]), json.loads(sys.argv[2])
result = {"benchmark": "tokenizer-encode", "book": sys.argv[3], "machine": platform.machine(), "cpus": os.cpu_count(),
          "load_average": os.getloadavg()[0], "storywriter": ours, "hf_tokenizers": hf}
if hf:
    result["speedup_vs_hf"] = round(hf["encode_median_seconds"] / ours["encode_median_seconds"], 2)
    result["same_token_count"] = hf["tokens"] == ours["tokens"]
print(json.dumps(result, indent=1))
PY
