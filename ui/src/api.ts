// The dashboard's only way to the cluster: the REST API of `hwameistor rest` on the same origin. Errors keep
// the server's {errcode, description} so pages can show them as they are; a 401 drops the token and brings
// the login page back.

export const BASE = "/apis/hwameistor.io/v1alpha1";
const TOKEN_KEY = "hwameistor.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const authListeners = new Set<Listener>();
export const onAuthChange = (l: Listener): (() => void) => {
  authListeners.add(l);
  return () => authListeners.delete(l);
};

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
  for (const l of authListeners) l();
}

export async function api<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const t = getToken();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, `the server cannot be reached (${(e as Error).message})`);
  }
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const d = data as { description?: string } | undefined;
    if (res.status === 401 && t) setToken(null);
    throw new ApiError(res.status, d?.description ?? `${res.status} ${res.statusText}`);
  }
  return data as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const enc = encodeURIComponent;

// ---- response shapes (the subset the pages read)

export interface Meta {
  name: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
}
export interface Pagination {
  total: number;
  page: number;
  pages: number;
  pageSize: number;
}
export interface List<T> {
  items: T[];
  pagination: Pagination;
}
export interface Pool {
  name: string;
  class?: string;
  nodeName: string;
  totalCapacityBytes?: number;
  usedCapacityBytes?: number;
  freeCapacityBytes?: number;
  usedVolumeCount?: number;
  disks?: Array<{ devPath?: string; capacityBytes?: number; state?: string }>;
  volumes?: string[];
}
export interface StorageNode {
  localStorageNode: { metadata?: Meta; spec?: { storageIP?: string }; status?: { state?: string; pools?: Record<string, Omit<Pool, "nodeName">> } };
  localDiskNode: { metadata?: Meta; status?: { state?: string } };
  totalDisk: number;
  k8SNodeState: string;
  enabled: boolean;
}
export interface Disk {
  metadata: Meta;
  spec: {
    nodeName: string;
    devicePath?: string;
    capacity?: number;
    owner?: string;
    reserved?: boolean;
    state?: string;
    diskAttributes?: { type?: string };
    smartInfo?: { overallHealth?: string };
  };
  status?: { claimState?: string };
  diskPathShort: string;
  totalCapacityBytes: number;
  availableCapacityBytes: number;
  localStoragePooLName: string;
}
export interface StoragePool {
  poolName: string;
  totalCapacityBytes: number;
  allocatedCapacityBytes: number;
  nodeNames: string[];
  items: Pool[];
}
export interface Volume {
  metadata: Meta;
  spec: {
    requiredCapacityBytes?: number;
    poolName?: string;
    replicaNumber?: number;
    convertible?: boolean;
    pvcNamespace?: string;
    pvcName?: string;
    volumegroup?: string;
    accessibility?: { nodes?: string[] };
    config?: { replicas?: Array<{ hostname?: string }> };
  };
  status?: { state?: string; allocatedCapacityBytes?: number; usedCapacityBytes?: number; publishedNode?: string; fsType?: string };
}
export interface Replica {
  metadata: Meta;
  spec: { nodeName?: string; requiredCapacityBytes?: number; poolName?: string };
  status?: { state?: string; allocatedCapacityBytes?: number; synced?: boolean; devPath?: string };
}
export interface Snapshot {
  metadata: Meta;
  spec: { sourceVolume?: string; requiredCapacityBytes?: number; accessibility?: { nodes?: string[] } };
  status?: { state?: string; allocatedCapacityBytes?: number; creationTime?: string; message?: string };
}
export interface Operation {
  eventName: string;
  eventType: string;
  localVolumeName: string;
  status: string;
  description: string;
  startTime: string;
  progress: number;
  sourceNode?: string;
  targetNode?: string;
}
export interface EventAction {
  eventRecord: { time?: string; id?: string; action?: string; actionContent?: string; state?: string; stateContent?: string };
  resourceName: string;
  resourceType: string;
}
export interface ClusterStatus {
  modulesStatus: Array<{ name: string; state: string }>;
  summary: {
    localVolumeNum: number;
    highAvailableVolumeNum: number;
    totalCapacityBytes: number;
    allocatedCapacityBytes: number;
    freeCapacityBytes: number;
    reservedCapacityBytes: number;
    totalDiskNum: number;
    boundedDiskNum: number;
    unHealthyDiskNum: number;
    totalNodeNum: number;
    claimedNodeNum: number;
  };
  storagePoolsUse: Array<{ name: string; totalCapacityBytes: number; allocatedCapacityBytes: number }>;
}
export interface VolumeGroup {
  metadata: Meta;
  spec?: { namespace?: string; pods?: string[]; accessibility?: { nodes?: string[] } };
  items: Volume[];
}
