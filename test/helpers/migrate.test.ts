// The migration safety rules the e2e tests check over what their watches saw (test/e2e/migration.test.ts (a2)):
// a timeline that keeps them passes, each way of breaking one is named.
import assert from "node:assert/strict";
import { test } from "node:test";
import { migrationViolations, type Seen } from "./migrate.ts";

const lv = (rv: number, primary: string, annotation = "migrateStarted", published = "", config?: string): Seen => ({
  rv,
  kind: "lv",
  f: [primary, annotation, published, ...(config === undefined ? [] : [config])],
});
const sync = (rv: number, attempt: string, src = "", srcSum = "", tgt = "", tgtSum = "", disk = "", diskSum = ""): Seen => ({
  rv,
  kind: "sync",
  f: [attempt, src, srcSum, tgt, tgtSum, disk, diskSum],
});
const state = (rv: number, st: string): Seen => ({ rv, kind: "migrate", f: [st] });

/** A migration a → b as the controller and the agents write it. */
const good: Seen[] = [
  lv(10, "a", "", "a"),
  state(11, "Submitted"),
  lv(12, "a", "migrateStarted", "a"),
  lv(13, "a"),
  sync(14, "1"),
  sync(15, "1", "1", "crc32c:300:aa"),
  sync(16, "1", "1", "crc32c:300:aa", "1", "crc32c:300:aa"),
  state(17, "PruneReplica"),
  lv(18, "b"),
  lv(19, "b", "migrateCompleted"),
  lv(20, "b", "migrateCompleted", "b"),
];

test("a migration that keeps the rules has no violation, also when the watches' lines arrive out of order", () => {
  assert.deepEqual(migrationViolations(good, "b"), []);
  assert.deepEqual(migrationViolations([...good].reverse(), "b"), []);
});

test("each broken rule is named with the write that broke it", () => {
  const cases: Array<[string, Seen[], RegExp]> = [
    ["two primaries", [...good, lv(21, "a b", "migrateCompleted")], /rv 21: 2 primaries \(a b\)/],
    ["no primary", [lv(5, "", "", "")], /rv 5: 0 primaries \(none\)/],
    ["the target primary before the checksums", [lv(10, "a"), sync(11, "1", "1", "x"), lv(12, "b")], /rv 12: b primary before the copy was verified/],
    ["checksums that differ", [sync(11, "1", "1", "x", "1", "y"), lv(12, "b")], /rv 12: b primary before the copy was verified/],
    ["checksums of an earlier attempt", [sync(11, "2", "1", "x", "1", "x"), lv(12, "b")], /rv 12: b primary before the copy was verified/],
    [
      "published on the target while migrating",
      [...good.slice(0, 9), lv(19, "b", "migrateStarted", "b")],
      /rv 19: published on b with primary b and migrateStarted/,
    ],
    ["published on the target as a secondary", [...good.slice(0, 7), lv(17, "a", "migrateCompleted", "b")], /rv 17: published on b with primary a/],
  ];
  for (const [what, seen, want] of cases) {
    const v = migrationViolations(seen, "b");
    assert.equal(v.length, 1, `${what}: ${v.join("; ")}`);
    assert.match(v[0]!, want, what);
  }
});

test("the source replica leaves the config only after the target's disk read back the copy", () => {
  const copied = sync(16, "1", "1", "crc32c:300:aa", "1", "crc32c:300:aa");
  const promoted = lv(18, "b", "migrateCompleted", "b", "a b");
  const keep: Seen[] = [lv(10, "a", "", "a", "a"), lv(13, "a", "migrateStarted", "", "a b"), copied, promoted];
  const disk = (rv: number, attempt: string, sum: string) => sync(rv, "1", "1", "crc32c:300:aa", "1", "crc32c:300:aa", attempt, sum);
  assert.deepEqual(migrationViolations([...keep, disk(19, "1", "crc32c:300:aa"), lv(20, "b", "migrateCompleted", "b", "b")], "b", "a"), []);
  for (const [what, seen] of [
    ["not read back yet", [...keep, lv(20, "b", "migrateCompleted", "b", "b")]],
    ["read back different", [...keep, disk(19, "1", "crc32c:300:bb"), lv(20, "b", "migrateCompleted", "b", "b")]],
    ["read back in an earlier attempt", [...keep, disk(19, "0", "crc32c:300:aa"), lv(20, "b", "migrateCompleted", "b", "b")]],
  ] as const) {
    const v = migrationViolations([...seen], "b", "a");
    assert.equal(v.length, 1, `${what}: ${v.join("; ")}`);
    assert.match(v[0]!, /rv 20: the replica on a dropped before b's disk read back the copy/, what);
  }
});
