// A pod's status from what the kubelet role knows about its containers (pure). The rules are the kubelet's
// (getPhase, generateAPIPodStatus): a waiting container without a previous termination keeps the pod Pending;
// any running → Running; all stopped → Running again for restartPolicy Always (or OnFailure with a failure,
// which restarts), else Succeeded if every container exited 0, else Failed. Conditions: PodScheduled (kept),
// Initialized (no init containers are run: True), ContainersReady and Ready (ready = running and, with an exec
// readinessProbe, its last verdict).
// Container states: waiting {ContainerCreating | CrashLoopBackOff | CreateContainerError}, running
// {startedAt}, terminated {exitCode, reason Completed | Error | OOMKilled-never, startedAt, finishedAt}.

import type { Condition, ContainerState, ContainerStatus, Pod, PodStatus } from "../api/core.ts";

export interface ContainerRuntime {
  name: string;
  image: string;
  restartCount: number;
  state: ContainerState;
  lastState: ContainerState;
  /** containerID as a runtime would show it: hwameistor://<pid>. */
  containerID?: string;
  /** The readiness probe's verdict; undefined = no probe (ready while running). */
  ready?: boolean;
}

/** Ready as the kubelet reports it: running, and the readiness probe (if any) succeeded. */
const isReady = (c: ContainerRuntime): boolean => !!c.state.running && c.ready !== false;

export type RestartPolicy = "Always" | "OnFailure" | "Never";

export const restartPolicyOf = (pod: Pod): RestartPolicy => {
  const p = pod.spec?.restartPolicy;
  return p === "OnFailure" || p === "Never" ? p : "Always";
};

/** Whether a container that exited with `exitCode` is started again under `policy`. */
export const shouldRestart = (policy: RestartPolicy, exitCode: number): boolean => policy === "Always" || (policy === "OnFailure" && exitCode !== 0);

/** CrashLoopBackOff delay before restart number `restartCount + 1`: 10 s doubling, capped at 5 min (kubelet's). */
export const backoffMs = (restartCount: number): number => Math.min(300_000, 10_000 * 2 ** Math.max(0, restartCount - 0));

export function podPhase(policy: RestartPolicy, containers: ContainerRuntime[]): string {
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of containers) {
    if (c.state.running) running++;
    else if (c.state.terminated) {
      stopped++;
      if (c.state.terminated.exitCode === 0) succeeded++;
    } else if (c.lastState.terminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped === 0) return "Pending";
  if (policy === "Always") return "Running";
  if (stopped === succeeded) return "Succeeded";
  if (policy === "OnFailure") return "Running";
  return "Failed";
}

function cond(prev: Condition[] | undefined, type: string, status: "True" | "False", now: string, reason?: string, message?: string): Condition {
  const old = prev?.find((c) => c.type === type);
  return {
    type,
    status,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
    lastProbeTime: null,
    lastTransitionTime: old && old.status === status ? (old.lastTransitionTime ?? now) : now,
  };
}

export interface StatusInput {
  pod: Pod;
  containers: ContainerRuntime[];
  hostIP: string;
  startTime?: string;
  now: string;
  /** Why containers cannot start yet (volumes): becomes the waiting message of ContainerCreating. */
  blockedBy?: string;
}

export function podStatus(i: StatusInput): PodStatus {
  const policy = restartPolicyOf(i.pod);
  const prev = i.pod.status?.conditions;
  const phase = podPhase(policy, i.containers);
  const notReady = i.containers.filter((c) => !isReady(c)).map((c) => c.name);
  const ready = notReady.length === 0 && i.containers.length > 0;
  const why = notReady.length ? `containers with unready status: [${notReady.join(" ")}]` : undefined;
  const terminal = phase === "Succeeded" || phase === "Failed";
  const conditions: Condition[] = [
    cond(prev, "PodReadyToStartContainers", i.blockedBy ? "False" : "True", i.now),
    cond(prev, "Initialized", "True", i.now),
    // Without readiness gates the pod is Ready exactly when its containers are (the kubelet's rule): one status, two types.
    ...["Ready", "ContainersReady"].map((type) =>
      cond(
        prev,
        type,
        ready ? "True" : "False",
        i.now,
        ready ? undefined : terminal ? "PodCompleted" : "ContainersNotReady",
        ready || terminal ? undefined : why,
      ),
    ),
    ...(prev ?? []).filter((c) => c.type === "PodScheduled"),
  ];
  const statuses: ContainerStatus[] = i.containers.map((c) => ({
    name: c.name,
    image: c.image,
    imageID: "",
    ...(c.containerID ? { containerID: c.containerID } : {}),
    ready: isReady(c),
    started: !!c.state.running,
    restartCount: c.restartCount,
    state: c.state,
    lastState: c.lastState,
  }));
  return {
    phase,
    conditions,
    containerStatuses: statuses,
    hostIP: i.hostIP,
    podIP: i.hostIP,
    podIPs: [{ ip: i.hostIP }],
    ...(i.startTime ? { startTime: i.startTime } : {}),
  };
}
