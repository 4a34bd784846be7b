// Lease-based leader election (coordination.k8s.io/v1 Lease), following client-go's leaderelection:
// - candidates try to acquire every retryPeriod (±jitter); a Lease held by someone else counts as expired
//   only when its record has not changed for leaseDurationSeconds *as observed on our own clock* (no
//   reliance on synchronised clocks);
// - every write carries the resourceVersion it read, so two candidates can never both win a round;
// - the leader renews every retryPeriod; if it cannot renew for renewDeadline it stops leading (its
//   signal aborts) before anyone else may take over (leaseDuration > renewDeadline);
// - stop() aborts the leader's work and releases the Lease (holderIdentity "", leaseDurationSeconds 1)
//   so a successor takes over at its next retry instead of after a full lease duration.
// Difference from client-go: after losing leadership the elector becomes a candidate again (client-go's
// Run returns and the process usually exits). Pass `exitOnLoss` for the client-go behaviour.

import type { KubeClient, ResourceClient } from "./client.ts";
import { LEASE, microTime, type LeaseSpec } from "./resources.ts";
import { isAlreadyExists, isConflict } from "./transport.ts";
import { sleep, stderrLogger, type KubeObject, type Logger } from "./types.ts";

export type LeaseObject = KubeObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** Lease name (one per elected component). */
  name: string;
  /** This candidate's identity (e.g. hostname_uuid); unique per process. */
  identity: string;
  /** Default 15 s. */
  leaseDurationSeconds?: number;
  /** Default 10 s; must be < leaseDuration. */
  renewDeadlineMs?: number;
  /** Default 2 s; must be < renewDeadline. */
  retryPeriodMs?: number;
  /** Release the Lease on stop (default true). */
  releaseOnStop?: boolean;
  /** Stop for good after losing leadership instead of campaigning again (default false). */
  exitOnLoss?: boolean;
  /** Runs when leadership is won; `signal` aborts when it is lost or stop() is called. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  /** Called when the observed leader changes (including to ourselves). */
  onNewLeader?(identity: string): void;
  log?: Logger;
}

export class LeaderElector {
  private readonly leases: ResourceClient<LeaseObject>;
  private readonly durationS: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly log: Logger;
  private observed?: LeaseSpec;
  private observedAt = 0;
  private observedRv?: string;
  private leading = false;
  private reportedLeader?: string;
  private stopCtl = new AbortController();
  private leaderCtl?: AbortController;
  private leaderWork?: Promise<void>;
  private running?: Promise<void>;

  constructor(private readonly o: LeaderElectionOptions) {
    this.leases = o.client.forKind<LeaseObject>(LEASE);
    this.durationS = o.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    this.log = o.log ?? stderrLogger;
    if (!(this.durationS * 1000 > this.renewDeadlineMs && this.renewDeadlineMs > this.retryMs)) {
      throw new Error("leader election: need leaseDuration > renewDeadline > retryPeriod");
    }
  }

  start(): void {
    if (this.running) return;
    this.stopCtl = new AbortController();
    this.running = this.loop().catch((e) => this.log.error({ lease: this.o.name, err: e }, "leader election loop crashed"));
  }

