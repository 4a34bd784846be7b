import { Anchor, Group, Stack, Table, Text, Title } from "@mantine/core";
import { enc, post, type Disk, type List, type Pool, type StorageNode, type Volume } from "../api";
import { CapacityBar, ConfirmButton, DataTable, ErrorNote, Loading, PageTitle, StateBadge } from "../components";
import { bytes } from "../format";
import { usePoll } from "../poll";
import { href } from "../route";
import { DiskActions } from "./Disks";

const nodeName = (n: StorageNode) => n.localStorageNode.metadata?.name ?? n.localDiskNode.metadata?.name ?? "";

function EnableButton({ node, enabled, refresh }: { node: string; enabled: boolean; refresh: () => void }) {
  return (
    <ConfirmButton
      label={enabled ? "Disable" : "Enable"}
      ariaLabel={`${enabled ? "Disable" : "Enable"} LVM storage on ${node}`}
      color={enabled ? "red.9" : "blue.9"}
      variant="outline"
      title={`${enabled ? "Disable" : "Enable"} node ${node}`}
      description={
        enabled
          ? `Sets the label lvm.hwameistor.io/enable=false on ${node}: its LVM node agent stops being scheduled there. Refused while a volume has a replica on the node.`
          : `Sets the label lvm.hwameistor.io/enable=true on ${node}.`
      }
      confirmLabel={enabled ? "Disable node" : "Enable node"}
      onConfirm={async () => {
        await post(`/cluster/nodes/${enc(node)}`, { enable: !enabled });
        refresh();
        return `Node ${node} is ${enabled ? "disabled" : "enabled"}.`;
      }}
    />
  );
}

export function Nodes() {
  const nodes = usePoll<List<StorageNode>>("/cluster/nodes");
  return (
    <>
      <PageTitle>Nodes</PageTitle>
      <ErrorNote error={nodes.error} />
      {!nodes.data && !nodes.error && <Loading what="nodes" />}
      {nodes.data && (
        <DataTable
          caption={`${nodes.data.pagination.total} storage nodes`}
          head={["Node", "Kubernetes", "Storage agent", "Pools", "Disks", "LVM storage"]}
          empty="No node has registered yet."
          minWidth={860}
          rows={nodes.data.items.map((n) => {
            const name = nodeName(n);
            const pools = Object.entries(n.localStorageNode.status?.pools ?? {});
            return (
              <Table.Tr key={name} data-testid={`node-row-${name}`}>
                <Table.Td>
                  <Anchor href={href("nodes", name)} fw={600}>
                    {name}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <StateBadge state={n.k8SNodeState} />
                </Table.Td>
                <Table.Td>
                  <StateBadge state={n.localStorageNode.status?.state} />
                </Table.Td>
                <Table.Td>
                  <Stack gap={4}>
                    {pools.length === 0 && <Text size="sm">no pool</Text>}
                    {pools.map(([pn, p]) => (
                      <div key={pn}>
                        <Text size="sm">{pn}</Text>
                        <CapacityBar used={p.usedCapacityBytes} total={p.totalCapacityBytes} label={`${pn} on ${name}`} />
                      </div>
                    ))}
                  </Stack>
                </Table.Td>
                <Table.Td>{n.totalDisk}</Table.Td>
                <Table.Td>
                  <Group gap="xs">
                    <Text size="sm">{n.enabled ? "enabled" : "disabled"}</Text>
                    <EnableButton node={name} enabled={n.enabled} refresh={nodes.refresh} />
                  </Group>
                </Table.Td>
              </Table.Tr>
            );
          })}
        />
      )}
    </>
  );
}

