// A transaction writer against a PostgreSQL pod (test/helpers/postgres.ts) that keeps a log of what the server
// acknowledged: one autocommitted INSERT of the next id per psql run, logged with its time only after psql
// exited 0 (the COMMIT returned). An INSERT whose outcome is unknown (the server went away mid-transaction)
// is kept apart: it may or may not be in the table. After the pod moved or failed over, `verify` checks the
// table against the log — every acknowledged id present, nothing that was never attempted — and the gaps
// between acknowledgements give the time the database did not serve.
import assert from "node:assert/strict";
import { psql, type PostgresPod } from "./postgres.ts";

export interface WriterLog {
  /** Acknowledged ids with the time (ms) their COMMIT returned, in order. */
  committed: Array<{ id: number; at: number }>;
  /** Ids whose INSERT failed or timed out: possibly committed. */
  unknown: number[];
}

export interface PgWriter {
  /** Acknowledged so far. */
  count(): number;
  /** Stops after the transaction in flight; resolves the log. */
  stop(): Promise<WriterLog>;
}

export const WRITER_TABLE = "acked";

/** Creates the table and starts writing; each failure is retried after `retryMs`, in the netns of the pod's node then. */
export async function startPgWriter(pg: PostgresPod, retryMs = 200): Promise<PgWriter> {
  await pg.query(`CREATE TABLE IF NOT EXISTS ${WRITER_TABLE} (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
  const log: WriterLog = { committed: [], unknown: [] };
  let stopping = false;
  const loop = (async () => {
    let netns: string | undefined | null = null; // null: look it up (at start and after a failure)
    for (let id = 1; !stopping; id++) {
      try {
        if (netns === null) netns = await pg.netns();
        // the CTE: only the row is printed (a bare INSERT … RETURNING also prints its command tag)
        const got = await psql(pg.port, `WITH i AS (INSERT INTO ${WRITER_TABLE} (id) VALUES (${id}) RETURNING id) SELECT id FROM i`, 10_000, netns);
        if (got !== String(id)) throw new Error(`INSERT ${id} returned ${JSON.stringify(got)}`);
        log.committed.push({ id, at: Date.now() });
      } catch {
        log.unknown.push(id);
        netns = null;
        await new Promise((r) => setTimeout(r, retryMs));
      }
    }
  })();
  return {
    count: () => log.committed.length,
    stop: async () => {
      stopping = true;
      await loop;
      return log;
    },
  };
}

/** Longest time without an acknowledged commit inside [from, to] (ms), with the commits around it. */
export function longestPause(log: WriterLog, from = 0, to = Infinity): { ms: number; lastBefore?: number; firstAfter?: number } {
  const c = log.committed.filter((x) => x.at >= from && x.at <= to);
  let best = { ms: 0 } as { ms: number; lastBefore?: number; firstAfter?: number };
  for (let i = 1; i < c.length; i++)
    if (c[i]!.at - c[i - 1]!.at > best.ms) best = { ms: c[i]!.at - c[i - 1]!.at, lastBefore: c[i - 1]!.id, firstAfter: c[i]!.id };
  return best;
}

/** The table holds every acknowledged id, and no id that was never attempted; answers count(*). */
export async function verifyWriterLog(pg: PostgresPod, log: WriterLog): Promise<{ rows: number; acked: number; unknownPresent: number }> {
  const rows = Number(await pg.query(`SELECT count(*) FROM ${WRITER_TABLE}`));
  const ids = new Set((await pg.query(`SELECT id FROM ${WRITER_TABLE} ORDER BY id`)).split("\n").filter(Boolean).map(Number));
  assert.equal(ids.size, rows, "SELECT count(*) agrees with the ids listed");
  const missing = log.committed.filter((c) => !ids.has(c.id)).map((c) => c.id);
  assert.deepEqual(missing, [], `acknowledged ids missing from ${pg.pod}'s table (${missing.length} of ${log.committed.length})`);
  const unknown = new Set(log.unknown);
  const acked = new Set(log.committed.map((c) => c.id));
  const strangers = [...ids].filter((id) => !unknown.has(id) && !acked.has(id));
  assert.deepEqual(strangers, [], "ids in the table the writer never attempted");
  return { rows, acked: log.committed.length, unknownPresent: [...ids].filter((id) => unknown.has(id)).length };
}
