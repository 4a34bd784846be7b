import { Anchor, Group, NativeSelect, Table } from "@mantine/core";
import { useState } from "react";
import { enc, post, type Disk, type List } from "../api";
import { ConfirmButton, DataTable, ErrorNote, Loading, PageTitle, StateBadge } from "../components";
import { bytes } from "../format";
import { usePoll } from "../poll";
import { href } from "../route";

const OWNERS = ["local-storage", "local-disk-manager", "system"];

export function DiskActions({ disk, refresh }: { disk: Disk; refresh: () => void }) {
  const [owner, setOwner] = useState(disk.spec.owner || "local-storage");
  const node = disk.spec.nodeName;
  const dev = disk.diskPathShort;
  const reserved = !!disk.spec.reserved;
  return (
    <Group gap="xs" wrap="nowrap">
      <ConfirmButton
        label={reserved ? "Release" : "Reserve"}
        ariaLabel={`${reserved ? "Release" : "Reserve"} disk ${dev} on ${node}`}
        variant="outline"
        title={`${reserved ? "Release" : "Reserve"} disk ${dev} on ${node}`}
        description={
          reserved
            ? "The disk becomes available to pool claims again."
            : "A reserved disk is never claimed by a pool. A disk already in a pool cannot be reserved."
        }
        confirmLabel={reserved ? "Release disk" : "Reserve disk"}
        onConfirm={async () => {
          await post(`/cluster/nodes/${enc(node)}/disks/${enc(dev)}`, { reserve: !reserved });
          refresh();
          return `Disk ${dev} is ${reserved ? "released" : "reserved"}.`;
        }}
      />
      <ConfirmButton
        label="Owner…"
        ariaLabel={`Set the owner of disk ${dev} on ${node}`}
        variant="outline"
        title={`Owner of disk ${dev} on ${node}`}
        description="The owner decides which component may claim the disk. A disk bound to a pool keeps its owner."
        confirmLabel="Set owner"
        onConfirm={async () => {
          await post(`/cluster/nodes/${enc(node)}/disks/${enc(dev)}/owner`, { owner });
          refresh();
          return `Disk ${dev} now belongs to ${owner}.`;
        }}
      >
        <NativeSelect label="New owner" data={OWNERS} value={owner} onChange={(e) => setOwner(e.currentTarget.value)} />
      </ConfirmButton>
    </Group>
  );
}

export function Disks() {
  const disks = usePoll<List<Disk>>("/cluster/localdisks?sort=node");
  return (
    <>
      <PageTitle>Disks</PageTitle>
      <ErrorNote error={disks.error} />
      {!disks.data && !disks.error && <Loading what="disks" />}
      {disks.data && (
        <DataTable
          caption={`${disks.data.pagination.total} disks`}
          head={["Node", "Device", "Type", "Capacity", "Free", "State", "Health", "Owner", "Pool", "Actions"]}
          empty="No disk discovered yet."
          minWidth={1040}
          rows={disks.data.items.map((d) => (
            <Table.Tr key={d.metadata.name}>
              <Table.Td>
                <Anchor href={href("nodes", d.spec.nodeName)}>{d.spec.nodeName}</Anchor>
              </Table.Td>
              <Table.Td>{d.spec.devicePath}</Table.Td>
              <Table.Td>{d.spec.diskAttributes?.type}</Table.Td>
              <Table.Td>{bytes(d.totalCapacityBytes)}</Table.Td>
              <Table.Td>{bytes(d.availableCapacityBytes)}</Table.Td>
              <Table.Td>
                <StateBadge state={d.spec.reserved ? "Reserved" : d.status?.claimState} />
              </Table.Td>
              <Table.Td>{d.spec.smartInfo?.overallHealth ?? "—"}</Table.Td>
              <Table.Td>{d.spec.owner || "—"}</Table.Td>
              <Table.Td>{d.localStoragePooLName || "—"}</Table.Td>
              <Table.Td>
                <DiskActions disk={d} refresh={disks.refresh} />
              </Table.Td>
            </Table.Tr>
          ))}
        />
      )}
    </>
  );
}