export function NodeDetail({ name }: { name: string }) {
  const node = usePoll<StorageNode>(`/cluster/nodes/${enc(name)}`);
  const pools = usePoll<List<Pool>>(`/cluster/nodes/${enc(name)}/pools`);
  const disks = usePoll<List<Disk>>(`/cluster/nodes/${enc(name)}/disks`);
  const volumes = usePoll<List<Volume>>(`/cluster/volumes?nodeName=${enc(name)}&fuzzy=false`);
  const n = node.data;
  return (
    <>
      <PageTitle actions={n && <EnableButton node={name} enabled={n.enabled} refresh={node.refresh} />}>Node {name}</PageTitle>
      <ErrorNote error={node.error} />
      {n && (
        <Group mb="md">
          <Text size="sm">Kubernetes</Text>
          <StateBadge state={n.k8SNodeState} />
          <Text size="sm">Storage agent</Text>
          <StateBadge state={n.localStorageNode.status?.state} />
          <Text size="sm">Disk agent</Text>
          <StateBadge state={n.localDiskNode.status?.state} />
          <Text size="sm">Storage IP {n.localStorageNode.spec?.storageIP ?? "—"}</Text>
        </Group>
      )}
      <Stack gap="lg">
        <section aria-labelledby="np-title">
          <Title order={2} size="h4" id="np-title" mb="xs">
            Pools
          </Title>
          <ErrorNote error={pools.error} />
          <DataTable
            caption={`Storage pools of ${name}`}
            head={["Pool", "Class", "Usage", "Disks", "Volumes"]}
            empty="No pool on this node."
            rows={(pools.data?.items ?? []).map((p) => (
              <Table.Tr key={p.name}>
                <Table.Td>{p.name}</Table.Td>
                <Table.Td>{p.class}</Table.Td>
                <Table.Td>
                  <CapacityBar used={p.usedCapacityBytes} total={p.totalCapacityBytes} label={`${p.name} on ${name}`} />
                </Table.Td>
                <Table.Td>{(p.disks ?? []).map((d) => d.devPath).join(", ")}</Table.Td>
                <Table.Td>{p.usedVolumeCount ?? 0}</Table.Td>
              </Table.Tr>
            ))}
          />
        </section>
        <section aria-labelledby="nd-title">
          <Title order={2} size="h4" id="nd-title" mb="xs">
            Disks
          </Title>
          <ErrorNote error={disks.error} />
          <DataTable
            caption={`Disks of ${name}`}
            head={["Device", "Type", "Capacity", "State", "Owner", "Pool", "Actions"]}
            empty="No disk found on this node."
            minWidth={820}
            rows={(disks.data?.items ?? []).map((d) => (
              <Table.Tr key={d.metadata.name}>
                <Table.Td>{d.spec.devicePath}</Table.Td>
                <Table.Td>{d.spec.diskAttributes?.type}</Table.Td>
                <Table.Td>{bytes(d.totalCapacityBytes)}</Table.Td>
                <Table.Td>
                  <StateBadge state={d.spec.reserved ? "Reserved" : d.status?.claimState} />
                </Table.Td>
                <Table.Td>{d.spec.owner || "—"}</Table.Td>
                <Table.Td>{d.localStoragePooLName || "—"}</Table.Td>
                <Table.Td>
                  <DiskActions disk={d} refresh={disks.refresh} />
                </Table.Td>
              </Table.Tr>
            ))}
          />
        </section>
        <section aria-labelledby="nv-title">
          <Title order={2} size="h4" id="nv-title" mb="xs">
            Volumes with a replica here
          </Title>
          <ErrorNote error={volumes.error} />
          <DataTable
            caption={`Volumes on ${name}`}
            head={["Volume", "State", "Capacity", "Pool"]}
            empty="No volume on this node."
            rows={(volumes.data?.items ?? []).map((v) => (
              <Table.Tr key={v.metadata.name}>
                <Table.Td>
                  <Anchor href={href("volumes", v.metadata.name)}>{v.metadata.name}</Anchor>
                </Table.Td>
                <Table.Td>
                  <StateBadge state={v.status?.state} />
                </Table.Td>
                <Table.Td>{bytes(v.status?.allocatedCapacityBytes ?? v.spec.requiredCapacityBytes)}</Table.Td>
                <Table.Td>{v.spec.poolName}</Table.Td>
              </Table.Tr>
            ))}
          />
        </section>
      </Stack>
    </>
  );
}
