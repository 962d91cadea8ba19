#!/usr/bin/env bash
# Side-by-side speed of llama.cpp (llama-bench) and `storywriter bench` on the SAME random weights:
# a 124M-parameter MPT shaped like StoryWriter (d_model 768, 12 heads, 12 layers, clip_qkv 6, ALiBi bias max 16),
# in float32 and bfloat16. Prints one JSON object (also written to $WORK/llamacpp-vs-storywriter.json).
#
#   bench/llamacpp.sh [WORK_DIR]        (default WORK_DIR: ${TMPDIR:-/tmp}/storywriter-llamacpp)
#
# Environment: THREADS (default 2), REPS (llama-bench -r and our --repetitions, default 3), ROUNDS (times the
# whole list of tests runs, default 5),
# DEPTHS (default "4096 16384"), LLAMA_ISA ("native", the default: llama.cpp built with GGML_NATIVE, every
# instruction this CPU has; "avx2": AVX2, FMA and F16C only, the instruction set of StoryWriter's default
# build), LLAMA_CPP_PYTHON_VERSION (default 0.3.36), STORYWRITER (a built binary;
# default: builds this package in release), TORCH_SPEC (what pip installs for torch, default "torch": PyPI's
# Linux wheel is the CUDA build, several GB; point it at a CPU wheel file if you have one).
#
# What it needs: cmake, a C++ compiler, python3 with venv, and PyPI. llama.cpp's source comes from the
# llama-cpp-python sdist on PyPI (vendor/llama.cpp); the official converter convert_hf_to_gguf.py needs torch
# and transformers (installed into a venv in WORK_DIR; torch is large).
#
# llama.cpp's MPT reads clamp_kqv and max_alibi_bias from the GGUF, so both engines compute the same model;
# only the speed is compared here (exactness is the test suite's job).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-${TMPDIR:-/tmp}/storywriter-llamacpp}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
ROUNDS=${ROUNDS:-5}
DEPTHS=${DEPTHS:-"4096 16384"}
VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
LLAMA_ISA=${LLAMA_ISA:-native}
mkdir -p "$WORK"
cd "$WORK"
log() { echo "[llamacpp.sh] $*" >&2; }

# 1. llama.cpp source, from the llama-cpp-python sdist (only that package from source: its build tools as wheels).
if [ ! -d venv ]; then
    log "python venv"
    python3 -m venv venv
fi
if [ ! -d "llama_cpp_python-$VERSION" ]; then
    log "downloading llama-cpp-python $VERSION (sdist)"
    venv/bin/pip download --quiet --no-deps --no-binary llama-cpp-python "llama-cpp-python==$VERSION" -d .
    tar xzf "llama_cpp_python-$VERSION.tar.gz"
fi
LLAMA="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"

# 2. llama-bench, release, for this CPU (LLAMA_ISA=native) or for AVX2 + FMA + F16C (LLAMA_ISA=avx2).
case "$LLAMA_ISA" in
    native) BUILD="$LLAMA/build"; ISA_FLAGS=(-DGGML_NATIVE=ON) ;;
    avx2) BUILD="$LLAMA/build-avx2"; ISA_FLAGS=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF) ;;
    *) log "LLAMA_ISA must be native or avx2"; exit 2 ;;
esac
BENCH_BIN="$BUILD/bin/llama-bench"
if [ ! -x "$BENCH_BIN" ]; then
    log "building llama-bench (-O3, $LLAMA_ISA)"
    cmake -S "$LLAMA" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "${ISA_FLAGS[@]}" -DLLAMA_CURL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >&2
    cmake --build "$BUILD" --target llama-bench -j "$(nproc)" >&2
fi

# 3. The converter's Python packages.
if ! venv/bin/python -c "import torch, transformers, gguf, numpy" 2>/dev/null; then
    log "installing numpy, torch, transformers, sentencepiece and llama.cpp's gguf-py into the venv"
    venv/bin/pip install --quiet "${TORCH_SPEC:-torch}" numpy transformers sentencepiece "$LLAMA/gguf-py" >&2
fi

# 4. The same random weights in both precisions (one seed), with the MPT tokenizer.
if [ -z "${STORYWRITER:-}" ]; then
    log "building storywriter (release)"
    (cd "$ROOT" && swift build -c release --product storywriter >&2)
    STORYWRITER="$ROOT/.build/release/storywriter"
fi
TOKENIZER="$ROOT/Tests/Fixtures/tokenizer/tokenizer.json"
for dtype in fp32 bf16; do
    if [ ! -f "m124-$dtype/model.safetensors" ]; then
        "$STORYWRITER" synth "m124-$dtype" --d-model 768 --heads 12 --layers 12 --dtype "$dtype" \
            --clip-qkv 6 --alibi-bias-max 16 --seed 0 --tokenizer "$TOKENIZER" >&2
    fi
