// A per-key async mutex: `with(key, fn)` runs fn after every earlier fn of the same key has settled; keys
// are independent. Used wherever a check-then-act must not interleave within one process: an engine's
// "already attached?" check and losetup, a pool's free-space check and its allocation, the CSI controller's
// placement decision, the disk driver's choice of a disk on a node. (Across processes the API server's
// optimistic concurrency is the lock.)

export class KeyedLock {
  private tails = new Map<string, Promise<unknown>>();

  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev.catch(() => undefined);
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
