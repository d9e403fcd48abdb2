// Reading the JSON documents KubeVirt hands a hook (the VMI, cloud-init data) from the bytes
// of a call. A document that is not UTF-8 or not JSON becomes a HookCallError INVALID_ARGUMENT
// naming the document, the line:column and the reason, worded the same on Node, Bun and Deno
// (their JSON.parse messages differ and some name no position, so the place is found here).

import { HookCallError, StatusCode } from "./call-error.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Above this size a JSON error without a position in the engine's message is reported without line:col (finding it re-parses prefixes). */
const MAX_BYTES_TO_LOCATE = 1 << 20;

/** Parses `bytes` as JSON; `what` names the document in errors ("VMI JSON"). */
export function parseJsonInput(bytes: Uint8Array, what: string): unknown | HookCallError {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return new HookCallError(StatusCode.INVALID_ARGUMENT, `invalid ${what}: not UTF-8 text`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    return new HookCallError(StatusCode.INVALID_ARGUMENT, describeJsonError(text, error, what));
  }
}

function describeJsonError(text: string, error: unknown, what: string): string {
  const message = error instanceof Error ? error.message : String(error);
  // Deep nesting exhausts some engines' parser stacks; that has no place worth bisecting for.
  if (error instanceof RangeError) return `invalid ${what}: nested too deeply (${message})`;
  const reason = reasonOf(message);
  const offset = offsetFromMessage(message) ?? (text.length <= MAX_BYTES_TO_LOCATE ? locateJsonError(text) : undefined);
  if (offset === undefined) return `invalid ${what}: ${reason}`;
  const { line, column } = lineColumn(text, offset);
  return `invalid ${what} at line ${line}, column ${column}: ${reason}`;
}

/** The reason without the engine's position and quoted-input tails, on one line. */
function reasonOf(message: string): string {
  const reason = message
    .replace(/^JSON Parse error: /, "")
    .replace(/ in JSON at position \d+.*$/s, "")
    .replace(/ at position \d+.*$/s, "")
    .replace(/, (\.\.\.)?".*" is not valid JSON$/s, "")
    .replace(/\s*\(line \d+ column \d+\)$/, "")
    .replace(/\s+/g, " ")
    .trim();
  return reason === "" ? "not JSON" : reason;
}

/** V8 and Deno say "at position N" (UTF-16 offset); JSC says nothing. */
function offsetFromMessage(message: string): number | undefined {
  const match = / at position (\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * Offset of the first character no JSON text could have there: the shortest prefix that is not
 * the start of some JSON text (a prefix JSON.parse rejects only for ending early is a valid
 * start), found by bisection; the end of the text when it is just cut short.
 */
function locateJsonError(text: string): number {
  const isValidStart = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return true;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/end of JSON input|Unexpected EOF|unexpected end/i.test(message)) return true;
      const position = offsetFromMessage(message);
      return position !== undefined && position >= length;
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

function lineColumn(text: string, offset: number): { line: number; column: number } {
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
