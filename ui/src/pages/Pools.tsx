import { Anchor, NativeSelect, Stack, Table } from "@mantine/core";
import { useState } from "react";
import { post, type List, type StorageNode, type StoragePool } from "../api";
import { CapacityBar, ConfirmButton, DataTable, ErrorNote, Loading, PageTitle } from "../components";
import { usePoll } from "../poll";
import { href } from "../route";

function ExpandPool({ nodes, refresh }: { nodes: string[]; refresh: () => void }) {
  const [node, setNode] = useState(nodes[0] ?? "");
  const [type, setType] = useState("HDD");
  return (
    <ConfirmButton
      label="Expand a pool…"
      title="Expand a pool"
      description="Adds every free disk of the class on the node to its pool (creates a LocalDiskClaim). Disks holding data or a filesystem are never claimed."
      confirmLabel="Add the disks"
      onConfirm={async () => {
        const r = await post<{ claimName: string; disks: string[] }>("/cluster/pools/expand", { nodeName: node || nodes[0], diskType: type });
        refresh();
        return `Claim ${r.claimName} created for ${r.disks.join(", ")}.`;
      }}
    >
      <Stack gap="xs">
        <NativeSelect label="Node" data={nodes} value={node || nodes[0]} onChange={(e) => setNode(e.currentTarget.value)} />
        <NativeSelect label="Disk class" data={["HDD", "SSD", "NVMe"]} value={type} onChange={(e) => setType(e.currentTarget.value)} />
      </Stack>
    </ConfirmButton>
  );
}

export function Pools() {
  const pools = usePoll<List<StoragePool>>("/cluster/pools");
  const nodes = usePoll<List<StorageNode>>("/cluster/nodes");
  const names = (nodes.data?.items ?? []).map((n) => n.localStorageNode.metadata?.name ?? n.localDiskNode.metadata?.name ?? "").filter(Boolean);
  return (
    <>
      <PageTitle actions={names.length > 0 && <ExpandPool nodes={names} refresh={pools.refresh} />}>Pools</PageTitle>
      <ErrorNote error={pools.error} />
      {!pools.data && !pools.error && <Loading what="pools" />}
      {pools.data && (
        <DataTable
          caption={`${pools.data.pagination.total} storage pools, summed over their nodes`}
          head={["Pool", "Usage (all nodes)", "Per node"]}
          empty="No pool yet: claim disks first."
          minWidth={720}
          rows={pools.data.items.map((p) => (
            <Table.Tr key={p.poolName}>
              <Table.Td>{p.poolName}</Table.Td>
              <Table.Td>
                <CapacityBar used={p.allocatedCapacityBytes} total={p.totalCapacityBytes} label={`${p.poolName} in total`} />
              </Table.Td>
              <Table.Td>
                <Stack gap={6}>
                  {p.items.map((np) => (
                    <div key={np.nodeName}>
                      <Anchor href={href("nodes", np.nodeName)} size="sm">
                        {np.nodeName}
                      </Anchor>
                      <CapacityBar used={np.usedCapacityBytes} total={np.totalCapacityBytes} label={`${p.poolName} on ${np.nodeName}`} />
                    </div>
                  ))}
                </Stack>
              </Table.Td>
            </Table.Tr>
          ))}
        />
      )}
    </>
  );
}
