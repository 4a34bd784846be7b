import { AppShell, Burger, Button, Group, NavLink, ScrollArea, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Component, useEffect, useState, type ReactNode } from "react";
import { api, getToken, onAuthChange, setToken } from "./api";
import { ErrorNote, Loading } from "./components";
import { Disks } from "./pages/Disks";
import { Login } from "./pages/Login";
import { NodeDetail, Nodes } from "./pages/Nodes";
import { OperationLog, Operations } from "./pages/Operations";
import { Overview } from "./pages/Overview";
import { Pools } from "./pages/Pools";
import { Snapshots, VolumeGroups } from "./pages/Snapshots";
import { VolumeDetail, Volumes } from "./pages/Volumes";
import { href, useRoute } from "./route";

const NAV: Array<[string, string]> = [
  ["", "Overview"],
  ["nodes", "Nodes"],
  ["disks", "Disks"],
  ["pools", "Pools"],
  ["volumes", "Volumes"],
  ["volumegroups", "Volume groups"],
  ["snapshots", "Snapshots"],
  ["operations", "Operations"],
  ["log", "Operation log"],
];

/** A page that throws shows the error, never a blank screen. */
class Boundary extends Component<{ children: ReactNode; page: string }, { error?: Error }> {
  state: { error?: Error } = {};
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  componentDidUpdate(prev: { page: string }) {
    if (prev.page !== this.props.page && this.state.error) this.setState({ error: undefined });
  }
  render() {
    return this.state.error ? <ErrorNote error={this.state.error} title="This page failed to render" /> : this.props.children;
  }
}

function Page({ parts }: { parts: string[] }) {
  const [top, name] = parts;
  switch (top ?? "") {
    case "":
      return <Overview />;
    case "nodes":
      return name ? <NodeDetail name={name} /> : <Nodes />;
    case "disks":
      return <Disks />;
    case "pools":
      return <Pools />;
    case "volumes":
      return name ? <VolumeDetail name={name} /> : <Volumes />;
    case "volumegroups":
      return <VolumeGroups selected={name} />;
    case "snapshots":
      return <Snapshots />;
    case "operations":
      return <Operations />;
    case "log":
      return <OperationLog />;
    default:
      return <ErrorNote error={new Error(`There is no page ${parts.join("/")}.`)} title="Not found" />;
  }
}

export function App() {
  const parts = useRoute();
  const [opened, { toggle, close }] = useDisclosure();
  const [authOn, setAuthOn] = useState<boolean>();
  const [authError, setAuthError] = useState<Error>();
  const [token, setTok] = useState(getToken());
  useEffect(() => onAuthChange(() => setTok(getToken())), []);
  useEffect(() => {
    api<{ enabled: boolean }>("GET", "/cluster/auth/info").then((r) => setAuthOn(r.enabled), setAuthError);
  }, []);
  useEffect(() => {
    const t = NAV.find(([k]) => k === (parts[0] ?? ""))?.[1];
    document.title = `${parts[1] ? `${parts[1]} · ` : ""}${t ?? "HwameiStor"} · HwameiStor`;
    close();
  }, [parts, close]);

  if (authError)
    return (
      <main style={{ padding: 24 }}>
        <ErrorNote error={authError} title="The HwameiStor REST server cannot be reached" />
      </main>
    );
  if (authOn === undefined)
    return (
      <main style={{ padding: 24 }}>
        <Loading what="the dashboard" />
      </main>
    );
  if (authOn && !token) return <Login />;

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={opened ? "Close navigation" : "Open navigation"} />
            <Title order={2} size="h4">
              HwameiStor
            </Title>
            <Text size="sm" visibleFrom="sm">
              local storage
            </Text>
          </Group>
          {authOn && (
            <Button
              variant="outline"
              color="gray.8"
              size="xs"
              onClick={() => {
                void api("POST", "/cluster/auth/logout")
                  .catch(() => undefined)
                  .finally(() => setToken(null));
              }}
            >
              Log out
            </Button>
          )}
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        <ScrollArea>
          <nav aria-label="Pages">
            {NAV.map(([k, label]) => (
              <NavLink
                key={k}
                href={k ? href(k) : "#/"}
                label={label}
                active={(parts[0] ?? "") === k}
                variant="filled"
                color="blue.9"
                aria-current={(parts[0] ?? "") === k ? "page" : undefined}
              />
            ))}
          </nav>
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        <Boundary page={parts.join("/")}>
          <Page parts={parts} />
        </Boundary>
      </AppShell.Main>
    </AppShell>
  );
}
