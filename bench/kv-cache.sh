#!/usr/bin/env bash
# KV cache benchmark (issue 6): a synthetic 7B-shaped checkpoint with 2 layers (d_model 4096, 32 heads, bf16)
# reads The Great Gatsby through `storywriter continue --print --max-new-tokens 1`, once with the q8 cache and once
# with q4 under a --kv-memory budget that makes most blocks spill. Per run: wall time, peak resident memory
# (/usr/bin/time), KV bytes stored, resident, spilled, spill-file bytes and LZ4 ratio (from the command's own
# KV summary on stderr). Then the KV projections of `storywriter inspect --json` (this model and the 7B at 84k tokens).
# Prints one JSON object on stdout.
#
#   bench/kv-cache.sh                      # whole book (72k tokens: hours on 2 cores)
#   TOKENS=4096 bench/kv-cache.sh          # only the book's last 4,096 tokens (--max-context)
#   SCRATCH=.build-kv BUDGET=256MiB bench/kv-cache.sh
#   RUNS=q4 TOKENS=32768 bench/kv-cache.sh  # only the q4 + budget run
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-.build}
BUDGET=${BUDGET:-256MiB}
TOKENS=${TOKENS:-}
WORK=${WORK:-$(mktemp -d)}
MODEL=${MODEL:-$WORK/synth-7b-2layers}
BOOK_SOURCE=${BOOK:-Tests/Fixtures/books/gatsby.txt}
RUNS=${RUNS:-q8 q4}

swift build -c release --scratch-path "$SCRATCH" --product storywriter >&2
BIN="$SCRATCH/release/storywriter"
if [ ! -f "$MODEL/config.json" ]; then
  "$BIN" synth "$MODEL" --d-model 4096 --heads 32 --layers 2 --tokenizer Tests/Fixtures/tokenizer/tokenizer.json >&2
fi

run() { # name, extra flags...
  local name=$1; shift
  local book="$WORK/$name.txt" log="$WORK/$name.log" timing="$WORK/$name.time"
  cp "$BOOK_SOURCE" "$book"
  local context=()
  [ -n "$TOKENS" ] && context=(--max-context "$TOKENS")
  /usr/bin/time -v -o "$timing" "$BIN" continue "$book" --model "$MODEL" --print --max-new-tokens 1 --temperature 0 \
    --checkpoint-interval 0 "${context[@]}" "$@" > /dev/null 2> "$log"
  python3 - "$name" "$log" "$timing" "$*" <<'PY'
import json, re, sys
name, log, timing, flags = sys.argv[1:5]
text = open(log, encoding="utf-8", errors="replace").read().replace("\r", "\n")
units = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
def size(value, unit): return int(float(value) * units[unit])
summary = re.findall(r"KV cache: (\w+), (\d+) positions, ([\d.]+) (\w+)(?: \(([\d.]+) (\w+) in memory\); KV spill: (\d+) blocks, ([\d.]+) (\w+) → ([\d.]+) (\w+) on disk \(LZ4 ([\d.]+)×\))?", text)[-1]
fmt, positions, stored, stored_unit, resident, resident_unit, blocks, spilled, spilled_unit, on_disk, disk_unit, ratio = summary
t = open(timing).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1).split(":")
seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall)))
print(json.dumps({
    "run": name, "flags": flags, "kv_format": fmt, "tokens": int(positions), "seconds": round(seconds, 1),
    "tokens_per_second": round(int(positions) / seconds, 2),
    "peak_rss_bytes": int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) * 1024,
    "kv_bytes": size(stored, stored_unit),
    "kv_resident_bytes": size(resident, resident_unit) if resident else size(stored, stored_unit),
    "spilled_bytes": size(spilled, spilled_unit) if spilled else 0,
    "spill_file_bytes": size(on_disk, disk_unit) if on_disk else 0,
    "lz4_ratio": float(ratio) if ratio else None,
    "kv_plan": next((line.strip() for line in text.splitlines() if line.startswith("KV cache: ") and "(" in line and "positions" not in line), None),
}))
PY
}

RESULTS=()
for which in $RUNS; do
  case $which in
    q8) RESULTS+=("$(run q8 --kv-cache q8)") ;;
    q4) RESULTS+=("$(run q4-spill --kv-cache q4 --kv-memory "$BUDGET")") ;;
  esac
done
PROJECTION=$("$BIN" inspect "$MODEL" --json)
python3 - "$PROJECTION" "${RESULTS[@]}" <<'PY'
import json, platform, os, sys, datetime
inspect, runs = json.loads(sys.argv[1]), [json.loads(arg) for arg in sys.argv[2:]]
projection = {key: value for key, value in inspect.items() if key.startswith("kv_")}
print(json.dumps({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    "runs": runs, "projection": projection,
}, indent=2))
PY
