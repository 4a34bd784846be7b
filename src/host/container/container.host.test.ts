import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  containerArgv,
  ensureTarget,
  execProbe,
  isContainerAlive,
  killContainer,
  probeArgv,
  readExitStatus,
  signalContainer,
  startContainerProcess,
} from "./container.ts";

const until = async (f: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
};

test("containerArgv: validates before anything runs", () => {
  const base = { command: ["sh"], env: {}, binds: [], rcFile: "/r", logFile: "/l" };
  assert.throws(() => containerArgv({ ...base, command: [] }), /no command/);
  assert.throws(() => containerArgv({ ...base, binds: [{ source: "/a", target: "rel" }] }), /must be absolute/);
  assert.throws(() => containerArgv({ ...base, binds: [{ source: "/a", target: "/x/../etc" }] }), /\.\./);
  assert.throws(() => containerArgv({ ...base, env: { "A B": "1" } }), /not valid/);
  assert.throws(() => containerArgv({ ...base, runAsUser: -1 }), /non-negative/);
  const argv = containerArgv({
    ...base,
    command: ["id", "-u"],
    env: { A: "1; rm -rf /" },
    runAsUser: 65534,
    workingDir: "/tmp",
    binds: [{ source: "/s", target: "/t", readOnly: true }],
  });
  // every name is its own argument: nothing is interpreted by a shell
  assert.deepEqual(argv.slice(argv.indexOf("/r")), [
    "/r",
    "/s",
    "/t",
    "ro",
    "--",
    "setpriv",
    "--reuid=65534",
    "--regid=0",
    "--clear-groups",
    "--",
    "env",
    "-i",
    "--chdir=/tmp",
    "--",
    "A=1; rm -rf /",
    "id",
    "-u",
  ]);
});

test("a container process: private bind mount, env, user, exit status, log; SIGTERM forwarded; SIGKILL to the group", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hw-container-"));
  try {
    const vol = join(dir, "vol");
    const target = join(dir, "mnt");
    ensureTarget(vol, "dir");
    assert.deepEqual(ensureTarget(target, "dir"), [target]);
    assert.deepEqual(ensureTarget(join(dir, "a", "b", "dev"), "file"), [join(dir, "a"), join(dir, "a", "b"), join(dir, "a", "b", "dev")], "parents too");
    assert.deepEqual(ensureTarget(target, "dir"), [], "nothing created twice");
    writeFileSync(join(vol, "in"), "from-volume\n");
    const rcFile = join(dir, "rc");
    const logFile = join(dir, "log");
    const c = await startContainerProcess({
      command: ["sh", "-c", 'cat "$M/in"; echo "$GREETING"; id -u; pwd; echo out > "$M/out"; exit 3'],
      env: { M: target, GREETING: "hello" },
      workingDir: "/tmp",
      runAsUser: 0,
      binds: [{ source: vol, target }],
      rcFile,
      logFile,
    });
    await c.exited;
    await until(() => readExitStatus(rcFile) !== undefined);
    assert.equal(readExitStatus(rcFile), 3);
    assert.equal(readFileSync(logFile, "utf8"), "from-volume\nhello\n0\n/tmp\n");
    assert.equal(readFileSync(join(vol, "out"), "utf8"), "out\n"); // written through the bind
    // the bind was private to the container: the host's target is still the empty directory
    assert.throws(() => readFileSync(join(target, "in")));

    const rc2 = join(dir, "rc2");
    const slow = await startContainerProcess({ command: ["sleep", "100"], env: {}, binds: [], rcFile: rc2, logFile });
    assert.equal(isContainerAlive(slow.pid, rc2), true);
    // A signal before the shell has installed its traps ends the shim without a status (the caller then
    // records 137); give it the moment a real container has before anyone stops it.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(signalContainer(slow.pid, rc2, "SIGTERM"), true);
    await until(() => readExitStatus(rc2) !== undefined);
    assert.equal(readExitStatus(rc2), 143); // sleep died of SIGTERM (128 + 15)

    const rc3 = join(dir, "rc3");
    const stubborn = await startContainerProcess({ command: ["sh", "-c", "trap '' TERM; sleep 100"], env: {}, binds: [], rcFile: rc3, logFile });
    await new Promise((r) => setTimeout(r, 100));
    signalContainer(stubborn.pid, rc3, "SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(isContainerAlive(stubborn.pid, rc3), true);
    assert.equal(killContainer(stubborn.pid, rc3), true);
    await until(() => !isContainerAlive(stubborn.pid, rc3));
    assert.equal(readExitStatus(rc3), undefined); // SIGKILL: no status written (the caller records 137)
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an exec probe runs inside the container's mount namespace, as its user, with its env; exit 0 = success", async () => {
  assert.throws(() => probeArgv(1, { command: ["true"], env: {} }), /not a container process/);
  assert.deepEqual(probeArgv(42, { command: ["pg_isready"], env: { A: "1" }, runAsUser: 101 }).slice(0, 5), [
    "nsenter",
    "--target=42",
    "--mount",
    "--",
    "setpriv",
  ]);
  const dir = mkdtempSync(join(tmpdir(), "hw-probe-"));
  chmodSync(dir, 0o755); // the probe's user (nobody) must reach the mount point
  const vol = join(dir, "vol");
  const target = join(dir, "mnt");
  ensureTarget(vol, "dir");
  ensureTarget(target, "dir");
  writeFileSync(join(vol, "ready"), "");
  const rcFile = join(dir, "rc");
  const c = await startContainerProcess({ command: ["sleep", "60"], env: {}, binds: [{ source: vol, target }], rcFile, logFile: join(dir, "log") });
  try {
    await new Promise((r) => setTimeout(r, 300)); // the shim's bind mounts are made before the command runs
    const probe = (command: string[], env: Record<string, string> = {}) => execProbe(c.pid, { command, env, runAsUser: 65534 }, 5000);
    assert.equal((await probe(["test", "-f", join(target, "ready")])).ok, true, "the probe sees the container's bind mount");
    assert.equal((await probe(["test", "-f", join(target, "nope")])).ok, false);
    assert.equal((await probe(["sh", "-c", 'test "$(id -u)" = 65534 && test "$X" = y'], { X: "y" })).ok, true, "its user and env");
    assert.equal((await execProbe(c.pid, { command: ["sleep", "5"], env: {} }, 300)).ok, false, "a probe past its timeout fails");
  } finally {
    killContainer(c.pid, rcFile);
    await until(() => !isContainerAlive(c.pid, rcFile));
    rmSync(dir, { recursive: true, force: true });
  }
});
