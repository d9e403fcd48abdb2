// `domsplice check`: tells whether XML documents are well-formed, one line per bad document.
// Loaded by src/cli.ts only when `check` is asked for.

import process from "node:process";
import { check } from "../index.ts";
import { readInputFile, readStdin } from "./files.ts";
import { EXIT_BAD_INPUT, EXIT_OK, FileError, parseCommandArgs, printError, UsageError } from "./usage.ts";

export const CHECK_HELP = `Usage: domsplice check FILE...

Checks that each XML document is well-formed (XML 1.0: balanced and matching tags, attribute
syntax, comments, CDATA, PIs, DOCTYPE, references; entities are never expanded). "-" reads stdin.
Prints nothing and exits 0 when every document is well-formed; otherwise prints one line per
bad document, FILE:line:col: message, and exits 2.

Options:
  -h, --help   show this help
`;

export async function runCheck(args: string[]): Promise<number> {
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
