#!/usr/bin/env bash
# The test suite: builds in release, as the quick start and scripts/install.sh do, runs the Swift tests, then the
# server's Python tests (the official openai client, and headless Chromium on the writing page).
#
#   scripts/test.sh                                  everything
#   scripts/test.sh --filter ModelGoldenTests        only the Swift tests that match (options go to swift test)
#
# `swift test` alone would build every module again with testing enabled (a second full build beside the
# quick start's); building the tests with `swift build -c release --build-tests` keeps the products shared,
# and the tests import nothing @testable. Needs libopenblas-dev and liblz4-dev, and for the Python tests
# chromium, chromium-driver and python3-venv (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --build-tests
swift test -c release --skip-build --disable-xctest "$@"
if [ $# -eq 0 ]; then
    Tests/server/run.sh
fi
