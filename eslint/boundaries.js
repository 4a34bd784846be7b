// Folder boundaries, enforced: each part under src/ imports only the parts its row allows, plus its own
// files. `src/cli` and `src/devcluster` are composition roots (they start the parts) and may import any part;
// tests, benchmarks and scripts outside src/ are not checked. A part not named here gets DEFAULT_ALLOWED.
// Why: a part that reaches into another's internals couples their release and test cycles; when that seems
// needed, the boundary is wrong and the shared piece moves down (docs/proposals/0001-csi-boundary.md).
import path from "node:path";

/** part → parts it may import (its own files are always allowed). */
export const ALLOWED = {
  api: [],
  kube: ["api"],
  host: ["api"],
  csi: ["api", "host", "kube"],
  apiserver: ["api", "host", "kube"],
};
export const DEFAULT_ALLOWED = ["api", "host", "kube", "csi"];
export const ROOTS = ["cli", "devcluster"];

const partOf = (file, srcDir) => {
  const rel = path.relative(srcDir, file);
  if (rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
  const [first, ...rest] = rel.split(path.sep);
  return rest.length ? first : undefined; // a file directly under src/ belongs to no part
};

export function boundariesPlugin(srcDir) {
  return {
    rules: {
      "part-imports": {
        meta: {
          type: "problem",
          schema: [],
          messages: {
            forbidden:
              "{{from}} may not import {{to}} ({{spec}}): {{from}} imports only {{allowed}} and its own files. Move the shared piece to a part both may import, or see eslint/boundaries.js.",
          },
        },
        create(context) {
          const file = context.filename;
          const from = partOf(file, srcDir);
          if (!from || ROOTS.includes(from)) return {};
          const allowed = ALLOWED[from] ?? DEFAULT_ALLOWED;
          const check = (node, spec) => {
            if (typeof spec !== "string" || !spec.startsWith(".")) return;
            const to = partOf(path.resolve(path.dirname(file), spec), srcDir);
            if (!to || to === from || allowed.includes(to)) return;
            context.report({
              node,
              messageId: "forbidden",
              data: { from: `src/${from}`, to: `src/${to}`, spec, allowed: allowed.length ? allowed.map((p) => `src/${p}`).join(", ") : "nothing" },
            });
          };
          return {
            ImportDeclaration: (n) => check(n, n.source.value),
            ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
            ExportAllDeclaration: (n) => check(n, n.source.value),
            ImportExpression: (n) => n.source.type === "Literal" && check(n, n.source.value),
          };
        },
      },
    },
  };
}
