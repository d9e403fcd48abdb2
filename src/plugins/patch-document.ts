// Reading a patch document: a JSON or YAML text holding an array of operations (DESIGN.md
// "Library API"), for `domsplice patch` (a file) and the annotation-patch plugin (the VMI
// annotation domsplice.io/patch). Syntax and shape problems are reported here as one line
// naming the source and where in it (line:col for syntax, ops[i] for an entry); what is wrong
// inside an operation is compile()'s judgement. YAML is loaded only for YAML, so a JSON patch
// file costs no YAML start-up.

import type { PatchOp } from "../index.ts";

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
    // Engines word this differently and V8 names no position for some errors (and quotes the
    // document, newlines included), so the place is found independently and the reason kept to
    // its first clause: every syntax error is reported as one line with line:col.
    const reason = (error as Error).message
      .replace(/ at position \d+.*$/s, "")
      .replace(/, (\.\.\.)?".*" is not valid JSON$/s, "")
      .replace(/\s*\(line \d+ column \d+\)$/, "")
      .replace(/\s+/g, " ");
    const { line, column } = lineColumnOf(text, jsonErrorOffset(text));
    throw new PatchDocumentError(file, `${line}:${column}`, `invalid JSON: ${reason}`);
  }
}

/**
 * Offset of the first character that no valid JSON document could have there: the shortest
 * prefix that is not the start of some JSON text (found by bisection; a prefix that JSON.parse
 * rejects only for ending early is a valid start). The end of the text when it is just cut short.
 */
function jsonErrorOffset(text: string): number {
  const isValidStart = (length: number): boolean => {
    const prefix = text.slice(0, length);
    try {
      JSON.parse(prefix);
      return true;
    } catch (error) {
      const message = (error as Error).message;
      const position = /position (\d+)/.exec(message);
      return /end of JSON input/.test(message) || (position !== null && Number(position[1]) >= prefix.length);
    }
  };
  if (isValidStart(text.length)) return text.length;
  let valid = 0;
  let invalid = text.length;
  while (invalid - valid > 1) {
    const middle = (valid + invalid) >>> 1;
    if (isValidStart(middle)) valid = middle;
    else invalid = middle;
  }
  return invalid - 1;
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

function lineColumnOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
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
