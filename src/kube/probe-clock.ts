// When a lease or heartbeat last changed, on this process's clock (node lifecycle, worker-lease checks).

/**
 * Tracks when each probe value (lease renewTime, Ready heartbeat) last changed, on this process's clock, as
 * upstream does (no trust in the node's clock). A key seen for the first time counts as just heard (upstream's
 * nodeStartupGracePeriod plays this role for new nodes).
 */
export class ProbeClock {
  private readonly seen = new Map<string, { value: string; at: number }>();

  /** Records `value` for `key` and returns ms since it last changed. */
  observe(key: string, value: string, nowMs: number): number {
    const s = this.seen.get(key);
    if (!s || s.value !== value) {
      this.seen.set(key, { value, at: nowMs });
      return 0;
    }
    return nowMs - s.at;
  }

  forget(key: string): void {
    this.seen.delete(key);
  }
}
