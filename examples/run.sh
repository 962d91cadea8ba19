#!/usr/bin/env bash
# The manuscript workflow end to end on the example book, in a scratch folder (the example itself is never
# changed): `continue` in place, `--print`, `--output`, then `batch` over a folder, and its rerun.
#
#   examples/run.sh --model DIR        (or set STORYWRITER_MODEL)
#
# A real checkpoint (e.g. mosaicml/mpt-7b-storywriter) writes prose; a random one (scripts/quickstart.sh makes
# one) writes noise, but the files change exactly the same way.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
model="${STORYWRITER_MODEL:-}"
[ "${1:-}" = "--model" ] && model="$2"
if [ -z "$model" ]; then
    echo "usage: examples/run.sh --model DIR (a Hugging Face MPT folder), or set STORYWRITER_MODEL" >&2
    exit 2
fi
storywriter="${STORYWRITER:-$(cd "$here/.." && swift build -c release --show-bin-path)/storywriter}"
work="$(mktemp -d "${TMPDIR:-/tmp}/storywriter-example.XXXXXX")"
echo "working in $work" >&2
cp "$here/salt-and-lantern.txt" "$work/"
book="$work/salt-and-lantern.txt"
sampling=(--max-new-tokens 60)

echo; echo "== continue: add a new chapter to the book, in place" >&2
"$storywriter" continue "$book" --model "$model" --after "Chapter Two" "${sampling[@]}" --seed 7
tail -n 6 "$book"

echo; echo "== continue --print: another ending, shown but not written" >&2
"$storywriter" continue "$book" --model "$model" --print --max-context 300 "${sampling[@]}" --seed 8

echo; echo "== continue --output: the extended book as a new file; the book is untouched" >&2
"$storywriter" continue "$book" --model "$model" --after "Chapter Three" --output "$work/with-chapter-three.txt" "${sampling[@]}"
wc -c "$book" "$work/with-chapter-three.txt"

echo; echo "== batch: every *.txt and *.md in a folder, one model load" >&2
mkdir -p "$work/shelf"
cp "$here/salt-and-lantern.txt" "$work/shelf/first.txt"
cp "$here/salt-and-lantern.txt" "$work/shelf/second.md"
printf 'The End.\r\n' > "$work/shelf/third.txt"
"$storywriter" batch "$work/shelf" --model "$model" --after "Epilogue" "${sampling[@]}"

echo; echo "== batch again: done books are skipped" >&2
"$storywriter" batch "$work/shelf" --model "$model" --after "Epilogue" "${sampling[@]}"
echo; echo "results are in $work" >&2
