// Writes deploy/crds/<plural>.hwameistor.io.yaml for every kind (npm run gen), and the same files into the
// Helm chart's crds/ (deploy/helm/hwameistor/crds). The output is deterministic: src/api/crd.test.ts fails
// ("stale CRDs: run npm run gen") when the committed files differ from it, test/install/chart.test.ts when
// the chart's copy differs.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderCrdFiles } from "../src/api/crd-files.ts";

const deploy = join(dirname(fileURLToPath(import.meta.url)), "..", "deploy");
const files = renderCrdFiles();
for (const outDir of [join(deploy, "crds"), join(deploy, "helm", "hwameistor", "crds")]) {
  mkdirSync(outDir, { recursive: true });
  for (const old of readdirSync(outDir)) {
    if (old.endsWith(".yaml") && !(old in files)) rmSync(join(outDir, old));
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(outDir, name), text);
  console.log(`wrote ${Object.keys(files).length} CRDs to ${outDir}`);
}
