#!/usr/bin/env bash
# The test suite: builds in release, as the quick start and scripts/install.sh do, then runs the tests.
#
#   scripts/test.sh [swift test options...]      e.g. scripts/test.sh --filter ModelGoldenTests
#
# `swift test` alone would build every module again with testing enabled (a second full build beside the
# quick start's); building the tests with `swift build -c release --build-tests` keeps the products shared,
# and the tests import nothing @testable. Needs libopenblas-dev and liblz4-dev (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --build-tests
swift test -c release --skip-build --disable-xctest "$@"
