#!/usr/bin/env bash
# Runs a real container through containerd with tsshim (see scripts/demo.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
env -u NODE_EXTRA_CA_CERTS node scripts/demo.mjs
