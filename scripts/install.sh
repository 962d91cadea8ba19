#!/usr/bin/env bash
# Puts `storywriter` on your PATH: builds in release if needed (the same build as scripts/quickstart.sh and
# scripts/test.sh) and copies the binary to $PREFIX/bin, by default ~/.local/bin.
#
#   scripts/install.sh                      # ~/.local/bin/storywriter
#   PREFIX=/usr/local sudo -E scripts/install.sh
#
# The binary needs the OpenBLAS and LZ4 shared libraries at run time (libopenblas0, liblz4-1 on Debian/Ubuntu;
# the -dev packages the build needs bring them).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${PREFIX:-$HOME/.local}"

swift build -c release >&2
binary="$(swift build -c release --show-bin-path)/storywriter"
mkdir -p "$prefix/bin"
install -m 755 "$binary" "$prefix/bin/storywriter"
echo "installed $("$prefix/bin/storywriter" --version) as $prefix/bin/storywriter" >&2
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "note: $prefix/bin is not on your PATH; add it, e.g. echo 'export PATH=\"$prefix/bin:\$PATH\"' >> ~/.bashrc, then open a new shell." >&2 ;;
esac
