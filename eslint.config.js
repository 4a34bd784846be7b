import js from "@eslint/js";
import tseslint from "typescript-eslint";
import path from "node:path";
import { boundariesPlugin } from "./eslint/boundaries.js";

const srcDir = path.join(import.meta.dirname, "src");

export default tseslint.config(
  { ignores: ["node_modules/**", "deploy/**", "bench/results/**", "ui/dist/**", "dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
      "no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "child_process", message: "Only src/host/ spawns processes: use run()/spawnStream() from src/host/runner.ts." },
            { name: "node:child_process", message: "Only src/host/ spawns processes: use run()/spawnStream() from src/host/runner.ts." },
          ],
        },
      ],
    },
  },
  { files: ["src/**/*.ts"], ignores: ["**/*.test.ts"], plugins: { local: boundariesPlugin(srcDir) }, rules: { "local/part-imports": "error" } },
  // The one place that touches the machine, and tests (which may start helper processes directly).
  { files: ["src/host/**", "**/*.test.ts"], rules: { "no-restricted-imports": "off" } },
);
