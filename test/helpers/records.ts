// Acknowledged-write records for fault tests: a writer puts 4 KiB records at seq × 4 KiB (the seq, the payload's
// sha256, a random payload), pwrite + fdatasync each, and only then prints the seq — a printed seq is a write
// the storage acknowledged as durable. After a failure, every record up to the last printed seq must be there,
// intact. The writer is a `node -e` script, so it runs as a host process or as a dev-cluster pod's command
// (pods run the host's binaries).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

export const REC = 4096;

/**
 * The writer's source: `node -e RECORD_WRITER <file> [from]`. Without `from` it continues after the last whole
 * record in the file (a replacement pod resumes where the failed one stopped). Prints each acknowledged seq on
 * stdout; `START <seq>` on stderr (a pod's log holds both).
 */
export const RECORD_WRITER = `
const fs = require("node:fs"), c = require("node:crypto");
const fd = fs.openSync(process.argv[1], fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
let seq = process.argv[2] === undefined ? Math.floor(fs.fstatSync(fd).size / ${REC}) : Number(process.argv[2]);
process.stderr.write("START " + seq + "\\n");
for (; ; seq++) {
  const b = Buffer.alloc(${REC});
  c.randomFillSync(b, 64, ${REC} - 64);
  b.write(String(seq).padStart(16, "0"), 0);
  b.write(c.createHash("sha256").update(b.subarray(64)).digest("hex").slice(0, 40), 16);
  fs.writeSync(fd, b, 0, b.length, seq * ${REC});
  fs.fdatasyncSync(fd);
  process.stdout.write(seq + "\\n");
}`;

/** The last acknowledged seq in a writer's output (its stdout or a pod's log), or -1. */
export function lastAcked(output: string): number {
  const seqs = output.split("\n").filter((l) => /^\d+$/.test(l));
  return seqs.length ? Number(seqs.at(-1)) : -1;
}

/** Every record 0..upTo is present and intact. */
export async function verifyRecords(file: string, upTo: number): Promise<void> {
  const fh = await open(file, "r");
  try {
    const b = Buffer.alloc(REC);
    for (let seq = 0; seq <= upTo; seq++) {
      const { bytesRead } = await fh.read(b, 0, REC, seq * REC);
      assert.equal(bytesRead, REC, `record ${seq} is there`);
      assert.equal(b.subarray(0, 16).toString(), String(seq).padStart(16, "0"), `record ${seq}: its seq`);
      assert.equal(b.subarray(16, 56).toString(), createHash("sha256").update(b.subarray(64)).digest("hex").slice(0, 40), `record ${seq}: its checksum`);
    }
  } finally {
    await fh.close();
  }
}
