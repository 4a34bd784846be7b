import { test } from "node:test";
import assert from "node:assert/strict";
import { podPhase, podStatus, shouldRestart, type ContainerRuntime, type RestartPolicy } from "./pod-status.ts";

const c = (state: ContainerRuntime["state"], lastState: ContainerRuntime["lastState"] = {}): ContainerRuntime => ({
  name: "c",
  image: "i",
  restartCount: 0,
  state,
  lastState,
});
const running = c({ running: { startedAt: "t" } });
const creating = c({ waiting: { reason: "ContainerCreating" } });
const exited = (code: number) => c({ terminated: { exitCode: code } });
const backoff = (code: number) => c({ waiting: { reason: "CrashLoopBackOff" } }, { terminated: { exitCode: code } });

test("pod phase (kubelet getPhase) — table", () => {
  const rows: Array<[RestartPolicy, ContainerRuntime[], string]> = [
    ["Always", [creating], "Pending"],
    ["Always", [running, creating], "Pending"],
    ["Always", [running], "Running"],
    ["Always", [running, exited(0)], "Running"],
    ["Always", [backoff(1)], "Running"],
    ["Always", [exited(0)], "Running"],
    ["OnFailure", [exited(0)], "Succeeded"],
    ["OnFailure", [exited(2)], "Running"],
    ["Never", [exited(0), exited(0)], "Succeeded"],
    ["Never", [exited(0), exited(1)], "Failed"],
    ["Never", [running, exited(1)], "Running"],
  ];
  for (const [policy, cs, want] of rows) assert.equal(podPhase(policy, cs), want, `${policy} ${JSON.stringify(cs.map((x) => x.state))}`);
  assert.equal(shouldRestart("OnFailure", 0), false);
  assert.equal(shouldRestart("OnFailure", 1), true);
  assert.equal(shouldRestart("Never", 1), false);
  assert.equal(shouldRestart("Always", 0), true);
});

test("pod status: conditions, ready, container statuses; PodScheduled kept, transition times kept", () => {
  const pod = {
    metadata: { name: "p" },
    spec: { containers: [{ name: "c" }] },
    status: {
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: "t0" },
        { type: "Ready", status: "True", lastTransitionTime: "t1" },
      ],
    },
  };
  const s = podStatus({ pod, containers: [running], hostIP: "10.0.0.2", now: "t2" });
  assert.equal(s.phase, "Running");
  assert.deepEqual(
    s.conditions!.map((x) => [x.type, x.status]),
    [
      ["PodReadyToStartContainers", "True"],
      ["Initialized", "True"],
      ["Ready", "True"],
      ["ContainersReady", "True"],
      ["PodScheduled", "True"],
    ],
  );
  assert.equal(s.conditions!.find((x) => x.type === "Ready")!.lastTransitionTime, "t1");
  assert.equal(s.containerStatuses![0]!.ready, true);
  assert.equal(s.podIP, "10.0.0.2");
  const w = podStatus({ pod, containers: [creating], hostIP: "h", now: "t3", blockedBy: "waiting for volume attachment" });
  assert.equal(w.phase, "Pending");
  assert.equal(w.conditions!.find((x) => x.type === "Ready")!.message, "containers with unready status: [c]");
  assert.equal(w.conditions!.find((x) => x.type === "PodReadyToStartContainers")!.status, "False");
});

test("pod status: a running container whose readiness probe has not succeeded is not ready", () => {
  const pod = { metadata: { name: "p" }, spec: { containers: [{ name: "c" }] } };
  const s = podStatus({ pod, containers: [{ ...running, ready: false }], hostIP: "10.0.0.1", now: "t1" });
  assert.equal(s.phase, "Running");
  assert.equal(s.containerStatuses?.[0]?.ready, false);
  assert.equal(s.containerStatuses?.[0]?.started, true);
  const ready = s.conditions?.find((x) => x.type === "Ready");
  assert.deepEqual([ready?.status, ready?.reason], ["False", "ContainersNotReady"]);
  const later = podStatus({ pod, containers: [{ ...running, ready: true }], hostIP: "10.0.0.1", now: "t2" });
  assert.equal(later.conditions?.find((x) => x.type === "Ready")?.status, "True");
});
