import { Anchor, Card, Group, RingProgress, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import type { ClusterStatus, List, Operation, StorageNode } from "../api";
import { CapacityBar, DataTable, ErrorNote, Loading, PageTitle, StateBadge } from "../components";
import { bytes, percent } from "../format";
import { usePoll } from "../poll";
import { href } from "../route";
import { Table } from "@mantine/core";

function Ring({ label, used, total }: { label: string; used: number; total: number }) {
  const p = percent(used, total);
  return (
    <Card withBorder padding="md">
      <Group wrap="nowrap">
        <RingProgress
          size={96}
          thickness={10}
          roundCaps
          sections={[{ value: p, color: p >= 85 ? "red.9" : "blue.9" }]}
          label={
            <Text ta="center" fw={700} size="sm">
              {p}%
            </Text>
          }
          aria-label={`${label}: ${p}% used`}
          role="img"
        />
        <Stack gap={2}>
          <Title order={3} size="h5">
            {label}
          </Title>
          <Text size="sm">
            {bytes(used)} used of {bytes(total)}
          </Text>
          <Text size="sm">{bytes(Math.max(0, total - used))} free</Text>
        </Stack>
      </Group>
    </Card>
  );
}

function Stat({ label, value, sub }: { label: string; value: string | number; sub?: string }) {
  return (
    <Card withBorder padding="md">
      <Text size="sm" c="gray.8">
        {label}
      </Text>
      <Text fw={700} size="xl">
        {value}
      </Text>
      {sub && (
        <Text size="xs" c="gray.8">
          {sub}
        </Text>
      )}
    </Card>
  );
}

export function Overview() {
  const status = usePoll<ClusterStatus>("/cluster/status");
  const nodes = usePoll<List<StorageNode>>("/cluster/nodes");
  const ops = usePoll<List<Operation>>("/cluster/operations?page=1&pageSize=5");
  const s = status.data?.summary;
  return (
    <>
      <PageTitle>Cluster overview</PageTitle>
      <ErrorNote error={status.error} />
      {!status.data && !status.error && <Loading what="the cluster status" />}
      {s && (
        <Stack>
          <SimpleGrid cols={{ base: 2, sm: 4 }}>
            <Stat label="Nodes" value={s.totalNodeNum} sub={`${s.claimedNodeNum} with storage pools`} />
            <Stat label="Volumes" value={s.localVolumeNum} sub={`${s.highAvailableVolumeNum} highly available`} />
            <Stat label="Disks" value={s.totalDiskNum} sub={`${s.boundedDiskNum} in pools, ${s.unHealthyDiskNum} unhealthy`} />
            <Stat label="Reserved" value={bytes(s.reservedCapacityBytes)} sub="on reserved disks" />
          </SimpleGrid>
          <section aria-labelledby="cap-title">
            <Title order={2} size="h4" id="cap-title" mb="xs">
              Capacity
            </Title>
            <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
              <Ring label="All pools" used={s.allocatedCapacityBytes} total={s.totalCapacityBytes} />
              {status.data!.storagePoolsUse.map((p) => (
                <Ring key={p.name} label={p.name} used={p.allocatedCapacityBytes} total={p.totalCapacityBytes} />
              ))}
            </SimpleGrid>
          </section>
          <section aria-labelledby="nodecap-title">
            <Title order={2} size="h4" id="nodecap-title" mb="xs">
              Capacity per node
            </Title>
            <ErrorNote error={nodes.error} />
            <DataTable
              caption="Pool usage of each node"
              head={["Node", "State", "Pool", "Usage"]}
              empty="No storage node yet."
              minWidth={480}
              rows={(nodes.data?.items ?? []).flatMap((n) => {
                const name = n.localStorageNode.metadata?.name ?? n.localDiskNode.metadata?.name ?? "";
                const pools = Object.entries(n.localStorageNode.status?.pools ?? {});
                return (pools.length ? pools : [["—", undefined] as const]).map(([pn, p]) => (
                  <Table.Tr key={`${name}/${pn}`}>
                    <Table.Td>
                      <Anchor href={href("nodes", name)}>{name}</Anchor>
                    </Table.Td>
                    <Table.Td>
                      <StateBadge state={n.localStorageNode.status?.state} />
                    </Table.Td>
                    <Table.Td>{pn}</Table.Td>
                    <Table.Td>{p ? <CapacityBar used={p.usedCapacityBytes} total={p.totalCapacityBytes} label={`${pn} on ${name}`} /> : "—"}</Table.Td>
                  </Table.Tr>
                ));
              })}
            />
          </section>
          <section aria-labelledby="mod-title">
            <Title order={2} size="h4" id="mod-title" mb="xs">
              Components
            </Title>
            <Group>
              {status.data!.modulesStatus.map((m) => (
                <Group key={m.name} gap={6}>
                  <Text size="sm">{m.name}</Text>
                  <StateBadge state={m.state} />
                </Group>
              ))}
            </Group>
          </section>
          <section aria-labelledby="ops-title">
            <Title order={2} size="h4" id="ops-title" mb="xs">
              Recent operations
            </Title>
            <ErrorNote error={ops.error} />
            <DataTable
              caption="The five newest migrations, conversions and expansions"
              head={["Operation", "Volume", "State", "Progress"]}
              empty="No operation in progress."
              minWidth={480}
              rows={(ops.data?.items ?? []).map((o) => (
                <Table.Tr key={o.eventType + o.eventName}>
                  <Table.Td>{o.eventType.replace("LocalVolume", "")}</Table.Td>
                  <Table.Td>
                    <Anchor href={href("volumes", o.localVolumeName)}>{o.localVolumeName}</Anchor>
                  </Table.Td>
                  <Table.Td>
                    <StateBadge state={o.status} />
                  </Table.Td>
                  <Table.Td>{o.progress}%</Table.Td>
                </Table.Tr>
              ))}
            />
          </section>
        </Stack>
      )}
    </>
  );
}
