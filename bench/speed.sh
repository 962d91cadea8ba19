#!/usr/bin/env bash
# Our own speed on two shapes, as JSON lines (one `storywriter bench --json` object per line, with a "test" label):
#  - the 124M StoryWriter-shaped MPT (d_model 768, 12 heads, 12 layers) in float32 and bfloat16:
#    pp512 + tg32 at depth 0, pp512 at depths 4,096 and 16,384 with each KV format;
#  - the 7B shape with 2 layers and with 1 (d_model 4096, 32 heads, bfloat16): prefill at depth 0 (a 2k context)
#    and at depth $DEEP, then a projection of the full 32-layer model's time for all of Gatsby (71,884 tokens).
#    The last block carries only the last row past Wqkv, so a model's time is (layers - 1) whole blocks and one
#    last block: the 1-layer model measures the last block, the 2-layer model minus it one whole block. Each is
#    fitted to the cost model t(token at position p) = a + b·p.
#
#   bench/speed.sh [WORK_DIR]     (default ${TMPDIR:-/tmp}/storywriter-speed)
#
# Environment: THREADS (default: all cores), REPS (default 3), DEEP (7B-shape depth, default 32768; it takes
# long on 2 cores: DEEP_REPS, default 1), FORMATS (KV formats at depth, default "f32 f16 q8"),
# STORYWRITER (a built binary; default: builds this package in release), SHAPES (default "124m 7b").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-${TMPDIR:-/tmp}/storywriter-speed}
REPS=${REPS:-3}
DEEP=${DEEP:-32768}
DEEP_REPS=${DEEP_REPS:-1}
FORMATS=${FORMATS:-"f32 f16 q8"}
SHAPES=${SHAPES:-"124m 7b"}
mkdir -p "$WORK"
cd "$WORK"
source "$ROOT/bench/common.sh"
synth m124-fp32 --d-model 768 --heads 12 --layers 12 --dtype fp32
synth m124-bf16 --d-model 768 --heads 12 --layers 12 --dtype bf16
synth m7b-2layers-bf16 --d-model 4096 --heads 32 --layers 2 --dtype bf16
synth m7b-1layer-bf16 --d-model 4096 --heads 32 --layers 1 --dtype bf16

run() { # label, then bench arguments; prints one JSON line
    local label=$1; shift
    log "$label: storywriter bench $*"
    local out
    out=$("$STORYWRITER" bench "${threads[@]}" --json "$@")
    printf '{"test": "%s", "date": "%s", "results": %s}\n' "$label" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$out"
}

if [[ " $SHAPES " == *" 124m "* ]]; then
    run "124M f32 pp512+tg32" --model m124-fp32 --context 512 --decode 32 --repetitions "$REPS"
    run "124M bf16 pp512+tg32" --model m124-bf16 --context 512 --decode 32 --repetitions "$REPS"
    run "124M bf16 tg32, q8 weights" --model m124-bf16 --context 0 --decode 32 --weights q8 --repetitions "$REPS"
    for depth in 4096 16384; do
        for format in $FORMATS; do
            run "124M f32 pp512 depth $depth $format KV" --model m124-fp32 --context 512 --depth "$depth" --decode 0 --kv-cache "$format" --repetitions "$REPS"
        done
    done
fi
[[ " $SHAPES " == *" 7b "* ]] || exit 0

shallow=$(run "7B-shape 2 layers pp2048" --model m7b-2layers-bf16 --context 2048 --decode 0 --repetitions "$REPS")
echo "$shallow"
deep=$(run "7B-shape 2 layers pp512 depth $DEEP" --model m7b-2layers-bf16 --context 512 --depth "$DEEP" --decode 0 --repetitions "$DEEP_REPS")
echo "$deep"
shallowLast=$(run "7B-shape 1 layer pp2048" --model m7b-1layer-bf16 --context 2048 --decode 0 --repetitions "$REPS")
echo "$shallowLast"
deepLast=$(run "7B-shape 1 layer pp512 depth $DEEP" --model m7b-1layer-bf16 --context 512 --depth "$DEEP" --decode 0 --repetitions "$DEEP_REPS")
echo "$deepLast"

# Projection: per token, a whole block costs t(p) = a + b·p and the last block t'(p) = a' + b'·p. From the 2k
# prefill (mean position ~1024) and the deep one (mean position DEEP + 256), solve each for its a and b, then
# sum 31 whole blocks and the last one over Gatsby's 71,884 positions.
python3 - "$shallow" "$deep" "$shallowLast" "$deepLast" <<'EOF'
import json, sys
shallow, deep, shallow_last, deep_last = (json.loads(line)["results"] for line in sys.argv[1:5])
assert shallow["n_layers"] == 2 and shallow_last["n_layers"] == 1
def per_token(r):
    return r["prefill_seconds"] / r["context"], r["depth"] + (r["context"] - 1) / 2
def fit(first, second):
    (t1, p1), (t2, p2) = first, second
    b = (t2 - t1) / (p2 - p1)
    return t1 - b * p1, b
def whole_block(two, one):
    (t2, p), (t1, _) = per_token(two), per_token(one)
    return t2 - t1, p
a, b = fit(whole_block(shallow, shallow_last), whole_block(deep, deep_last))
a_last, b_last = fit(per_token(shallow_last), per_token(deep_last))
tokens, words, layers = 71_884, 48_201, 32
def seconds_per_token(p):
    return (layers - 1) * (a + b * p) + a_last + b_last * p
# The cost is linear in p, so its sum over positions 0 ..< tokens is tokens times its value at the mean position.
seconds = tokens * seconds_per_token((tokens - 1) / 2)
print(json.dumps({
    "test": "projection: full 32-layer 7B shape, all of Gatsby",
    "seconds_per_token_per_whole_block_at_0": a, "seconds_per_token_per_whole_block_per_position": b,
    "seconds_per_token_last_block_at_0": a_last, "seconds_per_token_last_block_per_position": b_last,
    "words_per_minute_at_2k": 60 * words / tokens / seconds_per_token(per_token(shallow)[1]),
    f"words_per_minute_at_{deep['depth']}": 60 * words / tokens / seconds_per_token(per_token(deep)[1]),
    "gatsby_tokens": tokens, "gatsby_seconds": seconds, "gatsby_hours": seconds / 3600,
    "gatsby_words_per_minute": words / (seconds / 60),
    "note": "time of the transformer blocks only: 31 whole blocks and the last one, each fitted on its own; embedding and the last row's logits are negligible",
}))
EOF
