// `domsplice patch`: applies a patch document (JSON or YAML operations) to an XML document in
// one pass, copying the bytes it does not touch. Loaded by src/cli.ts only when `patch` is asked
// for, like every command, so no command pays at start-up for another's modules (the engine's,
// node:fs/promises and node:crypto here; serve never loads them before it serves).

import process from "node:process";
import { compile } from "../index.ts";
import { readInputFile, readStdin, writeFileAtomically, writeStdout } from "./files.ts";
import { PatchDocumentError, parsePatchDocument } from "./patch-document.ts";
import { EXIT_BAD_INPUT, EXIT_OK, parseCommandArgs, printError, UsageError } from "./usage.ts";

export const PATCH_HELP = `Usage: domsplice patch --patch FILE [--in FILE] [--out FILE]

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

export async function runPatch(args: string[]): Promise<number> {
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
  let ops;
  try {
    ops = await parsePatchDocument(patchText, patchFile);
  } catch (error) {
    if (!(error instanceof PatchDocumentError)) throw error;
    printError(error.toLine());
    return EXIT_BAD_INPUT;
  }
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
