#!/usr/bin/env bash
# StoryWriter quick start on a fresh Debian/Ubuntu machine: install the system libraries, build in release,
# and continue the example manuscript (a copy of it) with a model.
#
#   scripts/quickstart.sh [--model DIR] [--tokenizer FILE] [continue options...]
#
# --model DIR (or $STORYWRITER_MODEL): a downloaded MPT checkpoint folder, e.g. mosaicml/mpt-7b-storywriter; it
# writes real prose. Without one, a small random-weight checkpoint is made with `storywriter synth` so the whole
# pipeline runs in a minute or two, offline; its text is noise. It takes the MPT tokenizer.json committed with the
# tests (Tests/Fixtures/tokenizer), or --tokenizer FILE (or $STORYWRITER_TOKENIZER).
# Any other options are passed to `storywriter continue` (e.g. --max-new-tokens 100 --seed 7).
# It builds exactly as scripts/test.sh and scripts/install.sh do (`swift build -c release`), so they share one build.
set -euo pipefail
cd "$(dirname "$0")/.."

model="${STORYWRITER_MODEL:-}"
tokenizer="${STORYWRITER_TOKENIZER:-}"
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model="$2"; shift 2 ;;
        --tokenizer) tokenizer="$2"; shift 2 ;;
        *) extra+=("$1"); shift ;;
    esac
done

say() { printf '\n== %s\n' "$*" >&2; }

say "System libraries (OpenBLAS, LZ4)"
if ! dpkg -s libopenblas-dev liblz4-dev >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libopenblas-dev liblz4-dev
else
    echo "already installed" >&2
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "Swift 6 is needed to build StoryWriter: install it with swiftly (https://www.swift.org/install/linux/) and run this script again." >&2
    exit 1
fi

say "Building in release (the first build takes a few minutes)"
swift build -c release >&2
storywriter="$(swift build -c release --show-bin-path)/storywriter"

workdir=".build/quickstart"
mkdir -p "$workdir"
if [ -z "$model" ]; then
    model="$workdir/random-mpt"
    if [ ! -f "$model/config.json" ]; then
        say "No --model given: making a small random-weight MPT checkpoint (its text will be noise)"
        tokenizer="${tokenizer:-Tests/Fixtures/tokenizer/tokenizer.json}"
        "$storywriter" synth "$model" --d-model 256 --heads 4 --layers 2 --max-seq-len 2048 --tokenizer "$tokenizer"
    fi
    echo "NOTE: $model has random weights, so the continuation below is noise. For real prose:" >&2
    echo "      pip install -U huggingface_hub" >&2
    echo "      hf download mosaicml/mpt-7b-storywriter --local-dir ~/models/mpt-7b-storywriter" >&2
    echo "      scripts/quickstart.sh --model ~/models/mpt-7b-storywriter" >&2
fi

book="$workdir/salt-and-lantern.txt"
cp examples/salt-and-lantern.txt "$book"
say "Continuing a copy of the example manuscript: $book"
"$storywriter" continue "$book" --model "$model" --after "Chapter Two" --max-new-tokens 120 ${extra[@]+"${extra[@]}"}

say "The end of $book now"
tail -n 12 "$book"
