#!/usr/bin/env bash
# Builds the shipped JavaScript: tsc emits src/ to dist/ (tsconfig.build.json, .ts imports rewritten to .js),
# then the non-TypeScript files the code reads at run time (the CSI proto) are copied beside it.
# Usage: scripts/build.sh [--clean]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--clean" ]; then rm -rf dist; fi
npx tsc -p tsconfig.build.json
while IFS= read -r f; do
  mkdir -p "dist/$(dirname "${f#src/}")"
  cp "$f" "dist/${f#src/}"
done < <(find src -name '*.proto' -not -path '*/testdata/*')
