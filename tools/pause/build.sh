#!/bin/sh
# Builds the static pause binary: tools/pause/build.sh [output] (default build/pause/pause).
set -eu
here=$(dirname "$0")
out=${1:-"$here/../../build/pause/pause"}
mkdir -p "$(dirname "$out")"
cc -static -Os -Wall -Wextra -Werror -s -o "$out.tmp" "$here/pause.c"
mv "$out.tmp" "$out"
