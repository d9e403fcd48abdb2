// Reading a patch document for `domsplice patch`: a JSON or YAML file holding an array of
// operations (DESIGN.md "Library API"). Syntax and shape problems are reported here as one line
// naming the file and where in it (line:col for syntax, ops[i] for an entry); what is wrong
// inside an operation is compile()'s judgement, reported by the CLI against the same file. YAML is loaded only for YAML files, so a JSON patch costs no
// YAML start-up.

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

/** Parses a patch document and checks it is an array of objects; `file` names it in errors. */
export async function parsePatchDocument(text: string, file: string): Promise<PatchOp[]> {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const document = /\.json$/i.test(file) ? parseJson(text, file) : await parseYaml(text, file);
  return validateOps(document, file);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // Engines word this differently; Node and Deno name a character position, which we turn
    // into line:col so every syntax error points at its place the same way.
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    const reason = message.replace(/ in JSON at position \d+.*$/, "").replace(/\s*\(line \d+ column \d+\)$/, "");
    if (position) {
      const { line, column } = lineColumnOf(text, Number(position[1]));
      throw new PatchDocumentError(file, `${line}:${column}`, `invalid JSON: ${reason}`);
    }
    throw new PatchDocumentError(file, "", `invalid JSON: ${reason}`);
  }
}

async function parseYaml(text: string, file: string): Promise<unknown> {
  const { parse, YAMLError } = await import("yaml");
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof YAMLError) {
      const at = error.linePos?.[0];
      const reason = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
      throw new PatchDocumentError(file, at ? `${at.line}:${at.col}` : "", `invalid YAML: ${reason}`);
    }
    throw error;
  }
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
  // YAML reads `value: 1500` as a number and `value: true` as a boolean; an attribute value
  // or text is text either way, so those scalars become their text.
  if (typeof op.value === "number" || typeof op.value === "boolean") op.value = String(op.value);
  return op as unknown as PatchOp;
}
