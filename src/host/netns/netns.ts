// Network namespaces for the dev cluster's `--netns` mode: a named netns per node (`ip netns add`), a
// bridge on the host, a veth pair per namespace (one end in the namespace, one on the bridge) and IPv4
// addresses. Processes enter a namespace with `nsenter --net=/run/netns/NAME` (PLATFORM.md: `ip netns exec`
// would also unshare the mount namespace, and a node agent's mounts must stay visible to the host).
//
// Every function is idempotent: adding what exists or deleting what is gone is success, so a `cluster up`
// or `cluster down` killed half-way can simply be run again.

import { existsSync } from "node:fs";
import { HwError } from "../../api/errors.ts";
import { isCommandError, run, runJson, type RunOptions } from "../runner.ts";

export const NETNS_DIR = "/run/netns";

/** The path `nsenter --net=` takes for a named namespace. */
export const netnsPath = (name: string): string => `${NETNS_DIR}/${name}`;

/** The `nsenter` prefix that runs argv in the namespace's network only (mounts shared with the host). */
export const nsenterNetArgv = (name: string, argv: string[]): string[] => ["nsenter", `--net=${netnsPath(name)}`, "--", ...argv];

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const NSNAME = /^[A-Za-z0-9_.-]{1,64}$/;
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

function assertIfName(n: string): void {
  if (!IFNAME.test(n)) throw new HwError("INVALID_ARGUMENT", "Invalid", `interface name ${JSON.stringify(n)} is invalid (1–15 of A-Za-z0-9_.-)`);
}
function assertNsName(n: string): void {
  if (!NSNAME.test(n)) throw new HwError("INVALID_ARGUMENT", "Invalid", `namespace name ${JSON.stringify(n)} is invalid (1–64 of A-Za-z0-9_.-)`);
}
function assertCidr(c: string): void {
  if (!CIDR.test(c)) throw new HwError("INVALID_ARGUMENT", "Invalid", `address ${JSON.stringify(c)} is not an IPv4 CIDR like 10.0.0.1/24`);
}

/** "exists" failures of ip(8): RTNETLINK "File exists", netns "File exists"/"already exists". */
export function isExists(e: unknown): boolean {
  return isCommandError(e) && /File exists|already exists/i.test(e.stderr);
}
/** "gone" failures: no such device / namespace. */
export function isNotFound(e: unknown): boolean {
  return isCommandError(e) && /Cannot find device|No such device|No such file or directory|does not exist|Cannot open network namespace/i.test(e.stderr);
}

async function tolerate(p: Promise<unknown>, ok: (e: unknown) => boolean): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!ok(e)) throw e;
  }
}

/** Names of the named namespaces (`ip netns list`). */
export async function listNetns(opts: RunOptions = {}): Promise<string[]> {
  const r = await run(["ip", "netns", "list"], opts);
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

/** `ip netns add NAME` and bring its loopback up. */
export async function addNetns(name: string, opts: RunOptions = {}): Promise<void> {
  assertNsName(name);
  if (!netnsExists(name)) await tolerate(run(["ip", "netns", "add", name], opts), isExists);
  await run(nsenterNetArgv(name, ["ip", "link", "set", "lo", "up"]), opts);
}

/** `ip netns del NAME` (its veth ends go with it). Gone = ok. */
export async function deleteNetns(name: string, opts: RunOptions = {}): Promise<void> {
  assertNsName(name);
  if (!netnsExists(name)) return;
  await tolerate(run(["ip", "netns", "del", name], opts), isNotFound);
}

interface IpLink {
  ifname: string;
  operstate?: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

/** The link named `ifname` in the host namespace (or in `netns`), or undefined. */
export async function getLink(ifname: string, netns?: string, opts: RunOptions = {}): Promise<IpLink | undefined> {
  assertIfName(ifname);
  const argv = ["ip", "-json", "addr", "show", "dev", ifname];
  try {
    const links = await runJson<IpLink[]>(netns ? nsenterNetArgv(netns, argv) : argv, opts);
    return links[0];
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** A bridge with `cidr` (e.g. 10.209.0.1/24) on the host, up. */
export async function ensureBridge(name: string, cidr: string, opts: RunOptions = {}): Promise<void> {
  assertIfName(name);
  assertCidr(cidr);
  if (!(await getLink(name, undefined, opts))) await tolerate(run(["ip", "link", "add", name, "type", "bridge"], opts), isExists);
  await ensureAddress(name, cidr, undefined, opts);
  await run(["ip", "link", "set", name, "up"], opts);
}

/** Adds `cidr` to the link unless it has it. */
export async function ensureAddress(ifname: string, cidr: string, netns?: string, opts: RunOptions = {}): Promise<void> {
  assertIfName(ifname);
  assertCidr(cidr);
  const link = await getLink(ifname, netns, opts);
  const [ip, len] = cidr.split("/");
  if (link?.addr_info?.some((a) => a.family === "inet" && a.local === ip && String(a.prefixlen) === len)) return;
  const argv = ["ip", "addr", "add", cidr, "dev", ifname];
  await tolerate(run(netns ? nsenterNetArgv(netns, argv) : argv, opts), isExists);
}

/**
 * A veth pair: `hostIf` on the host attached to `bridge`, `nsIf` inside `netns` with `cidr`; both up.
 * Re-running it after a partial run completes what is missing.
 */
export async function ensureVeth(o: { hostIf: string; nsIf: string; netns: string; bridge: string; cidr: string }, opts: RunOptions = {}): Promise<void> {
  assertIfName(o.hostIf);
  assertIfName(o.nsIf);
  assertIfName(o.bridge);
  assertNsName(o.netns);
  const inNs = await getLink(o.nsIf, o.netns, opts);
  if (!inNs) {
    // A host end without its peer in the namespace is a leftover of a crash between the two steps.
    if (await getLink(o.hostIf, undefined, opts)) await deleteLink(o.hostIf, opts);
    await run(["ip", "link", "add", o.hostIf, "type", "veth", "peer", "name", o.nsIf, "netns", o.netns], opts);
  }
  await run(["ip", "link", "set", o.hostIf, "master", o.bridge], opts);
  await run(["ip", "link", "set", o.hostIf, "up"], opts);
  await ensureAddress(o.nsIf, o.cidr, o.netns, opts);
  await run(nsenterNetArgv(o.netns, ["ip", "link", "set", o.nsIf, "up"]), opts);
}

/** `ip link set NAME up|down` in the host namespace (fault tests cut a node's veth from the host side). */
export async function setLinkUp(ifname: string, up: boolean, opts: RunOptions = {}): Promise<void> {
  assertIfName(ifname);
  await run(["ip", "link", "set", ifname, up ? "up" : "down"], opts);
}

/** `ip link del NAME` in the host namespace. Gone = ok. */
export async function deleteLink(ifname: string, opts: RunOptions = {}): Promise<void> {
  assertIfName(ifname);
  await tolerate(run(["ip", "link", "del", ifname], opts), isNotFound);
}

/** IPv4 routes of the host, as `ip -json route` reports them (dst "default" or a CIDR). */
export async function listRoutes(opts: RunOptions = {}): Promise<Array<{ dst: string; dev?: string }>> {
  return runJson<Array<{ dst: string; dev?: string }>>(["ip", "-json", "-4", "route", "show"], opts);
}
