import { Anchor, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { enc, post, type EventAction, type List, type Operation, type Replica, type Snapshot, type Volume } from "../api";
import { CapacityBar, ConfirmButton, DataTable, ErrorNote, Loading, PageTitle, StateBadge } from "../components";
import { bytes, parseSize, time } from "../format";
import { usePoll } from "../poll";
import { href } from "../route";
import { OperationRows } from "./Operations";

const nodesOf = (v: Volume) =>
  (v.spec.config?.replicas ?? [])
    .map((r) => r.hostname ?? "")
    .filter(Boolean)
    .concat(v.spec.config?.replicas?.length ? [] : (v.spec.accessibility?.nodes ?? []));

export function Volumes() {
  const [filter, setFilter] = useState("");
  const vols = usePoll<List<Volume>>(`/cluster/volumes${filter ? `?volumeName=${enc(filter)}` : ""}`);
  return (
    <>
      <PageTitle>Volumes</PageTitle>
      <TextInput label="Filter by name" value={filter} onChange={(e) => setFilter(e.currentTarget.value)} maw={320} mb="md" />
      <ErrorNote error={vols.error} />
      {!vols.data && !vols.error && <Loading what="volumes" />}
      {vols.data && (
        <DataTable
          caption={`${vols.data.pagination.total} volumes`}
          head={["Volume", "State", "Capacity", "Usage", "Replicas", "Nodes", "Pool", "Claim"]}
          empty="No volume."
          minWidth={980}
          rows={vols.data.items.map((v) => (
            <Table.Tr key={v.metadata.name}>
              <Table.Td>
                <Anchor href={href("volumes", v.metadata.name)} fw={600}>
                  {v.metadata.name}
                </Anchor>
              </Table.Td>
              <Table.Td>
                <StateBadge state={v.status?.state} />
              </Table.Td>
              <Table.Td>{bytes(v.status?.allocatedCapacityBytes ?? v.spec.requiredCapacityBytes)}</Table.Td>
              <Table.Td>
                <CapacityBar
                  used={v.status?.usedCapacityBytes}
                  total={v.status?.allocatedCapacityBytes ?? v.spec.requiredCapacityBytes}
                  label={`usage of ${v.metadata.name}`}
                />
              </Table.Td>
              <Table.Td>{v.spec.replicaNumber ?? 1}</Table.Td>
              <Table.Td>{nodesOf(v).join(", ")}</Table.Td>
              <Table.Td>{v.spec.poolName}</Table.Td>
              <Table.Td>{v.spec.pvcName ? `${v.spec.pvcNamespace}/${v.spec.pvcName}` : "—"}</Table.Td>
            </Table.Tr>
          ))}
        />
      )}
    </>
  );
}

function Actions({ v, refresh }: { v: Volume; refresh: () => void }) {
  const name = v.metadata.name;
  const nodes = nodesOf(v);
  const [size, setSize] = useState("");
  const [src, setSrc] = useState(nodes[0] ?? "");
  const [target, setTarget] = useState("");
  const [snapName, setSnapName] = useState("");
  const current = v.status?.allocatedCapacityBytes ?? v.spec.requiredCapacityBytes ?? 0;
  return (
    <Group gap="xs">
      <ConfirmButton
        label="Snapshot"
        title={`Snapshot volume ${name}`}
        description={`Takes a point-in-time snapshot of ${name} on ${nodes.join(", ")} (a mounted filesystem is frozen for the instant of the copy).`}
        confirmLabel="Take snapshot"
        onConfirm={async () => {
          const r = await post<{ data: { Name: string } }>(`/cluster/volumes/${enc(name)}/snapshot`, snapName ? { name: snapName } : {});
          refresh();
          return `Snapshot ${r.data.Name} requested; it appears below when ready.`;
        }}
      >
        <TextInput label="Snapshot name (optional)" value={snapName} onChange={(e) => setSnapName(e.currentTarget.value)} />
      </ConfirmButton>
      <ConfirmButton
        label="Expand"
        title={`Expand volume ${name}`}
        description={`Grows ${name} from ${bytes(current)}. Every replica's pool must have the room; the filesystem grows online on the node where it is mounted.`}
        confirmLabel="Expand volume"
        onConfirm={async () => {
          const b = parseSize(size);
          if (!b) throw new Error(`"${size}" is not a size (examples: 2Gi, 1536Mi)`);
          const r = await post<{ data: { targetCapacityBytes: number } }>(`/cluster/volumes/${enc(name)}/expand`, { targetCapacity: size.trim() });
          refresh();
          return `Expansion to ${bytes(r.data.targetCapacityBytes)} started; follow it under Operations.`;
        }}
      >
        <TextInput label="New capacity" description="e.g. 2Gi" value={size} onChange={(e) => setSize(e.currentTarget.value)} required />
      </ConfirmButton>
      <ConfirmButton
        label="Migrate"
        title={`Migrate volume ${name}`}
        description="Moves the replica off the source node: a replica is added on the target, synced, then the source replica is removed."
        confirmLabel="Start migration"
        onConfirm={async () => {
          await post(`/cluster/volumes/${enc(name)}/migrate`, { srcNode: src || nodes[0], selectedNode: target.trim() });
          refresh();
          return "Migration submitted; follow it under Operations.";
        }}
      >
        <Stack gap="xs">
          <NativeSelect label="From node" data={nodes} value={src || nodes[0]} onChange={(e) => setSrc(e.currentTarget.value)} />
          <TextInput label="To node (optional)" description="empty: the controller chooses" value={target} onChange={(e) => setTarget(e.currentTarget.value)} />
        </Stack>
      </ConfirmButton>
      <ConfirmButton
        label="Convert to HA"
        title={`Convert volume ${name} to 2 replicas`}
        description="Adds a second replica on another node; only volumes created convertible can be converted."
        confirmLabel="Convert"
        disabled={!v.spec.convertible || (v.spec.replicaNumber ?? 1) > 1}
        onConfirm={async () => {
          await post(`/cluster/volumes/${enc(name)}/convert`, {});
          refresh();
          return "Conversion submitted.";
        }}
      />
    </Group>
  );
}

export function VolumeDetail({ name }: { name: string }) {
  const vol = usePoll<Volume>(`/cluster/volumes/${enc(name)}`);
  const reps = usePoll<{ volumeReplicas?: Replica[] }>(`/cluster/volumes/${enc(name)}/replicas`);
  const ops = usePoll<List<Operation>>(`/cluster/operations?volumeName=${enc(name)}&fuzzy=false`, 2000);
  const events = usePoll<List<EventAction>>(`/cluster/volumes/${enc(name)}/events?page=1&pageSize=20`);
  const snaps = usePoll<List<Snapshot>>(`/cluster/volumes/${enc(name)}/snapshot`);
  const v = vol.data;
  const refreshAll = () => {
    vol.refresh();
    ops.refresh();
    snaps.refresh();
  };
  return (
    <>
      <PageTitle actions={v && <Actions v={v} refresh={refreshAll} />}>Volume {name}</PageTitle>
      <ErrorNote error={vol.error} />
      {!v && !vol.error && <Loading what={`volume ${name}`} />}
      {v && (
        <Stack gap="lg">
          <Group>
            <StateBadge state={v.status?.state} />
            <Text size="sm">Capacity {bytes(v.status?.allocatedCapacityBytes ?? v.spec.requiredCapacityBytes)}</Text>
            <Text size="sm">Pool {v.spec.poolName}</Text>
            <Text size="sm">Mounted on {v.status?.publishedNode || "—"}</Text>
            <Text size="sm">Filesystem {v.status?.fsType || "—"}</Text>
            {v.spec.volumegroup && (
              <Text size="sm">
                Group <Anchor href={href("volumegroups", v.spec.volumegroup)}>{v.spec.volumegroup}</Anchor>
              </Text>
            )}
          </Group>
          <div>
            <Text size="sm" mb={4}>
              Usage
            </Text>
            <CapacityBar
              used={v.status?.usedCapacityBytes}
              total={v.status?.allocatedCapacityBytes ?? v.spec.requiredCapacityBytes}
              label={`usage of ${name}`}
            />
          </div>
          <section aria-labelledby="rep-title">
            <Title order={2} size="h4" id="rep-title" mb="xs">
              Replicas
            </Title>
            <ErrorNote error={reps.error} />
            <DataTable
              caption={`Replicas of ${name}`}
              head={["Replica", "Node", "State", "Capacity", "Synced", "Device"]}
              empty="No replica yet."
              rows={(reps.data?.volumeReplicas ?? []).map((r) => (
                <Table.Tr key={r.metadata.name}>
                  <Table.Td>{r.metadata.name}</Table.Td>
                  <Table.Td>
                    <Anchor href={href("nodes", r.spec.nodeName ?? "")}>{r.spec.nodeName}</Anchor>
                  </Table.Td>
                  <Table.Td>
                    <StateBadge state={r.status?.state} />
                  </Table.Td>
                  <Table.Td>{bytes(r.status?.allocatedCapacityBytes)}</Table.Td>
                  <Table.Td>{r.status?.synced ? "yes" : "no"}</Table.Td>
                  <Table.Td>{r.status?.devPath ?? "—"}</Table.Td>
                </Table.Tr>
              ))}
            />
          </section>
          <section aria-labelledby="vops-title">
            <Title order={2} size="h4" id="vops-title" mb="xs">
              Operations
            </Title>
            <ErrorNote error={ops.error} />
            <OperationRows caption={`Operations on ${name}`} ops={ops.data?.items ?? []} />
          </section>
          <section aria-labelledby="snap-title">
            <Title order={2} size="h4" id="snap-title" mb="xs">
              Snapshots
            </Title>
            <ErrorNote error={snaps.error} />
            <DataTable
              caption={`Snapshots of ${name}`}
              head={["Snapshot", "State", "Size", "Taken"]}
              empty="No snapshot."
              rows={(snaps.data?.items ?? []).map((s) => (
                <Table.Tr key={s.metadata.name}>
                  <Table.Td>{s.metadata.name}</Table.Td>
                  <Table.Td>
                    <StateBadge state={s.status?.state} />
                  </Table.Td>
                  <Table.Td>{bytes(s.status?.allocatedCapacityBytes ?? s.spec.requiredCapacityBytes)}</Table.Td>
                  <Table.Td>{time(s.status?.creationTime ?? s.metadata.creationTimestamp)}</Table.Td>
                </Table.Tr>
              ))}
            />
          </section>
          <section aria-labelledby="ev-title">
            <Title order={2} size="h4" id="ev-title" mb="xs">
              Events
            </Title>
            <ErrorNote error={events.error} />
            <DataTable
              caption={`Operation log of ${name} (newest first)`}
              head={["Time", "Action", "State"]}
              empty="No record in the operation log yet."
              minWidth={420}
              rows={(events.data?.items ?? []).map((e, i) => (
                <Table.Tr key={`${e.eventRecord.id ?? i}-${i}`}>
                  <Table.Td>{time(e.eventRecord.time)}</Table.Td>
                  <Table.Td>{e.eventRecord.action}</Table.Td>
                  <Table.Td>{e.eventRecord.state || "—"}</Table.Td>
                </Table.Tr>
              ))}
            />
          </section>
        </Stack>
      )}
    </>
  );
}
