// Writes deploy/crds/<plural>.hwameistor.io.yaml for every kind (npm run gen). The output is deterministic:
// src/api/crd.test.ts fails ("stale CRDs: run npm run gen") when the committed files differ from it.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderCrdFiles } from "../src/api/crd-files.ts";

const outDir = join(dirname(fileURLToPath(import.meta.url)), "..", "deploy", "crds");
mkdirSync(outDir, { recursive: true });
const files = renderCrdFiles();
for (const old of readdirSync(outDir)) {
  if (old.endsWith(".yaml") && !(old in files)) rmSync(join(outDir, old));
}
for (const [name, text] of Object.entries(files)) writeFileSync(join(outDir, name), text);
console.log(`wrote ${Object.keys(files).length} CRDs to ${outDir}`);
