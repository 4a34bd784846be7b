import { test } from "node:test";
import assert from "node:assert/strict";
import { isHwError } from "./errors.ts";
import { parseSecretRef, passphraseFromSecret } from "./encryption.ts";
import { thinRoomProblem } from "./thin-pool.ts";

const code = (c: string, re: RegExp) => (e: unknown) => isHwError(e) && e.code === c && re.test(e.message);

test("bad input: a LUKS secret that is missing, wrongly named or empty", () => {
  assert.deepEqual(parseSecretRef("kube-system/volume-key", "pvc-1"), { namespace: "kube-system", name: "volume-key" });
  for (const bad of [undefined, "", "volume-key", "a/b/c", "Kube/x", "ns/", "/x", "ns/UPPER"]) {
    assert.throws(() => parseSecretRef(bad, "pvc-1"), code("INVALID_ARGUMENT", /volume pvc-1: encryptSecret .* is not "<namespace>\/<name>"/), String(bad));
  }
  assert.throws(() => passphraseFromSecret(undefined, "ns/k", "pvc-1"), code("NOT_FOUND", /volume pvc-1: encryption Secret ns\/k does not exist/));
  assert.throws(
    () => passphraseFromSecret({ data: { passphrase: "eA==" } }, "ns/k", "pvc-1"),
    code("FAILED_PRECONDITION", /has no data key "key" \(it has: passphrase\)/),
  );
  assert.throws(() => passphraseFromSecret({}, "ns/k", "pvc-1"), code("FAILED_PRECONDITION", /it has: none/));
  assert.throws(() => passphraseFromSecret({ data: { key: "" } }, "ns/k", "pvc-1"), code("FAILED_PRECONDITION", /empty "key"/));
  assert.deepEqual(passphraseFromSecret({ data: { key: Buffer.from("s3cret\n").toString("base64") } }, "ns/k", "pvc-1"), Buffer.from("s3cret\n"));
});

test("thin room on a node as its LocalStorageNode reports it", () => {
  const tp = { size: 100, totalProvisionedSize: 150, overProvisionRatio: "2.0" };
  assert.equal(thinRoomProblem("n1", "LocalStorage_PoolHDD", tp, "volume pvc-1", 50), undefined);
  assert.match(
    thinRoomProblem("n1", "LocalStorage_PoolHDD", tp, "volume pvc-1", 51)!,
    /insufficient free space in thin pool LocalStorage_PoolHDD on node n1 for volume pvc-1: requested 51 bytes, provisioned 150 of 200 bytes/,
  );
  assert.match(thinRoomProblem("n1", "LocalStorage_PoolHDD", undefined, "volume pvc-1", 1)!, /has no thin pool .* ThinPoolClaim/);
});
