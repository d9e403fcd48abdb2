// Reading a patch document for `domsplice patch`: a JSON or YAML file holding an array of
// operations (DESIGN.md "Library API"). Everything wrong with the file is reported here, as one
// line that names the file, where in it (line:col for syntax, ops[i] for content) and what to
// fix, before any XML is read. YAML is loaded only for YAML files, so a JSON patch costs no
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

/** The fields each op may carry; `required` must be present. */
const OP_FIELDS: Record<string, { required: string[]; allowed: string[] }> = {
  add: { required: ["path", "xml"], allowed: ["op", "path", "xml", "pos", "optional"] },
  replace: { required: ["path"], allowed: ["op", "path", "xml", "value", "optional"] },
  remove: { required: ["path"], allowed: ["op", "path"] },
  set: { required: ["path", "value"], allowed: ["op", "path", "value", "optional"] },
  ensure: { required: ["path"], allowed: ["op", "path"] },
};
const POSITIONS = ["append", "prepend", "before", "after"];

/** Parses and validates a patch document; `file` names it in errors. */
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
  const fail = (message: string): never => {
    throw new PatchDocumentError(file, where, message);
  };
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    return fail(`is ${describe(entry)}; expected an object with "op" and "path"`);
  }
  const op = entry as Record<string, unknown>;
  if (typeof op.op !== "string") return fail(`"op" is missing or not a string; expected one of ${Object.keys(OP_FIELDS).join(", ")}`);
  const fields = OP_FIELDS[op.op];
  if (fields === undefined) return fail(`unknown op "${op.op}"; expected one of ${Object.keys(OP_FIELDS).join(", ")}`);
  for (const key of Object.keys(op)) {
    if (!fields.allowed.includes(key)) {
      return fail(`"${op.op}" does not take "${key}" (it takes ${fields.allowed.filter((k) => k !== "op").join(", ")})`);
    }
  }
  for (const key of fields.required) {
    if (!(key in op)) return fail(`"${op.op}" needs "${key}"`);
  }
  if (typeof op.path !== "string" || op.path === "") return fail(`"path" must be a non-empty string (a selector like /domain/devices)`);
  if ("xml" in op && typeof op.xml !== "string") return fail(`"xml" must be a string holding an XML fragment`);
  if ("value" in op) {
    // YAML reads `value: 1500` as a number and `value: yes` as a string, `value: true` as a
    // boolean; an attribute or text value is text either way, so scalars become their text.
    const value = op.value;
    if (typeof value === "number" || typeof value === "boolean") op.value = String(value);
    else if (typeof value !== "string") return fail(`"value" must be a string, not ${describe(value)}`);
  }
  if (op.op === "replace" && ("xml" in op) === ("value" in op)) {
    return fail(`"replace" needs exactly one of "xml" (to replace an element) or "value" (an attribute value or text())`);
  }
  if ("pos" in op && !POSITIONS.includes(op.pos as string)) {
    return fail(`"pos" must be one of ${POSITIONS.join(", ")}, not ${JSON.stringify(op.pos)}`);
  }
  if ("optional" in op && typeof op.optional !== "boolean") return fail(`"optional" must be true or false`);
  return op as unknown as PatchOp;
}
