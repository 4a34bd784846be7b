// Small building blocks shared by the pages: state badges (colours with enough contrast for WCAG AA), capacity
// bars, error and loading notes, a confirmation dialog for every action, and tables that scroll sideways on
// a phone instead of squeezing.

import { Alert, Badge, Button, Group, Loader, Modal, Progress, Stack, Table, Text, Title } from "@mantine/core";
import { useState, type ReactNode } from "react";
import type { ApiError } from "./api";
import { bytes, percent } from "./format";

const GOOD = new Set(["Ready", "Running", "Completed", "Bound", "Active", "Available", "Enabled", "Succeed", "Passed"]);
const BAD = new Set(["NotReady", "Offline", "Failed", "Aborted", "Inactive", "Unknown", "ToBeDeleted", "Deleted", "Disabled"]);

export function StateBadge({ state }: { state: string | undefined }) {
  const s = state || "Pending";
  // Dark enough for white text at badge size (≥ 4.5:1, WCAG AA): Mantine's green.9 is only 4.4:1.
  const color = GOOD.has(s) ? "#216e2f" : BAD.has(s) ? "#b02525" : "#364fc7";
  // The label never ellipsizes ("COMPLET…" at 1280 px): its full width is the cell's minimum width.
  return (
    <Badge
      color={color}
      variant="filled"
      radius="sm"
      style={{ flexShrink: 0, maxWidth: "none", overflow: "visible" }}
      styles={{ label: { overflow: "visible" } }}
    >
      {s}
    </Badge>
  );
}

export function CapacityBar({ used, total, label }: { used: number | undefined; total: number | undefined; label: string }) {
  const p = percent(used, total);
  return (
    <Stack gap={2} miw={140}>
      <Progress value={p} color={p >= 85 ? "red.9" : p >= 70 ? "orange.9" : "blue.9"} bg="gray.3" aria-label={`${label}: ${p}% used`} size="md" />
      <Text size="xs" c="gray.8">
        {bytes(used)} of {bytes(total)} ({p}%)
      </Text>
    </Stack>
  );
}

export function ErrorNote({ error, title = "The server answered with an error" }: { error: ApiError | Error | undefined; title?: string }) {
  if (!error) return null;
  return (
    <Alert color="red.9" variant="outline" title={title} role="alert">
      <Text size="sm" c="red.9">
        {error.message}
      </Text>
    </Alert>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <Group gap="xs" role="status" aria-live="polite">
      <Loader size="sm" aria-hidden />
      <Text size="sm">Loading {what}…</Text>
    </Group>
  );
}

export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  return (
    <Group justify="space-between" wrap="wrap" mb="md">
      <Title order={1} size="h2">
        {children}
      </Title>
      {actions}
    </Group>
  );
}

/** A table with a caption (its accessible name) that scrolls sideways when the screen is narrow. */
export function DataTable({
  caption,
  head,
  rows,
  empty,
  minWidth = 640,
}: {
  caption: string;
  head: string[];
  rows: ReactNode[];
  empty: string;
  minWidth?: number;
}) {
  // The scroll box is a named, focusable region: a narrow screen scrolls a table sideways with the keyboard too
  // (axe scrollable-region-focusable; a table without links or buttons in it has nothing else to focus).
  return (
    <Table.ScrollContainer minWidth={minWidth} type="native" tabIndex={0} role="region" aria-label={caption}>
      <Table striped highlightOnHover captionSide="top" verticalSpacing="xs">
        <Table.Caption style={{ textAlign: "left" }}>{caption}</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            {head.map((h) => (
              <Table.Th key={h} scope="col">
                {h}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.length ? (
            rows
          ) : (
            <Table.Tr>
              <Table.Td colSpan={head.length}>{empty}</Table.Td>
            </Table.Tr>
          )}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/**
 * A button that asks before it acts: the dialog says what will happen, the action runs on "confirm", and
 * the server's answer (or error) is shown in the dialog until it is closed.
 */
export function ConfirmButton({
  label,
  title,
  description,
  confirmLabel,
  onConfirm,
  color = "blue.9",
  variant = "filled",
  disabled,
  children,
  ariaLabel,
}: {
  label: string;
  title: string;
  description: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<string | void>;
  color?: string;
  variant?: "filled" | "outline";
  disabled?: boolean;
  children?: ReactNode;
  ariaLabel?: string;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const [done, setDone] = useState<string>();
  const close = () => {
    setOpen(false);
    setError(undefined);
    setDone(undefined);
  };
  return (
    <>
      <Button size="xs" color={color} variant={variant} onClick={() => setOpen(true)} disabled={disabled} aria-label={ariaLabel}>
        {label}
      </Button>
      <Modal opened={open} onClose={close} title={title} centered closeButtonProps={{ "aria-label": "Close dialog" }}>
        <Stack>
          <Text size="sm" component="div">
            {description}
          </Text>
          {children}
          <ErrorNote error={error} title="Refused" />
          {done && (
            <Alert color="green.9" variant="outline" role="status" title="Done">
              <Text size="sm">{done}</Text>
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="outline" color="gray.8" onClick={close}>
              {done ? "Close" : "Cancel"}
            </Button>
            {!done && (
              <Button
                color={color}
                loading={busy}
                onClick={async () => {
                  setBusy(true);
                  setError(undefined);
                  try {
                    setDone((await onConfirm()) || "The request was accepted.");
                  } catch (e) {
                    setError(e as Error);
                  } finally {
                    setBusy(false);
                  }
                }}
              >
                {confirmLabel}
              </Button>
            )}
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
