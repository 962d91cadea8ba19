# Sourced by the bench scripts that time `storywriter bench` alone (speed.sh, variants.sh), from their work folder
# with ROOT set: `log`, the binary in STORYWRITER (built in release unless given), THREADS as `threads` (bench
# arguments), and `synth FOLDER ARGS…`, which writes a random checkpoint once (seed 0, StoryWriter's clip_qkv 6
# and ALiBi bias max 16).
log() { echo "[$(basename "$0")] $*" >&2; }

if [ -z "${STORYWRITER:-}" ]; then
    log "building storywriter (release)"
    (cd "$ROOT" && swift build -c release --product storywriter >&2)
    STORYWRITER="$ROOT/.build/release/storywriter"
fi
threads=()
if [ -n "${THREADS:-}" ]; then threads=(--threads "$THREADS"); fi

synth() { # folder, then synth arguments
    local folder=$1; shift
    if [ ! -f "$folder/config.json" ]; then
        log "synth $folder"
        "$STORYWRITER" synth "$folder" --seed 0 --clip-qkv 6 --alibi-bias-max 16 "$@" >&2
    fi
}
