#!/usr/bin/env bash
# Decode speed of several endings written together (`--variants N`) against one, side by side in one run:
# `storywriter bench --variants N --context 0` for each N in $COUNTS, the list run $ROUNDS times in turn so that
# a noisy machine weighs on every N alike. Each bench counts the tokens of all N sequences; the ratio to N=1 of
# the same round is what the batch buys. Shapes:
#  - 7b: the 7B shape with 2 layers (d_model 4096, 32 heads), bfloat16 weights, and the same with --weights q8;
#  - 124m: the 124M random MPT of bench/llamacpp.sh (d_model 768, 12 heads, 12 layers), bfloat16.
# Prints one JSON object (also written to bench/results/variants-DATE-COMMIT.json): every bench's result by
# round, and per configuration and N the median tokens/s over the rounds and its ratio to N=1's median.
#
#   bench/variants.sh [WORK_DIR]     (default ${TMPDIR:-/tmp}/storywriter-variants)
#
# Environment: THREADS (default: all cores), ROUNDS (default 3), REPS (bench --repetitions, default 3),
# DECODE (decode steps timed per repetition, default 16), COUNTS (default "1 4 8"), SHAPES (default "7b 124m"),
# STORYWRITER (a built binary; default: builds this package in release).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-${TMPDIR:-/tmp}/storywriter-variants}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-3}
DECODE=${DECODE:-16}
COUNTS=${COUNTS:-"1 4 8"}
SHAPES=${SHAPES:-"7b 124m"}
mkdir -p "$WORK"
cd "$WORK"
source "$ROOT/bench/common.sh"

configurations=()
if [[ " $SHAPES " == *" 7b "* ]]; then
    synth m7b-2layers-bf16 --d-model 4096 --heads 32 --layers 2 --dtype bf16
    configurations+=("7B-shape bf16|--model m7b-2layers-bf16" "7B-shape q8 weights|--model m7b-2layers-bf16 --weights q8")
fi
if [[ " $SHAPES " == *" 124m "* ]]; then
    synth m124-bf16 --d-model 768 --heads 12 --layers 12 --dtype bf16
    configurations+=("124M bf16|--model m124-bf16")
fi

lines="$WORK/variants.jsonl"
: > "$lines"
for round in $(seq 1 "$ROUNDS"); do
    for configuration in "${configurations[@]}"; do
        label=${configuration%%|*}
        read -r -a arguments <<< "${configuration#*|}"
        for count in $COUNTS; do
            log "round $round/$ROUNDS, $label, --variants $count"
            out=$("$STORYWRITER" bench "${threads[@]}" --json --context 0 --decode "$DECODE" --repetitions "$REPS" \
                --gemm-size 256 --variants "$count" "${arguments[@]}")
            printf '{"configuration": "%s", "variants": %s, "round": %s, "date": "%s", "load": "%s", "results": %s}\n' \
                "$label" "$count" "$round" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$out" >> "$lines"
        done
    done
done

commit=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$ROOT/bench/results"
result="$ROOT/bench/results/variants-$(date -u +%Y-%m-%d)-$commit.json"
python3 - "$lines" > "$result" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
summary = {}
for run in runs:
    summary.setdefault(run["configuration"], {}).setdefault(str(run["variants"]), []).append(run["results"]["decode_tokens_per_second"])
table = {}
for configuration, counts in summary.items():
    anchor = statistics.median(counts["1"]) if "1" in counts else None
    table[configuration] = {
        count: {"median_tokens_per_second": statistics.median(values),
                "ratio_to_one": statistics.median(values) / anchor if anchor else None,
                "rounds": values}
        for count, values in counts.items()
    }
print(json.dumps({"summary": table, "runs": runs}, indent=1))
PY
cat "$result"
log "wrote $result"
