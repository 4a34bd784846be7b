// The `hwameistor` command tree (src/cli/main.ts runs it). Each command registers itself from its own file;
// handlers throw HwError and the exit code follows errors.ts.
//
// Commands are loaded lazily: only the file of the command being run is imported (all of them for help or
// an unknown command). Each command pulls in its own stack (the kube runtime, gRPC, ...); importing all of them
// eagerly cost the API server process ~150 MiB of RSS. To add a command, add one line to `commands`.

import { Command } from "commander";

type Register = (program: Command) => void;

const commands: Record<string, () => Promise<Register>> = {
  apiserver: async () => (await import("./apiserver.ts")).registerApiserverCommand,
  node: async () => (await import("./node.ts")).registerNodeCommand,
  controller: async () => (await import("./controller.ts")).registerControllerCommand,
  cluster: async () => (await import("./cluster/index.ts")).registerClusterCommand,
  exporter: async () => (await import("./exporter.ts")).registerExporterCommand,
  rest: async () => (await import("./rest.ts")).registerRestCommand,
  "kube-controllers": async () => (await import("./kube-controllers.ts")).registerKubeControllersCommand,
  webhook: async () => (await import("./webhook.ts")).registerWebhookCommand,
  "scheduler-extender": async () => (await import("./scheduler-extender.ts")).registerSchedulerExtenderCommand,
};

export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command("hwameistor").description("HwameiStor: Kubernetes-native local storage").showHelpAfterError();
  const name = argv[2];
  const wanted = name !== undefined && Object.hasOwn(commands, name) ? [name] : Object.keys(commands);
  for (const n of wanted) (await commands[n]!())(program);
  return program;
}

export interface ParsedCommandLine {
  /** The (sub)command path, e.g. "cluster operator". */
  command: string;
  options: Record<string, unknown>;
  args: string[];
}

/**
 * Parses `hwameistor <args>` exactly as the binary would — every option checked, required options and
 * option parsers run — and stops before the command's action (the chart's wiring test). Throws on what the
 * binary would refuse (commander's message).
 */
export async function parseCommandLine(args: string[]): Promise<ParsedCommandLine> {
  const argv = ["node", "hwameistor", ...args];
  const program = await buildProgram(argv);
  let parsed: ParsedCommandLine | undefined;
  const stop = new Error("parsed");
  program.exitOverride();
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const c of program.commands) quiet(c);
  program.hook("preAction", (_top, action) => {
    const path: string[] = [];
    for (let c: Command | null = action; c && c !== program; c = c.parent) path.unshift(c.name());
    parsed = { command: path.join(" "), options: action.opts(), args: action.args };
    throw stop;
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e !== stop) throw e;
  }
  if (!parsed) throw new Error(`hwameistor ${args.join(" ")}: no command ran`);
  return parsed;
}

function quiet(c: Command): void {
  c.exitOverride();
  c.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const sub of c.commands) quiet(sub);
}
