// Loads the vendored CSI v1.12 spec (the repository's proto/csi.proto) once per process. proto-loader resolves the
// google/protobuf imports from the protobufjs package's own copies (includeDirs), so nothing is fetched.
// Options: keepCase (field names exactly as on the wire: volume_id), int64 as decimal strings (capacities
// exceed 2^53 only in theory, but strings keep them exact), enums as their names, defaults filled in.

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * The protocol definitions (proto/ at the repository root, see proto/README.md): two levels above this module
 * both as source (src/csi/) and as built JavaScript (dist/csi/), so one path serves both layouts.
 */
export const PROTO_DIR = path.join(import.meta.dirname, "..", "..", "proto");
export const CSI_PROTO_PATH = path.join(PROTO_DIR, "csi.proto");

export type CsiServiceName = "Identity" | "Controller" | "Node";

export interface CsiPackage {
  Identity: grpc.ServiceClientConstructor;
  Controller: grpc.ServiceClientConstructor;
  Node: grpc.ServiceClientConstructor;
}

let loaded: CsiPackage | undefined;

/** The csi.v1 package (service constructors with their definitions), loaded on first use. */
export function csiPackage(): CsiPackage {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const protobufDir = path.dirname(require.resolve("protobufjs/package.json"));
  const def = protoLoader.loadSync(CSI_PROTO_PATH, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [protobufDir],
  });
  const root = grpc.loadPackageDefinition(def) as unknown as { csi: { v1: CsiPackage } };
  loaded = root.csi.v1;
  return loaded;
}