  /** Stops campaigning; if leading, aborts the work, releases the Lease and calls onStoppedLeading. */
  async stop(): Promise<void> {
    this.stopCtl.abort();
    await this.running;
    this.running = undefined;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder last observed (may be stale by up to retryPeriod). */
  getLeader(): string | undefined {
    return this.observed?.holderIdentity || undefined;
  }

  private async loop(): Promise<void> {
    const stop = this.stopCtl.signal;
    while (!stop.aborted) {
      // Campaign.
      while (!stop.aborted && !(await this.attempt())) await sleep(this.jittered(), stop);
      if (stop.aborted) break;
      this.becomeLeader();
      // Renew until we cannot for renewDeadline, or stop.
      let lastRenewAt = Date.now();
      while (!stop.aborted) {
        await sleep(this.retryMs, stop);
        if (stop.aborted) break;
        const left = this.renewDeadlineMs - (Date.now() - lastRenewAt);
        if (await this.attempt(Math.max(1, left))) lastRenewAt = Date.now();
        else if (Date.now() - lastRenewAt >= this.renewDeadlineMs) break;
      }
      const lost = !stop.aborted;
      await this.stopLeading(!lost && (this.o.releaseOnStop ?? true));
      if (lost) {
        this.log.warn({ lease: this.o.name, identity: this.o.identity }, "leader election: lost the lease");
        if (this.o.exitOnLoss) break;
      }
    }
  }

  private becomeLeader(): void {
    this.leading = true;
    this.leaderCtl = new AbortController();
    this.log.info({ lease: this.o.name, identity: this.o.identity }, "leader election: became leader");
    try {
      const r = this.o.onStartedLeading(this.leaderCtl.signal);
      this.leaderWork = Promise.resolve(r).catch((e) => this.log.error({ lease: this.o.name, err: e }, "leader election: onStartedLeading failed"));
    } catch (e) {
      this.log.error({ lease: this.o.name, err: e }, "leader election: onStartedLeading failed");
    }
  }

  private async stopLeading(release: boolean): Promise<void> {
    this.leaderCtl?.abort();
    this.leading = false;
    // Give the leader's work a bounded time to wind down before the Lease is handed on.
    if (this.leaderWork) await Promise.race([this.leaderWork, sleep(this.renewDeadlineMs)]);
    this.leaderWork = undefined;
    if (release) await this.release();
    try {
      this.o.onStoppedLeading?.();
    } catch (e) {
      this.log.error({ lease: this.o.name, err: e }, "leader election: onStoppedLeading failed");
    }
  }

  private jittered(): number {
    return Math.round(this.retryMs * (1 + 0.2 * Math.random()));
  }

  /** One acquire-or-renew round with a deadline; false on any failure (logged). */
  private async attempt(deadlineMs = this.renewDeadlineMs): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs)));
    try {
      return await Promise.race([this.tryAcquireOrRenew(), timeout]);
    } catch (e) {
      if (!isConflict(e) && !isAlreadyExists(e)) {
        this.log.warn({ lease: this.o.name, err: (e as Error)?.message ?? String(e) }, "leader election: attempt failed");
      }
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const me = this.o.identity;
    const lease = await this.leases.get(this.o.name, this.o.namespace);
    if (!lease) {
      const spec: LeaseSpec = {
        holderIdentity: me,
        leaseDurationSeconds: this.durationS,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      };
      const created = await this.leases.create({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec,
      });
      this.observe(created.spec ?? spec, created.metadata?.resourceVersion, now);
      return true;
    }
    const rec = lease.spec ?? {};
    this.observe(rec, lease.metadata?.resourceVersion, now);
    const holder = rec.holderIdentity ?? "";
    const durationMs = (rec.leaseDurationSeconds ?? this.durationS) * 1000;
    if (holder && holder !== me && this.observedAt + durationMs > now) return false; // someone else's, valid
    const wasMine = holder === me && this.leading;
    const spec: LeaseSpec = {
      holderIdentity: me,
      leaseDurationSeconds: this.durationS,
      acquireTime: wasMine ? (rec.acquireTime ?? microTime(now)) : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: wasMine || holder === me ? (rec.leaseTransitions ?? 0) : (rec.leaseTransitions ?? 0) + 1,
    };
    // Optimistic concurrency: the PUT carries the resourceVersion we read; a racing candidate gets a 409.
    const updated = await this.leases.update({ ...lease, spec });
    this.observe(updated.spec ?? spec, updated.metadata?.resourceVersion, now);
    return true;
  }

  private observe(rec: LeaseSpec, rv: string | undefined, now: number): void {
    if (rv !== this.observedRv || !this.observed) {
      // The record changed: restart the expiry clock from our own observation time.
      this.observed = { ...rec };
      this.observedRv = rv;
      this.observedAt = now;
    }
    const holder = rec.holderIdentity ?? "";
    if (holder && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      try {
        this.o.onNewLeader?.(holder);
      } catch (e) {
        this.log.error({ lease: this.o.name, err: e }, "leader election: onNewLeader failed");
      }
    }
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.leases.get(this.o.name, this.o.namespace);
      if (!lease || lease.spec?.holderIdentity !== this.o.identity) return;
      const now = microTime();
      await this.leases.update({
        ...lease,
        spec: {
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: lease.spec?.leaseTransitions ?? 0,
        },
      });
    } catch (e) {
      this.log.warn({ lease: this.o.name, err: (e as Error)?.message ?? String(e) }, "leader election: release failed");
    }
  }
}
