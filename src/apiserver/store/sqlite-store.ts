// Durable object store of the embedded API server: one SQLite file, WAL mode.
//
// Durability: `synchronous=FULL` in WAL mode fsyncs the WAL on every commit, so a committed write survives
// kill -9 and power loss (`NORMAL` would survive kill -9 but not power loss).
//
// Group commit: writes made in the same turn of the event loop share one transaction and one fsync. Each
// write runs at once inside the open transaction (later reads on this connection see it, so request
// handling stays sequential), and `sync()` resolves after the COMMIT. The server answers every request
// only after `sync()`, so an acknowledged write is a committed write; watchers are notified only after the
// COMMIT, in commit order, so no watcher ever sees a write that a crash could take back.
//
// Versioning: one global, monotonically increasing resourceVersion (an integer) for every write of every
// resource. Each write appends an event row (`events`, keyed by rv) in the same transaction as the object
// change; the log feeds watch replay. It is compacted to the last `eventRetention` events; a watch from an
// rv older than the compaction point gets 410 Expired. The current rv survives restarts because it is
// max(events.rv, objects.rv, compacted), and compaction never deletes the newest event.

import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export interface ObjectKey {
  group: string;
  resource: string;
  namespace: string; // "" for cluster-scoped
  name: string;
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

/** One committed change; `data` is the object's JSON text with its new resourceVersion. */
export interface StoreEvent {
  rv: number;
  type: EventType;
  key: ObjectKey;
  data: string;
  obj?: any; // the parsed object (live events only)
  prev?: any; // the object before the change (live events only; undefined for ADDED)
}

export interface StoredRow {
  namespace: string;
  name: string;
  data: string;
}

export interface SqliteStoreOptions {
  /** Events kept for watch replay (default 10,000). */
  eventRetention?: number;
}

export class SqliteStore {
  private readonly db: Database.Database;
  private rv: number;
  private compactedRv: number;
  private readonly retention: number;
  private writesSinceCompaction = 0;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private readonly st: Record<string, Database.Statement>;
  private inTx = false;
  private pending: StoreEvent[] = [];
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(dataDir: string, opts: SqliteStoreOptions = {}) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(dataDir, "store.db"));
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.retention = opts.eventRetention ?? 10_000;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS objects (
        grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
        rv INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (grp, res, ns, name)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS events (
        rv INTEGER PRIMARY KEY, type TEXT NOT NULL,
        grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS events_by_resource ON events (grp, res, rv);
    `);
    const p = (sql: string) => this.db.prepare(sql);
    this.st = {
      get: p("SELECT data FROM objects WHERE grp=? AND res=? AND ns=? AND name=?"),
      upsert: p(
        "INSERT INTO objects (grp,res,ns,name,rv,data) VALUES (?,?,?,?,?,?) ON CONFLICT(grp,res,ns,name) DO UPDATE SET rv=excluded.rv, data=excluded.data",
      ),
      del: p("DELETE FROM objects WHERE grp=? AND res=? AND ns=? AND name=?"),
      event: p("INSERT INTO events (rv,type,grp,res,ns,name,data) VALUES (?,?,?,?,?,?,?)"),
      listAll: p("SELECT ns AS namespace, name, data FROM objects WHERE grp=? AND res=? AND (ns>? OR (ns=? AND name>?)) ORDER BY ns, name LIMIT ?"),
      listNs: p("SELECT ns AS namespace, name, data FROM objects WHERE grp=? AND res=? AND ns=? AND name>? ORDER BY name LIMIT ?"),
      countAll: p("SELECT count(*) AS n FROM objects WHERE grp=? AND res=? AND (ns>? OR (ns=? AND name>?))"),
      countNs: p("SELECT count(*) AS n FROM objects WHERE grp=? AND res=? AND ns=? AND name>?"),
      countInNs: p("SELECT count(*) AS n FROM objects WHERE ns=?"),
      keysInNs: p("SELECT grp AS 'group', res AS resource, ns AS namespace, name FROM objects WHERE ns=?"),
      eventsAfter: p("SELECT rv, type, grp, res, ns, name, data FROM events WHERE grp=? AND res=? AND rv>? ORDER BY rv"),
      maxEventRv: p("SELECT max(rv) AS m FROM events"),
      maxObjRv: p("SELECT max(rv) AS m FROM objects"),
      metaGet: p("SELECT v FROM meta WHERE k=?"),
      metaSet: p("INSERT INTO meta (k,v) VALUES (?,?) ON CONFLICT(k) DO UPDATE SET v=excluded.v"),
      compact: p("DELETE FROM events WHERE rv<=?"),
      begin: p("BEGIN IMMEDIATE"),
      commit: p("COMMIT"),
      rollback: p("ROLLBACK"),
      savepoint: p("SAVEPOINT w"),
      release: p("RELEASE w"),
      rollbackTo: p("ROLLBACK TO w"),
    };
    const compacted = this.st.metaGet!.get("compactedRv") as { v: string } | undefined;
    this.compactedRv = compacted ? Number(compacted.v) : 0;
    this.rv = this.readRv();
  }

  /** The newest committed resourceVersion. */
  get currentRv(): number {
    return this.rv;
  }

  /** Events at or below this rv are gone from the log; a watch must start after it. */
  get oldestReplayableRv(): number {
    return this.compactedRv;
  }

  get(key: ObjectKey): string | undefined {
    const row = this.st.get!.get(key.group, key.resource, key.namespace, key.name) as { data: string } | undefined;
    return row?.data;
  }

  /** Rows in (namespace, name) order after the `after` key; namespace undefined = all namespaces. */
  list(group: string, resource: string, namespace: string | undefined, after?: { namespace: string; name: string }, limit?: number): StoredRow[] {
    const lim = limit && limit > 0 ? limit : -1;
    if (namespace !== undefined) return this.st.listNs!.all(group, resource, namespace, after?.name ?? "", lim) as StoredRow[];
    const a = after ?? { namespace: "", name: "" };
    // Names are never empty, so the key ("", "") sorts before every row: it is the first page.
    return this.st.listAll!.all(group, resource, a.namespace, a.namespace, a.name, lim) as StoredRow[];
  }

  /** Objects after the `after` key (for remainingItemCount). */
  countAfter(group: string, resource: string, namespace: string | undefined, after: { namespace: string; name: string }): number {
    const row =
      namespace !== undefined
        ? this.st.countNs!.get(group, resource, namespace, after.name)
        : this.st.countAll!.get(group, resource, after.namespace, after.namespace, after.name);
    return (row as { n: number }).n;
  }

  countInNamespace(namespace: string): number {
    return (this.st.countInNs!.get(namespace) as { n: number }).n;
  }

  keysInNamespace(namespace: string): ObjectKey[] {
    return this.st.keysInNs!.all(namespace) as ObjectKey[];
  }

  /** Logged events of one resource after `rv`, oldest first. Caller checks `oldestReplayableRv` first. */
  eventsAfter(group: string, resource: string, rv: number): StoreEvent[] {
    const rows = this.st.eventsAfter!.all(group, resource, rv) as Array<{
      rv: number;
      type: EventType;
      grp: string;
      res: string;
      ns: string;
      name: string;
      data: string;
    }>;
    return rows.map((r) => ({ rv: r.rv, type: r.type, key: { group: r.grp, resource: r.res, namespace: r.ns, name: r.name }, data: r.data }));
  }

  /**
   * Writes one change: assigns the next resourceVersion (written into `obj.metadata.resourceVersion`),
   * writes the object (or deletes it) and its event into the open group-commit transaction, and returns the
   * event. Durable once `sync()` resolves; listeners are told after the COMMIT, in order.
   */
  write(type: EventType, key: ObjectKey, obj: any, prev?: any): StoreEvent {
    const rv = this.rv + 1;
    obj.metadata.resourceVersion = String(rv);
    const data = JSON.stringify(obj);
    if (!this.inTx) {
      this.st.begin!.run();
      this.inTx = true;
      setImmediate(() => this.flush());
    }
    this.st.savepoint!.run();
    try {
      if (type === "DELETED") this.st.del!.run(key.group, key.resource, key.namespace, key.name);
      else this.st.upsert!.run(key.group, key.resource, key.namespace, key.name, rv, data);
      this.st.event!.run(rv, type, key.group, key.resource, key.namespace, key.name, data);
      this.st.release!.run();
    } catch (e) {
      this.st.rollbackTo!.run();
      this.st.release!.run();
      throw e;
    }
    this.rv = rv;
    const ev: StoreEvent = { rv, type, key, data, obj, prev };
    this.pending.push(ev);
    return ev;
  }

  /** Resolves when every write made so far is committed (at once if none is pending). */
  sync(): Promise<void> {
    if (!this.inTx) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Commits the open transaction, then notifies listeners and waiters. */
  flush(): void {
    if (!this.inTx) return;
    const events = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    try {
      this.st.commit!.run();
    } catch (e) {
      // The disk refused the commit: nothing of this batch was acknowledged or announced.
      try {
        this.st.rollback!.run();
      } catch {
        // already rolled back by SQLite
      }
      this.inTx = false;
      this.rv = this.readRv();
      for (const w of waiters) w.reject(e);
      return;
    }
    this.inTx = false;
    this.writesSinceCompaction += events.length;
    if (this.writesSinceCompaction >= Math.max(100, Math.floor(this.retention / 10))) this.compact();
    for (const ev of events) {
      for (const l of this.listeners) {
        try {
          l(ev);
        } catch {
          // A listener's failure (a broken watch socket) must never undo or block a committed write.
        }
      }
    }
    for (const w of waiters) w.resolve();
  }

  private readRv(): number {
    const m = (s: string) => Number((this.st[s]!.get() as { m: number | null }).m ?? 0);
    return Math.max(m("maxEventRv"), m("maxObjRv"), this.compactedRv);
  }

  /** Drops events older than the retention window. */
  compact(): void {
    if (this.inTx) return; // only between batches
    this.writesSinceCompaction = 0;
    const bound = this.rv - this.retention;
    if (bound <= this.compactedRv) return;
    this.db.transaction(() => {
      this.st.compact!.run(bound);
      this.st.metaSet!.run("compactedRv", String(bound));
    })();
    this.compactedRv = bound;
  }

  onCommit(listener: (e: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.db.open) this.flush();
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }
}
