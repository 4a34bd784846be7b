#!/usr/bin/env bash
# Builds the shipped JavaScript: tsc emits src/ to dist/ (tsconfig.build.json, .ts imports rewritten to .js).
# The protocol files the code reads at run time stay in proto/ (beside dist/, see proto/README.md).
# Usage: scripts/build.sh [--clean]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--clean" ]; then rm -rf dist; fi
npx tsc -p tsconfig.build.json
