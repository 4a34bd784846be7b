import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HwError } from "../api/errors.ts";
import { decodeBody, negotiate } from "./http-util.ts";

describe("content negotiation and bodies", () => {
  it("picks Table, PartialObjectMetadata or JSON from Accept", () => {
    assert.deepEqual(negotiate("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"), {
      as: "table",
      apiVersion: "meta.k8s.io/v1",
    });
    assert.deepEqual(negotiate("application/json;as=Table;v=v1beta1;g=meta.k8s.io"), { as: "table", apiVersion: "meta.k8s.io/v1beta1" });
    assert.deepEqual(negotiate("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"), {
      as: "metadata",
      apiVersion: "meta.k8s.io/v1",
    });
    assert.deepEqual(negotiate("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"), { as: "json" });
    assert.deepEqual(negotiate("application/vnd.kubernetes.protobuf, */*"), { as: "json" });
    assert.deepEqual(negotiate(undefined), { as: "json" });
  });

  it("decodes JSON and YAML, rejects garbage with 400 and CBOR with 415", () => {
    assert.deepEqual(decodeBody(Buffer.from('{"a":1}'), "application/json"), { a: 1 });
    assert.deepEqual(decodeBody(Buffer.from("a: 1\n"), "application/yaml"), { a: 1 });
    assert.throws(
      () => decodeBody(Buffer.from("{"), "application/json"),
      (e: HwError) => e.httpStatusOverride === 400,
    );
    assert.throws(
      () => decodeBody(Buffer.from(""), "application/json"),
      (e: HwError) => e.httpStatusOverride === 400,
    );
    assert.throws(
      () => decodeBody(Buffer.from("x"), "application/cbor"),
      (e: HwError) => e.httpStatusOverride === 415,
    );
  });
});
