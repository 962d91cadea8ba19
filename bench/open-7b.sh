#!/usr/bin/env bash
# Synthesizes a 7B-shaped bf16 MPT checkpoint (d_model 4096, 32 heads, 32 layers, vocab 50432: 13.3 GB) with
# `storywriter synth` in a temporary folder, then measures `storywriter inspect --json`, which opens it fully
# (maps every shard, locates and checks every tensor against config.json), with /usr/bin/time: wall time and
# peak resident memory. Runs the safetensors layout and the mosaicml .bin layout (ZIP64 shards), both sharded
# at 10GB, deleting each checkpoint afterwards. Prints one JSON object. Needs ~14 GB free under TMPDIR.
# Usage: bench/open-7b.sh [safetensors|bin ...]   (SCRATCH=.build-x to reuse another build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${SCRATCH:-.build}"
formats=("${@:-safetensors bin}")
swift build -c release --scratch-path "$scratch" --product storywriter >&2
binary="$scratch/release/storywriter"
work=$(mktemp -d "${TMPDIR:-/tmp}/storywriter-open-7b.XXXXXX")
trap 'rm -rf "$work"' EXIT

results=()
for format in ${formats[*]}; do
    folder="$work/$format"
    synth_start=$(date +%s.%N)
    "$binary" synth "$folder" --d-model 4096 --heads 32 --layers 32 --vocab 50432 --dtype bf16 \
        --format "$format" --shard-size 10GB --seed 1 >&2
    synth_end=$(date +%s.%N)
    /usr/bin/time -v -o "$work/time.txt" "$binary" inspect "$folder" --json > "$work/inspect.json"
    results+=("$(python3 - "$format" "$work/inspect.json" "$work/time.txt" "$synth_start" "$synth_end" <<'PY'
import json, re, sys
format, inspect_path, time_path, synth_start, synth_end = sys.argv[1:]
report = json.load(open(inspect_path))
timing = open(time_path).read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", timing)
wall_seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing).group(1))
print(json.dumps({
    "format": format, "files": [f["name"] for f in report["files"]], "bytes": report["bytes"],
    "parameters": report["parameters"], "tensors_checked": len(report["tensors"]), "dtype": report["dtype"],
    "synth_seconds": round(float(synth_end) - float(synth_start), 1),
    "inspect_wall_seconds": wall_seconds, "open_seconds": round(report["open_seconds"], 4),
    "peak_rss_mb": round(peak_kb / 1024, 1),
    "under_1s_and_200mb": wall_seconds < 1 and peak_kb < 200 * 1024,
}))
PY
)")
    rm -rf "$folder"
done
python3 - "${results[@]}" <<'PY'
import json, os, sys, datetime
runs = [json.loads(r) for r in sys.argv[1:]]
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "unknown")
memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
print(json.dumps({"benchmark": "open-7b", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "machine": f"{cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB", "load_average": os.getloadavg()[0],
                  "runs": runs}, indent=1))
PY
