// `hwameistor`: the server-side binary (API server, controller, node agent, dev cluster). Each command
// registers itself from its own file; handlers throw HwError and the exit code follows errors.ts.
//
// Commands are loaded lazily: only the file of the command being run is imported (all of them for help or
// an unknown command). Each command pulls in its own stack (the kube runtime, gRPC, ...); importing all of them
// eagerly cost the API server process ~150 MiB of RSS. To add a command, add one line to `commands`.

import { Command } from "commander";
import { exitCodeOf, isHwError } from "../api/errors.ts";

type Register = (program: Command) => void;

const commands: Record<string, () => Promise<Register>> = {
  apiserver: async () => (await import("./apiserver.ts")).registerApiserverCommand,
  node: async () => (await import("./node.ts")).registerNodeCommand,
  controller: async () => (await import("./controller.ts")).registerControllerCommand,
  cluster: async () => (await import("./cluster/index.ts")).registerClusterCommand,
  exporter: async () => (await import("./exporter.ts")).registerExporterCommand,
  rest: async () => (await import("./rest.ts")).registerRestCommand,
  "kube-controllers": async () => (await import("./kube-controllers.ts")).registerKubeControllersCommand,
};

export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command("hwameistor").description("HwameiStor: Kubernetes-native local storage").showHelpAfterError();
  const name = argv[2];
  const wanted = name !== undefined && Object.hasOwn(commands, name) ? [name] : Object.keys(commands);
  for (const n of wanted) (await commands[n]!())(program);
  return program;
}

buildProgram()
  .then((program) => program.parseAsync(process.argv))
  .catch((e: unknown) => {
    process.stderr.write(`hwameistor: ${isHwError(e) ? e.fullMessage : e instanceof Error ? e.message : String(e)}\n`);
    process.exit(exitCodeOf(e));
  });
