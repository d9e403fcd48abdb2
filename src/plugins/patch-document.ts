// Reading a patch document: a JSON or YAML text holding an array of operations (DESIGN.md
// "Library API"), for `domsplice patch` (a file) and the annotation-patch plugin (the VMI
// annotation domsplice.io/patch). Syntax and shape problems are reported here as one line
// naming the source and where in it (line:col for syntax, ops[i] for an entry); what is wrong
// inside an operation is compile()'s judgement. YAML is loaded only for YAML, so a JSON patch
// file costs no YAML start-up.

import type { PatchOp } from "../index.ts";
import { findJsonSyntaxError, lineColumn } from "../hooks/json-input.ts";

/** A problem with the patch document; `where` is "line:col" or "ops[i]" or "" (the whole file). */
export class PatchDocumentError extends Error {
  constructor(
    readonly file: string,
    readonly where: string,
    message: string,
  ) {
    super(message);
  }

  /** "FILE:where: message", the one line the CLI prints. */
  toLine(): string {
    return this.where === "" ? `${this.file}: ${this.message}` : `${this.file}:${this.where}: ${this.message}`;
  }
}

/**
 * Parses a patch document and checks it is an array of objects; `file` names it in errors and,
 * unless `format` says, chooses the syntax (JSON for *.json, else YAML, which also reads JSON).
 */
export async function parsePatchDocument(text: string, file: string, format?: "json" | "yaml"): Promise<PatchOp[]> {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const json = format === undefined ? /\.json$/i.test(file) : format === "json";
  const document = json ? parseJson(text, file) : await parseYaml(text, file);
  return validateOps(document, file);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // The engines word syntax errors differently (and JSC names no position), so the place and
    // the reason come from the same scanner that judges the VMI JSON of a hook call.
    const found = findJsonSyntaxError(text);
    if (found === undefined) throw new PatchDocumentError(file, "", `invalid JSON: ${(error as Error).message.split("\n")[0]}`);
    const { line, column } = lineColumn(text, found.offset);
    throw new PatchDocumentError(file, `${line}:${column}`, `invalid JSON: ${found.reason}`);
  }
}

async function parseYaml(text: string, file: string): Promise<unknown> {
  const { parseDocument, visit } = await import("yaml");
  const document = parseDocument(text, { keepSourceTokens: true });
  const error = document.errors[0];
  if (error) {
    const at = error.linePos?.[0];
    const reason = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new PatchDocumentError(file, at ? `${at.line}:${at.col}` : "", `invalid YAML: ${reason}`);
  }
  // A number-looking scalar is kept as written: attribute values such as a PCI slot `0x03` or
  // `1.50` must not become 3 or 1.5 (no op field takes a number).
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === "number" && node.srcToken && "source" in node.srcToken) node.value = node.srcToken.source;
    },
  });
  return document.toJS();
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function validateOps(document: unknown, file: string): PatchOp[] {
  if (document === null || document === undefined) {
    throw new PatchDocumentError(file, "", "the patch document is empty; expected an array of operations");
  }
  if (!Array.isArray(document)) {
    throw new PatchDocumentError(
      file,
      "",
      `the patch document is ${describe(document)}; expected an array of operations like [{"op": "set", "path": "/domain/cpu/@mode", "value": "host-passthrough"}]`,
    );
  }
  return document.map((entry, index) => validateOp(entry, `ops[${index}]`, file));
}

function validateOp(entry: unknown, where: string, file: string): PatchOp {
  // Only the document's shape is judged here; the operations themselves are judged by
  // compile(), whose errors name the op index, which the CLI maps back to this file.
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw new PatchDocumentError(file, where, `is ${describe(entry)}; expected an object with "op" and "path"`);
  }
  const op = entry as Record<string, unknown>;
  // JSON's `"value": 1500` is a number and YAML's `value: true` a boolean; an attribute value
  // or text is text either way, so those become their text.
  if (typeof op.value === "number" || typeof op.value === "boolean") op.value = String(op.value);
  return op as unknown as PatchOp;
}
