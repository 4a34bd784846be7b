// The folder boundaries are enforced by lint: a forbidden import in a part's file is an error, an allowed
// one is not. Runs the project's own ESLint configuration on source text placed at paths inside src/.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ESLint } from "eslint";

const root = path.resolve(import.meta.dirname, "../..");
const eslint = new ESLint({ cwd: root });

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === "local/part-imports").map((m) => m.message);
}

const cases: { file: string; spec: string; forbidden: boolean }[] = [
  { file: "src/csi/x.ts", spec: "../controller/index.ts", forbidden: true },
  { file: "src/csi/x.ts", spec: "../node/agent.ts", forbidden: true },
  { file: "src/controller/x.ts", spec: "../node/agent.ts", forbidden: true },
  { file: "src/node/storage/x.ts", spec: "../../controller/index.ts", forbidden: true },
  { file: "src/kube/x.ts", spec: "../csi/server.ts", forbidden: true },
  { file: "src/api/x.ts", spec: "../kube/client.ts", forbidden: true },
  { file: "src/host/x.ts", spec: "../kube/client.ts", forbidden: true },
  { file: "src/controller/csi/lvm/x.ts", spec: "../../../csi/server.ts", forbidden: false },
  { file: "src/node/csi/lvm/x.ts", spec: "../../storage/index.ts", forbidden: false },
  { file: "src/cli/x.ts", spec: "../node/agent.ts", forbidden: false },
  { file: "src/devcluster/x.ts", spec: "../controller/index.ts", forbidden: false },
];

for (const c of cases) {
  test(`${c.file} importing ${c.spec} is ${c.forbidden ? "an error" : "allowed"}`, async () => {
    const errors = await boundaryErrors(c.file, `export { x } from "${c.spec}";\nimport "${c.spec}";\n`);
    if (c.forbidden) {
      assert.equal(errors.length, 2, `expected two boundary errors, got ${JSON.stringify(errors)}`);
      assert.match(errors[0] ?? "", /may not import/);
    } else {
      assert.deepEqual(errors, []);
    }
  });
}
