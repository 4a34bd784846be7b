// `hwameistor webhook`: the admission webhook until SIGTERM/SIGINT. Flags fall back to the original's
// environment variables (WEBHOOK_NAMESPACE, WEBHOOK_SERVICE, MUTATE_CONFIG, MUTATE_PATH, FAILURE_POLICY).
import { Option, type Command } from "commander";
import { invalid } from "../api/errors.ts";
import { ObjectNames } from "../api/names.ts";
import { startWebhook } from "../webhook/index.ts";
import { portOption, serve, serverCommand, type ServerFlags } from "./serve.ts";

interface WebhookFlags extends ServerFlags {
  host: string;
  port: number;
  path: string;
  namespace?: string;
  service: string;
  secret: string;
  webhookConfig: string;
  schedulerName: string;
  failurePolicy: "Ignore" | "Fail";
  tlsHost: string[];
}

export function registerWebhookCommand(program: Command): void {
  const cmd = serverCommand(
    program,
    "webhook",
    "run the admission webhook: sets schedulerName on new pods that use HwameiStor volumes (HTTPS, AdmissionReview v1)",
  )
    .option("--host <host>", "address to listen on", "0.0.0.0")
    .option("--port <port>", "HTTPS port (0 = any free port)", portOption(), 8443)
    .addOption(new Option("--path <path>", "path of the mutating endpoint").env("MUTATE_PATH").default("/mutate"))
    .addOption(new Option("--namespace <ns>", "the webhook's namespace (Secret, Service; skipped like kube-system)").env("WEBHOOK_NAMESPACE"))
    .addOption(
      new Option("--service <name>", "the Service in front of the webhook (names in the certificate)").env("WEBHOOK_SERVICE").default("hwameistor-admission"),
    )
    .option("--secret <name>", "Secret holding the CA and the serving certificate", ObjectNames.AdmissionCaSecret)
    .addOption(
      new Option("--webhook-config <name>", "MutatingWebhookConfiguration that gets the caBundle").env("MUTATE_CONFIG").default("hwameistor-admission-mutate"),
    )
    .option("--scheduler-name <name>", "schedulerName set on pods with HwameiStor volumes", ObjectNames.SchedulerName)
    .addOption(
      new Option("--failure-policy <policy>", "Ignore: lookup failures admit the pod unchanged; Fail: they deny it")
        .choices(["Ignore", "Fail"])
        .env("FAILURE_POLICY")
        .default("Ignore"),
    )
    .option(
      "--tls-host <name>",
      "another DNS name or IP for the serving certificate (repeatable)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    );
  serve(
    cmd,
    async (o: WebhookFlags, { log }) => {
      const namespace = o.namespace ?? process.env.POD_NAMESPACE;
      if (!namespace)
        throw invalid("hwameistor webhook needs its namespace (for its Secret and Service)", {
          hint: "pass --namespace or set WEBHOOK_NAMESPACE / POD_NAMESPACE",
        });
      const wh = await startWebhook({
        kubeconfig: o.kubeconfig,
        host: o.host,
        port: o.port,
        path: o.path,
        namespace,
        service: o.service,
        secret: o.secret,
        webhookConfig: o.webhookConfig,
        schedulerName: o.schedulerName,
        failurePolicy: o.failurePolicy,
        extraHosts: o.tlsHost,
        log,
      });
      return { service: wh, ready: { webhook: true, port: wh.port, path: o.path } };
    },
    () => ({ component: "webhook" }),
  );
}
