#!/usr/bin/env bash
# The server's Python tests: the official openai client and a headless-Chromium run of the writing page.
# Uses (and creates) a virtual environment under .build/venv; needs the release build of storywriter.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.build/venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp="$venv/.requirements"
if ! cmp -s Tests/server/requirements.txt "$stamp" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r Tests/server/requirements.txt
    cp Tests/server/requirements.txt "$stamp"
fi
export STORYWRITER_BIN="${STORYWRITER_BIN:-$PWD/.build/release/storywriter}"
# Chromium leaves its own folders in the temporary folder: give the run one of its own and remove it afterwards.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
TMPDIR="$scratch" "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/server "$@"
