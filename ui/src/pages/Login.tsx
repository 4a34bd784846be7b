import { Button, Card, Center, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { api, setToken } from "../api";
import { ErrorNote } from "../components";

export function Login() {
  const [accessId, setAccessId] = useState("");
  const [secretKey, setSecretKey] = useState("");
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<{ token: string }>("POST", "/cluster/auth/auth", { accessId, secretKey });
      setToken(r.token);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center mih="100vh" p="md" component="main">
      <Card withBorder shadow="sm" padding="xl" w={380} maw="100%">
        <form onSubmit={submit} aria-labelledby="login-title">
          <Stack>
            <Title order={1} size="h3" id="login-title">
              Log in to HwameiStor
            </Title>
            <Text size="sm">Authentication is on. Use the access id and secret key of this server.</Text>
            <TextInput
              label="Access id"
              name="accessId"
              autoComplete="username"
              value={accessId}
              onChange={(e) => setAccessId(e.currentTarget.value)}
              required
              autoFocus
            />
            <PasswordInput
              label="Secret key"
              name="secretKey"
              autoComplete="current-password"
              value={secretKey}
              onChange={(e) => setSecretKey(e.currentTarget.value)}
              required
            />
            <ErrorNote error={error} title="Login failed" />
            <Button type="submit" loading={busy} color="blue.9">
              Log in
            </Button>
          </Stack>
        </form>
      </Card>
    </Center>
  );
}
