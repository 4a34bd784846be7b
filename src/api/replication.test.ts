import assert from "node:assert/strict";
import { test } from "node:test";
import type { LocalVolume } from "./kinds/local-volume.ts";
import { Annotations } from "./names.ts";
import { soleServingNode } from "./replication.ts";

const lv = (replicaNumber: number, hosts: Array<[string, boolean]>, o: { extra?: boolean; convertible?: boolean } = {}): LocalVolume =>
  ({
    metadata: { name: "v", annotations: o.extra ? { [Annotations.MigrateExtraReplica]: "true" } : {} },
    spec: {
      replicaNumber,
      convertible: !!o.convertible,
      config: { version: 2, replicas: hosts.map(([hostname, primary], i) => ({ id: i + 1, hostname, ip: "", primary })) },
    },
  }) as unknown as LocalVolume;

test("soleServingNode: a volume without HA with a migration's second replica is served on its primary only", () => {
  // before the promotion (source primary) and after it (target primary, the source kept for the on-disk re-read)
  assert.equal(
    soleServingNode(
      lv(
        2,
        [
          ["src", true],
          ["dst", false],
        ],
        { extra: true },
      ),
    ),
    "src",
  );
  assert.equal(
    soleServingNode(
      lv(
        2,
        [
          ["src", false],
          ["dst", true],
        ],
        { extra: true },
      ),
    ),
    "dst",
  );
  // the source replica pruned (annotation gone, replicaNumber back to 1): one replica, no rule needed
  assert.equal(soleServingNode(lv(1, [["dst", true]])), undefined);
  // replicated volumes publish where their HA primary is (ha-publish.ts), not by this rule
  assert.equal(
    soleServingNode(
      lv(2, [
        ["a", true],
        ["b", false],
      ]),
    ),
    undefined,
  );
  assert.equal(
    soleServingNode(
      lv(
        1,
        [
          ["a", true],
          ["b", false],
        ],
        { convertible: true },
      ),
    ),
    undefined,
  );
  // a 3-way HA volume being migrated stays replicated
  assert.equal(
    soleServingNode(
      lv(
        3,
        [
          ["a", true],
          ["b", false],
          ["c", false],
        ],
        { extra: true },
      ),
    ),
    undefined,
  );
});
