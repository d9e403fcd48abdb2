// The command line (DESIGN.md "Command line"): `domsplice patch` applies a JSON/YAML patch
// document to an XML document, `domsplice check` judges well-formedness, `domsplice serve` runs
// the KubeVirt hook sidecar, `domsplice hook` runs one hook call. A contract scripts depend on:
// exit 0 on success, 2 with one line on stderr for any bad input (what and where, as
// FILE:line:col where there is a place), 1 only for a bug. bin/domsplice calls main(); Bun and
// Deno can also run this file directly (import.meta.main below).
// Each command's code is loaded with import() only when that command is asked for: patch and
// check start without the hook server's code and grpc-js, and serve starts without the engine,
// node:crypto and node:fs/promises that patch needs (start-up time is what a CLI and a sidecar
// are judged by; bench/probes/ready-marks.ts measures where serve's goes).

import process from "node:process";
import { EXIT_BAD_INPUT, EXIT_BUG, EXIT_OK, FileError, guardStdout, printError, UsageError } from "./cli/usage.ts";

const TOP_HELP = `domsplice: lossless XML patcher for libvirt domain XML (and any other XML)

Usage:
  domsplice patch --patch FILE [--in FILE] [--out FILE]
  domsplice check FILE...
  domsplice serve [--plugin NAME]... [--socket PATH] [--plugin-socket PATH] [--name NAME] [--priority N]
  domsplice hook --plugin NAME --vmi FILE|JSON (--domain FILE|XML | --cloud-init FILE|JSON)

Commands:
  patch   apply a patch document (JSON or YAML array of operations) to an XML document;
          only the edited bytes change
  check   tell whether XML documents are well-formed; errors as FILE:line:col: message
  serve   run the KubeVirt hook sidecar: the hook API (Info, Callbacks v1alpha1-3) on a unix
          socket, and the Plugin API (MutateDomain) on a second one when asked
  hook    run one hook call from the command line, the same path serve runs (a sidecar-shim
          compatible onDefineDomain / preCloudInitIso)

Options:
  -h, --help      show this help; "domsplice COMMAND --help" shows a command's help
  -v, --version   print the version

Exit status: 0 success, 2 bad input or usage (one line on stderr says what and where).
`;

/** Runs the command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  // serve writes nothing to stdout but its --help (it guards stdout itself then): creating the
  // stream costs Bun ~1 ms of the sidecar's start-up.
  if (argv[0] !== "serve") guardStdout();
  try {
    return await dispatch(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      const help = error.helpCommand === "" ? "domsplice --help" : `domsplice ${error.helpCommand} --help`;
      printError(`domsplice${error.helpCommand ? " " + error.helpCommand : ""}: ${error.message}; see '${help}'`);
      return EXIT_BAD_INPUT;
    }
    if (error instanceof FileError) {
      printError(error.message);
      return EXIT_BAD_INPUT;
    }
    printError(`domsplice: internal error: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_BUG;
  }
}

async function dispatch(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      throw new UsageError("missing command (patch, check, serve or hook)", "");
    case "-h":
    case "--help":
    case "help":
      return printHelp(rest[0]);
    case "-v":
    case "--version":
      process.stdout.write(`${await version()}\n`);
      return EXIT_OK;
    case "patch":
      return (await import("./cli/patch.ts")).runPatch(rest);
    case "check":
      return (await import("./cli/check.ts")).runCheck(rest);
    case "serve":
      return (await import("./cli/serve.ts")).runServe(rest);
    case "hook":
      return (await import("./cli/hook.ts")).runHook(rest);
    default:
      if (command.startsWith("-")) throw new UsageError(`unknown option '${command}'`, "");
      throw new UsageError(`unknown command '${command}' (commands: ${COMMANDS})`, "");
  }
}

const COMMANDS = "patch, check, serve, hook";

async function printHelp(command: string | undefined): Promise<number> {
  if (command === undefined) process.stdout.write(TOP_HELP);
  else if (command === "patch") process.stdout.write((await import("./cli/patch.ts")).PATCH_HELP);
  else if (command === "check") process.stdout.write((await import("./cli/check.ts")).CHECK_HELP);
  else if (command === "serve") process.stdout.write((await import("./cli/serve.ts")).SERVE_HELP);
  else if (command === "hook") process.stdout.write((await import("./cli/hook.ts")).HOOK_HELP);
  else throw new UsageError(`no help for unknown command '${command}' (commands: ${COMMANDS})`, "");
  return EXIT_OK;
}

async function version(): Promise<string> {
  // Imported, not read from disk: the bundlers (esbuild, bun --compile) embed it, so the version is
  // known where no package.json exists (the image holds only dist/domsplice).
  const { default: manifest } = await import("../package.json", { with: { type: "json" } });
  return `domsplice ${manifest.version}`;
}

// `bun src/cli.ts ...` / `deno run src/cli.ts ...`: run when this module is the entry point.
// Node 20 has no import.meta.main, and under bin/domsplice this module is never the entry.
if ((import.meta as { main?: boolean }).main) {
  main(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