done

# 5. GGUF with llama.cpp's own converter. It reads config.json through transformers, whose MptConfig now
# type-checks fields strictly: embedding_fraction and clip_qkv must be floats (1.0, 6.0), which the original
# mosaicml configs (and ours) write as integers. The converter gets a copy with just those two retyped.
for pair in "fp32 f32" "bf16 bf16"; do
    set -- $pair
    if [ ! -f "m124-$2.gguf" ]; then
        log "converting m124-$1 to GGUF ($2)"
        mkdir -p "hf-$1"
        ln -sf "../m124-$1/model.safetensors" "../m124-$1/tokenizer.json" "hf-$1/"
        venv/bin/python -c '
import json, sys
config = json.load(open(sys.argv[1]))
config["embedding_fraction"] = float(config["embedding_fraction"])
config["attn_config"]["clip_qkv"] = float(config["attn_config"]["clip_qkv"])
json.dump(config, open(sys.argv[2], "w"), indent=1)
' "m124-$1/config.json" "hf-$1/config.json"
        venv/bin/python "$LLAMA/convert_hf_to_gguf.py" "hf-$1" --outtype "$2" --outfile "m124-$2.gguf" >&2
    fi
done

# 6. Both engines, each test run by llama.cpp and then at once by storywriter, so that the machine's drift over
#    the minutes of a run falls on both alike; the whole list ROUNDS times, since one reading of one test can be
#    off by 40% on a shared machine (bench/llamacpp_goals.py judges the goals on the medians over rounds).
#    As llama-bench does, prefill (pp512) and decode (tg32) are separate tests, and decode starts from an empty cache.
runs=()
round=0
llama() { # label, then llama-bench arguments
    local label=$1; shift
    log "round $round/$ROUNDS, llama-bench $label: $*"
    local out
    out=$("$BENCH_BIN" -t "$THREADS" -fa 1 -r "$REPS" -o json "$@")
    runs+=("{\"engine\": \"llama.cpp\", \"test\": \"$label\", \"round\": $round, \"results\": $out}")
}
ours() { # label, then storywriter bench arguments
    local label=$1; shift
    log "round $round/$ROUNDS, storywriter bench $label: $*"
    local out
    out=$("$STORYWRITER" bench --threads "$THREADS" --repetitions "$REPS" --json "$@")
    runs+=("{\"engine\": \"storywriter\", \"test\": \"$label\", \"round\": $round, \"results\": $out}")
}
for round in $(seq "$ROUNDS"); do
    llama "pp512 f32" -m m124-f32.gguf -p 512 -n 0
    ours "pp512 f32" --model m124-fp32 --context 512 --decode 0
    llama "pp512 bf16" -m m124-bf16.gguf -p 512 -n 0
    ours "pp512 bf16" --model m124-bf16 --context 512 --decode 0
    llama "tg32 f32" -m m124-f32.gguf -p 0 -n 32
    ours "tg32 f32" --model m124-fp32 --context 0 --decode 32
    llama "tg32 bf16" -m m124-bf16.gguf -p 0 -n 32
    ours "tg32 bf16" --model m124-bf16 --context 0 --decode 32
    ours "tg32 q8 weights (from bf16)" --model m124-bf16 --context 0 --decode 32 --weights q8
    for depth in $DEPTHS; do
        llama "pp512 f32 depth $depth f16 KV" -m m124-f32.gguf -p 512 -n 0 -d "$depth" -ctk f16 -ctv f16
        for format in f32 f16; do
            ours "pp512 f32 depth $depth $format KV" --model m124-fp32 --context 512 --depth "$depth" --decode 0 --kv-cache "$format"
        done
    done
    llama "pp512 f32 depth 4096 q8_0 KV" -m m124-f32.gguf -p 512 -n 0 -d 4096 -ctk q8_0 -ctv q8_0
    ours "pp512 f32 depth 4096 q8 KV" --model m124-fp32 --context 512 --depth 4096 --decode 0 --kv-cache q8
done

# 7. One JSON object: machine, date, every round's results, and the goals judged on them.
report=$(
    printf '{"date": "%s", "machine": "%s", "cpu": "%s", "avx512": %s, "llama_isa": "%s", "threads": %s, "rounds": %s, "llama_cpp_python": "%s", "runs": [' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -srm)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
        "$(grep -qw avx512f /proc/cpuinfo && echo true || echo false)" "$LLAMA_ISA" "$THREADS" "$ROUNDS" "$VERSION"
    (IFS=,; printf '%s' "${runs[*]}")
    printf ']'
)
printf '%s}\n' "$report" > runs.json
printf '%s, "verdict": %s}\n' "$report" "$(python3 "$ROOT/bench/llamacpp_goals.py" runs.json)" | tee llamacpp-vs-storywriter.json
