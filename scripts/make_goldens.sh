#!/usr/bin/env bash
# Regenerates the committed model goldens (Tests/Fixtures/models/*/golden.json and golden-*.logits.f32):
# makes each checkpoint with `storywriter synth` and the flags in Tests/Fixtures/models/checkpoints.json, as the
# tests do, and runs the float64 NumPy reference (scripts/mpt_reference.py) on the cases each golden.json holds.
#
#   scripts/make_goldens.sh [NAME...]      (default: every checkpoint that has a golden.json)
#
# Needs python3 with NumPy. Only after a deliberate change of a recipe: the goldens are the tests' ground truth.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >&2
storywriter="$(swift build -c release --show-bin-path)/storywriter"
models=Tests/Fixtures/models
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for golden in "$models"/*/golden.json; do names+=("$(basename "$(dirname "$golden")")"); done
fi
for name in "${names[@]}"; do
    mapfile -t flags < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$models/checkpoints.json" "$name")
    "$storywriter" synth "$work/$name" "${flags[@]}" >/dev/null
    python3 scripts/mpt_reference.py "$work/$name" --cases "$models/$name/golden.json" \
        --tokenizer Tests/Fixtures/tokenizer/tokenizer.json --out "$models/$name"
done
