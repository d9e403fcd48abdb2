// The command line (DESIGN.md "Command line"): `domsplice patch` applies a JSON/YAML patch
// document to an XML document, `domsplice check` judges well-formedness, `domsplice serve` runs
// the KubeVirt hook sidecar, `domsplice hook` runs one hook call. A contract scripts depend on:
// exit 0 on success, 2 with one line on stderr for any bad input (what and where, as
// FILE:line:col where there is a place), 1 only for a bug. bin/domsplice calls main(); Bun and
// Deno can also run this file directly (import.meta.main below).
// serve and hook are loaded with import() only when asked for: patch and check start without
// the hook server's code and without grpc-js (start-up time is what a CLI is judged by).

import process from "node:process";
import { check, compile } from "./index.ts";
import { FileError, readInputFile, readStdin, writeFileAtomically, writeStdout } from "./cli/files.ts";
import { PatchDocumentError, parsePatchDocument } from "./cli/patch-document.ts";
import { EXIT_BAD_INPUT, EXIT_BUG, EXIT_OK, parseCommandArgs, printError, UsageError } from "./cli/usage.ts";

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

const PATCH_HELP = `Usage: domsplice patch --patch FILE [--in FILE] [--out FILE]

Applies the operations in the patch document to the XML document, in order, in one pass:
bytes the patch does not touch are copied through unchanged.

Options:
  -p, --patch FILE   patch document: a JSON (.json) or YAML (any other name) array of
                     operations, e.g.
                       [{"op": "set", "path": "/domain/cpu/@mode", "value": "host-passthrough"}]
                     ops: add (pos: append|prepend|before|after, xml), replace (xml or value),
                     remove, set (value), ensure; add/replace/set take "optional": true
  -i, --in FILE      XML document to patch (default: stdin)
  -o, --out FILE     where to write the result (default: stdout); written to a temporary file
                     and renamed, so a failed run leaves FILE as it was
  -h, --help         show this help

Exit status: 0 patched; 2 when the patch document is invalid, the XML is not well-formed
(reported as FILE:line:col: message), or an operation cannot apply (e.g. its path matches
nothing and it is not optional).
`;

const CHECK_HELP = `Usage: domsplice check FILE...

Checks that each XML document is well-formed (XML 1.0: balanced and matching tags, attribute
syntax, comments, CDATA, PIs, DOCTYPE, references; entities are never expanded). "-" reads stdin.
Prints nothing and exits 0 when every document is well-formed; otherwise prints one line per
bad document, FILE:line:col: message, and exits 2.

Options:
  -h, --help   show this help
`;

/** Runs the command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  // A reader that goes away (`domsplice patch ... | head`) is not an error of ours.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  try {
    return await dispatch(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      const help = error.helpCommand === "" ? "domsplice --help" : `domsplice ${error.helpCommand} --help`;
      printError(`domsplice${error.helpCommand ? " " + error.helpCommand : ""}: ${error.message}; see '${help}'`);
      return EXIT_BAD_INPUT;
    }
    if (error instanceof FileError || error instanceof PatchDocumentError) {
      printError(error instanceof PatchDocumentError ? error.toLine() : error.message);
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
      return runPatch(rest);
    case "check":
      return runCheck(rest);
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
  else if (command === "patch") process.stdout.write(PATCH_HELP);
  else if (command === "check") process.stdout.write(CHECK_HELP);
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

async function runPatch(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    "patch",
    args,
    {
      patch: { type: "string", short: "p" },
      in: { type: "string", short: "i" },
      out: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(PATCH_HELP);
    return EXIT_OK;
  }
  const patchFile = values.patch as string | undefined;
  const inFile = values.in as string | undefined;
  const outFile = values.out as string | undefined;
  if (patchFile === undefined) throw new UsageError("missing --patch FILE", "patch");
  if (inFile === undefined && process.stdin.isTTY) {
    throw new UsageError("no XML input: give --in FILE or pipe the document to stdin", "patch");
  }

  // The patch document is judged (and compiled) before the XML is read: a bad patch is the
  // same mistake whatever the input.
  const patchText = new TextDecoder().decode(await readInputFile(patchFile));
  const ops = await parsePatchDocument(patchText, patchFile);
  let plan;
  try {
    plan = compile(ops);
  } catch (error) {
    return reportPatchError(error, patchFile, patchFile);
  }

  const inputName = inFile ?? "<stdin>";
  const input = inFile === undefined ? await readStdin() : await readInputFile(inFile);
  let output: Uint8Array;
  try {
    output = plan.apply(input) as Uint8Array;
  } catch (error) {
    return reportPatchError(error, patchFile, inputName);
  }
  if (outFile === undefined) await writeStdout(output);
  else await writeFileAtomically(outFile, output);
  return EXIT_OK;
}

interface PatchErrorShape {
  code: string;
  message: string;
  opIndex?: number;
  path?: string;
  line?: number;
  column?: number;
  /** For malformed input: the tokenizer's own error, worded as `check` words it. */
  xmlError?: { message: string };
}

function isPatchError(error: unknown): error is PatchErrorShape {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "string";
}

/**
 * One line for a PatchError: an error with a place in the XML reads "INPUT:line:col: ...";
 * one that belongs to an operation reads "PATCHFILE:ops[i]: ...". Anything else is a bug.
 */
function reportPatchError(error: unknown, patchFile: string, inputName: string): number {
  if (!isPatchError(error)) throw error;
  const message = error.message.split("\n")[0];
  if (error.opIndex !== undefined) {
    const place = error.line !== undefined ? ` (at ${inputName}:${error.line}:${error.column})` : "";
    printError(`${patchFile}:ops[${error.opIndex}]: ${message}${place}`);
  } else if (error.line !== undefined) {
    // Same words as `domsplice check` for the same document.
    printError(`${inputName}:${error.line}:${error.column}: ${error.xmlError?.message ?? message}`);
  } else {
    printError(`${inputName}: ${message}`);
  }
  return EXIT_BAD_INPUT;
}

async function runCheck(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("check", args, { help: { type: "boolean", short: "h" } }, true);
  if (values.help) {
    process.stdout.write(CHECK_HELP);
    return EXIT_OK;
  }
  if (positionals.length === 0) throw new UsageError("missing FILE (use - for stdin)", "check");
  let status = EXIT_OK;
  for (const file of positionals) {
    let bytes: Uint8Array;
    try {
      bytes = file === "-" ? await readStdin() : await readInputFile(file);
    } catch (error) {
      if (!(error instanceof FileError)) throw error;
      printError(error.message);
      status = EXIT_BAD_INPUT;
      continue;
    }
    const result = check(bytes);
    if (!result.ok) {
      const { line, column, message } = result.error;
      printError(`${file === "-" ? "<stdin>" : file}:${line}:${column}: ${message}`);
      status = EXIT_BAD_INPUT;
    }
  }
  return status;
}

// `bun src/cli.ts ...` / `deno run src/cli.ts ...`: run when this module is the entry point.
// Node 20 has no import.meta.main, and under bin/domsplice this module is never the entry.
if ((import.meta as { main?: boolean }).main) {
  main(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
