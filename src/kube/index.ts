// The client runtime every controller and node agent uses (docs/kube-runtime.md).
export * from "./types.ts";
export * from "./config.ts";
export * from "./transport.ts";
export * from "./client.ts";
export * from "./backoff.ts";
export * from "./relist-diff.ts";
export * from "./informer.ts";
export * from "./workqueue.ts";
export * from "./leader-election.ts";
export * from "./node-lease.ts";
export * from "./events.ts";
export * from "./controller.ts";
export * from "./resources.ts";
