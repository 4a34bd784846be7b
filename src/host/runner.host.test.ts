// The runner against real processes: deadline kills the process group, missing binaries, stdin, env, redaction.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CommandError, missingBinaryError, run, runJson, setRunLogger, spawnStream, trimStderr } from "./runner.ts";
import { HwError } from "../api/errors.ts";

test("stdout, exit code 0", async () => {
  const r = await run(["echo", "hello"]);
  assert.equal(r.stdout, "hello\n");
  assert.equal(r.exitCode, 0);
});

test("a failing command throws CommandError with argv, exit code and trimmed stderr", async () => {
  const err = await run(["ls", "/nonexistent-hw"]).catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.ok(err instanceof HwError);
  assert.equal(err.code, "INTERNAL");
  assert.equal(err.exitCode, 2);
  assert.deepEqual(err.argv, ["ls", "/nonexistent-hw"]);
  assert.match(err.stderr, /No such file or directory/);
  assert.match(err.message, /`ls \/nonexistent-hw` exited with code 2/);
});

test("timeout kills a `sleep 10` and its whole process group", async () => {
  const t0 = Date.now();
  // sh starts a grandchild that holds stdout open: only a group kill lets the pipe close.
  const err = await run(["sh", "-c", "sleep 10 & echo $!; sleep 10"], { timeoutMs: 300 }).catch((e: unknown) => e);
  const elapsed = Date.now() - t0;
  assert.ok(err instanceof CommandError);
  assert.equal(err.timedOut, true);
  assert.equal(err.code, "DEADLINE_EXCEEDED");
  assert.equal(err.signal, "SIGKILL");
  assert.ok(elapsed < 3000, `took ${elapsed} ms`);
  const grandchild = Number(err.stdout.trim());
  assert.ok(grandchild > 0);
  await new Promise((r) => setTimeout(r, 50));
  // Dead = gone, or a zombie waiting for init to reap it (state Z in /proc/<pid>/stat).
  let state = "gone";
  try {
    state = readFileSync(`/proc/${grandchild}/stat`, "utf8").split(") ")[1]!.charAt(0);
  } catch {
    /* gone */
  }
  assert.ok(state === "gone" || state === "Z", `grandchild sleep must be dead, state ${state}`);
});

test("plain `sleep 10` with a 200 ms deadline", async () => {
  const t0 = Date.now();
  await assert.rejects(run(["sleep", "10"], { timeoutMs: 200 }), (e: unknown) => e instanceof CommandError && e.timedOut);
  assert.ok(Date.now() - t0 < 2000);
});

test("a missing binary is FAILED_PRECONDITION naming the package and the fix", async () => {
  const err = await run(["mkfs.xfs", "-V"], { env: { PATH: "/nonexistent-hw" } }).catch((e: unknown) => e);
  assert.ok(err instanceof HwError);
  assert.equal(err.code, "FAILED_PRECONDITION");
  assert.equal(err.message, "xfsprogs is not installed (mkfs.xfs not found): run scripts/install-deps.sh");
  assert.equal(missingBinaryError("/usr/sbin/resize2fs").message, "e2fsprogs is not installed (resize2fs not found): run scripts/install-deps.sh");
});

test("a missing binary behind nsenter is also FAILED_PRECONDITION", async () => {
  const err = await run(["no-such-tool-hw"], { nsenterNetPath: `/proc/${process.pid}/ns/net` }).catch((e: unknown) => e);
  assert.ok(err instanceof HwError);
  assert.equal(err.code, "FAILED_PRECONDITION");
});

test("nsenter --net prefix runs the command in that namespace", async () => {
  const r = await run(["cat", "/proc/self/net/dev"], { nsenterNetPath: `/proc/${process.pid}/ns/net` });
  assert.match(r.stdout, /lo:/);
});

test("stdin input, LC_ALL=C forced, allowed exit codes", async () => {
  assert.equal((await run(["cat"], { input: "data\n" })).stdout, "data\n");
  assert.equal((await run(["sh", "-c", 'echo "$LC_ALL $HW_X"'], { env: { LC_ALL: "de_DE.UTF-8", HW_X: "y" } })).stdout, "C y\n");
  assert.equal((await run(["sh", "-c", "exit 3"], { allowedExitCodes: [3] })).exitCode, 3);
});

test("secrets are redacted in the debug log and in errors", async () => {
  const seen: string[][] = [];
  setRunLogger((e) => seen.push(e.argv));
  try {
    const err = await run(["sh", "-c", "echo token=s3cret >&2; exit 1", "s3cret"], { redact: ["s3cret"] }).catch((e: unknown) => e);
    assert.ok(err instanceof CommandError);
    assert.ok(!err.message.includes("s3cret"), err.message);
    assert.ok(!err.argv.join(" ").includes("s3cret"));
    assert.ok(!err.stderr.includes("s3cret"));
  } finally {
    setRunLogger(undefined);
  }
  assert.equal(seen.length, 1);
  assert.ok(!seen[0]!.join(" ").includes("s3cret"));
  assert.equal(seen[0]!.at(-1), "***");
});

test("runJson parses stdout; unparseable output names the command", async () => {
  assert.deepEqual(await runJson<{ a: number }>(["echo", '{"a":1}']), { a: 1 });
  await assert.rejects(
    runJson(["echo", "not json"]),
    (e: unknown) => e instanceof HwError && e.reason === "UnparseableOutput" && /echo not json/.test(e.message),
  );
});

test("trimStderr keeps the useful last lines", () => {
  const long = Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n") + "\n\n";
  assert.equal(trimStderr(long, 2), "line 28\nline 29");
  // measured: mkfs.xfs on a 64 MiB device prints the cause, then its usage banner
  assert.equal(
    trimStderr("Filesystem must be larger than 300MB.\nUsage: mkfs.xfs\n/* blocksize */\t\t[-b size=num]\n"),
    "Filesystem must be larger than 300MB.",
  );
});

test("spawnStream delivers lines and stop() ends the process group", async () => {
  const lines: string[] = [];
  const h = spawnStream(["sh", "-c", "echo a; echo b; sleep 30"], (l) => lines.push(l));
  const t0 = Date.now();
  while (lines.length < 2 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(lines, ["a", "b"]);
  await h.stop();
  const done = await h.done;
  assert.equal(done.signal, "SIGTERM");
  await h.stop(); // idempotent
});
