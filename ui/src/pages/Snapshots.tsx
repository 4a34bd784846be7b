import { Anchor, Table } from "@mantine/core";
import type { List, Snapshot, VolumeGroup } from "../api";
import { DataTable, ErrorNote, Loading, PageTitle, StateBadge } from "../components";
import { bytes, time } from "../format";
import { usePoll } from "../poll";
import { href } from "../route";

export function Snapshots() {
  const snaps = usePoll<List<Snapshot>>("/cluster/snapshots");
  return (
    <>
      <PageTitle>Snapshots</PageTitle>
      <ErrorNote error={snaps.error} />
      {!snaps.data && !snaps.error && <Loading what="snapshots" />}
      {snaps.data && (
        <DataTable
          caption={`${snaps.data.pagination.total} snapshots, newest first`}
          head={["Snapshot", "Volume", "State", "Size", "Node", "Taken", "Message"]}
          empty="No snapshot. Take one from a volume's page."
          minWidth={860}
          rows={snaps.data.items.map((s) => (
            <Table.Tr key={s.metadata.name}>
              <Table.Td>{s.metadata.name}</Table.Td>
              <Table.Td>
                <Anchor href={href("volumes", s.spec.sourceVolume ?? "")}>{s.spec.sourceVolume}</Anchor>
              </Table.Td>
              <Table.Td>
                <StateBadge state={s.status?.state} />
              </Table.Td>
              <Table.Td>{bytes(s.status?.allocatedCapacityBytes ?? s.spec.requiredCapacityBytes)}</Table.Td>
              <Table.Td>{(s.spec.accessibility?.nodes ?? []).join(", ")}</Table.Td>
              <Table.Td>{time(s.status?.creationTime ?? s.metadata.creationTimestamp)}</Table.Td>
              <Table.Td>{s.status?.message || "—"}</Table.Td>
            </Table.Tr>
          ))}
        />
      )}
    </>
  );
}

export function VolumeGroups({ selected }: { selected?: string }) {
  const groups = usePoll<List<VolumeGroup>>("/cluster/volumegroups");
  const items = (groups.data?.items ?? []).filter((g) => !selected || g.metadata.name === selected);
  return (
    <>
      <PageTitle>{selected ? `Volume group ${selected}` : "Volume groups"}</PageTitle>
      <ErrorNote error={groups.error} />
      {!groups.data && !groups.error && <Loading what="volume groups" />}
      {groups.data && (
        <DataTable
          caption={`${items.length} volume groups (volumes of one pod, placed together)`}
          head={["Group", "Namespace", "Pods", "Nodes", "Volumes"]}
          empty="No volume group."
          minWidth={760}
          rows={items.map((g) => (
            <Table.Tr key={g.metadata.name}>
              <Table.Td>
                <Anchor href={href("volumegroups", g.metadata.name)}>{g.metadata.name}</Anchor>
              </Table.Td>
              <Table.Td>{g.spec?.namespace ?? "—"}</Table.Td>
              <Table.Td>{(g.spec?.pods ?? []).join(", ") || "—"}</Table.Td>
              <Table.Td>{(g.spec?.accessibility?.nodes ?? []).join(", ")}</Table.Td>
              <Table.Td>
                {g.items.map((v, i) => (
                  <span key={v.metadata.name}>
                    {i > 0 && ", "}
                    <Anchor href={href("volumes", v.metadata.name)}>{v.metadata.name}</Anchor> (
                    {bytes(v.status?.allocatedCapacityBytes ?? v.spec.requiredCapacityBytes)})
                  </span>
                ))}
              </Table.Td>
            </Table.Tr>
          ))}
        />
      )}
    </>
  );
}
