import { Anchor, NativeSelect, Progress, Stack, Table, Text, TextInput, Group } from "@mantine/core";
import { useState } from "react";
import { enc, type EventAction, type List, type Operation } from "../api";
import { DataTable, ErrorNote, Loading, PageTitle, StateBadge } from "../components";
import { time } from "../format";
import { usePoll } from "../poll";
import { href } from "../route";

const kindOf = (o: Operation) => o.eventType.replace("LocalVolume", "");
// Row ids (`op-<kind>-<name>`) carry the kind: an expansion is named after its volume, and a migration or a
// conversion may be named like another volume's operation.

export function OperationRows({ caption, ops }: { caption: string; ops: Operation[] }) {
  return (
    <DataTable
      caption={caption}
      head={["Operation", "Kind", "Volume", "State", "Progress", "Started", "Message"]}
      empty="No operation."
      minWidth={900}
      rows={ops.map((o) => (
        <Table.Tr key={`${o.eventType}/${o.eventName}`} data-testid={`op-${kindOf(o).toLowerCase()}-${o.eventName}`}>
          <Table.Td>{o.eventName}</Table.Td>
          <Table.Td>{kindOf(o)}</Table.Td>
          <Table.Td>
            <Anchor href={href("volumes", o.localVolumeName)}>{o.localVolumeName}</Anchor>
          </Table.Td>
          <Table.Td>
            <StateBadge state={o.status} />
          </Table.Td>
          <Table.Td>
            <Stack gap={2} miw={120}>
              <Progress value={o.progress} color="blue.9" aria-label={`${o.eventName} progress ${o.progress}%`} />
              <Text size="xs">{o.progress}%</Text>
            </Stack>
          </Table.Td>
          <Table.Td>{time(o.startTime)}</Table.Td>
          <Table.Td>{o.description || "—"}</Table.Td>
        </Table.Tr>
      ))}
    />
  );
}

export function Operations() {
  const ops = usePoll<List<Operation>>("/cluster/operations", 2000);
  return (
    <>
      <PageTitle>Operations</PageTitle>
      <Text size="sm" mb="sm">
        Migrations, conversions and expansions. A controller deletes its operation when it is done; the server keeps listing finished ones for 10 minutes with
        their last state. The operation log keeps every record.
      </Text>
      <ErrorNote error={ops.error} />
      {!ops.data && !ops.error && <Loading what="operations" />}
      {ops.data && <OperationRows caption={`${ops.data.pagination.total} operations`} ops={ops.data.items} />}
    </>
  );
}

const TYPES = ["", "Cluster", "StorageNode", "DiskNode", "Pool", "Volume", "DiskVolume", "Disk"];

export function OperationLog() {
  const [type, setType] = useState("");
  const [name, setName] = useState("");
  const [page, setPage] = useState(1);
  const qs = `?page=${page}&pageSize=50${type ? `&resourceType=${enc(type)}` : ""}${name ? `&resourceName=${enc(name)}` : ""}`;
  const events = usePoll<List<EventAction>>(`/cluster/events${qs}`);
  const p = events.data?.pagination;
  return (
    <>
      <PageTitle>Operation log</PageTitle>
      <Group mb="md" align="end">
        <NativeSelect
          label="Resource type"
          data={TYPES.map((t) => ({ value: t, label: t || "all" }))}
          value={type}
          onChange={(e) => {
            setType(e.currentTarget.value);
            setPage(1);
          }}
        />
        <TextInput
          label="Resource name"
          value={name}
          onChange={(e) => {
            setName(e.currentTarget.value);
            setPage(1);
          }}
        />
      </Group>
      <ErrorNote error={events.error} />
      {!events.data && !events.error && <Loading what="the operation log" />}
      {events.data && (
        <>
          <DataTable
            caption={`${p?.total ?? 0} records, newest first`}
            head={["Time", "Resource", "Type", "Action", "State", "Details"]}
            empty="The operation log is empty."
            minWidth={860}
            rows={events.data.items.map((e, i) => (
              <Table.Tr key={`${e.resourceType}/${e.resourceName}/${e.eventRecord.id ?? ""}/${i}`}>
                <Table.Td>{time(e.eventRecord.time)}</Table.Td>
                <Table.Td>
                  {e.resourceType === "Volume" ? (
                    <Anchor href={href("volumes", e.resourceName)}>{e.resourceName}</Anchor>
                  ) : e.resourceType === "StorageNode" ? (
                    <Anchor href={href("nodes", e.resourceName)}>{e.resourceName}</Anchor>
                  ) : (
                    e.resourceName
                  )}
                </Table.Td>
                <Table.Td>{e.resourceType}</Table.Td>
                <Table.Td>{e.eventRecord.action}</Table.Td>
                <Table.Td>{e.eventRecord.state || "—"}</Table.Td>
                <Table.Td>
                  <Text size="xs" lineClamp={2} maw={360} style={{ wordBreak: "break-all" }}>
                    {e.eventRecord.stateContent || e.eventRecord.actionContent || ""}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          />
          {p && p.pages > 1 && (
            <Group mt="sm" gap="xs">
              <Anchor component="button" type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
                Newer
              </Anchor>
              <Text size="sm">
                Page {page} of {p.pages}
              </Text>
              <Anchor component="button" type="button" disabled={page >= p.pages} onClick={() => setPage(page + 1)}>
                Older
              </Anchor>
            </Group>
          )}
        </>
      )}
    </>
  );
}
