// Reading the JSON documents KubeVirt hands a hook (the VMI, cloud-init data) from the bytes
// of a call. A document that is not UTF-8 or not JSON becomes a HookCallError INVALID_ARGUMENT
// naming the document, the line:column and the reason, worded the same on Node, Bun and Deno
// (their JSON.parse messages differ and JSC's name no position, so a small scanner finds the
// place and says what is wrong there).

import { HookCallError, StatusCode } from "./call-error.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

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
  // Deep nesting exhausts some engines' parser stacks; the text itself may be fine.
  if (error instanceof RangeError) return `invalid ${what}: nested too deeply (${error.message})`;
  const found = findJsonSyntaxError(text);
  if (found === undefined) return `invalid ${what}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`;
  const { line, column } = lineColumn(text, found.offset);
  return `invalid ${what} at line ${line}, column ${column}: ${found.reason}`;
}

export interface JsonSyntaxError {
  readonly offset: number;
  readonly reason: string;
}

/**
 * The first place `text` stops being JSON (RFC 8259), and why. Runs only after JSON.parse has
 * refused the text: the engines word their errors differently and JSC names no position, so
 * the place and the words are this scanner's, the same on every runtime.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const containers: number[] = []; // 0x7b '{' or 0x5b '['
  let i = 0;
  const fail = (reason: string): JsonSyntaxError => ({ offset: i, reason });
  const unexpected = (expected: string): JsonSyntaxError =>
    i >= text.length ? fail(`unexpected end of input, expected ${expected}`) : fail(`unexpected ${JSON.stringify(text[i])}, expected ${expected}`);
  const skipWhitespace = (): void => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
  };
  const scanString = (): JsonSyntaxError | undefined => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) return fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return fail("control character in a string (escape it)");
      if (c === 0x5c) {
        const escape = text[i + 1];
        if (escape === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return fail("\\u must be followed by 4 hex digits");
          i += 6;
        } else if (escape !== undefined && '"\\/bfnrt'.includes(escape)) {
          i += 2;
        } else {
          return fail("invalid escape in a string");
        }
        continue;
      }
      i++;
    }
  };
  const scanNumber = (): JsonSyntaxError | undefined => {
    const match = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    match.lastIndex = i;
    const found = match.exec(text);
    if (found === null || found[0] === "-") return fail("invalid number");
    i += found[0].length;
    const next = text[i];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) return fail("invalid number");
    return undefined;
  };

  for (;;) {
    // A value.
    skipWhitespace();
    const c = text[i];
    if (c === "{" || c === "[") {
      containers.push(text.charCodeAt(i));
      i++;
      skipWhitespace();
      if (text[i] === (c === "{" ? "}" : "]")) {
        containers.pop();
        i++;
      } else if (c === "{") {
        if (text[i] !== '"') return unexpected("a property name in double quotes or '}'");
        const bad = scanString();
        if (bad) return bad;
        skipWhitespace();
        if (text[i] !== ":") return unexpected("':' after the property name");
        i++;
        continue;
      } else {
        continue;
      }
    } else if (c === '"') {
      const bad = scanString();
      if (bad) return bad;
    } else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      const bad = scanNumber();
      if (bad) return bad;
    } else if (c !== undefined && /^(true|false|null)/.test(text.slice(i, i + 5))) {
      i += text.startsWith("t", i) || text.startsWith("n", i) ? 4 : 5;
    } else {
      return unexpected("a JSON value");
    }

    // After a value: close containers or go on to the next member/element.
    for (;;) {
      skipWhitespace();
      const top = containers[containers.length - 1];
      if (top === undefined) return i < text.length ? fail("content after the JSON value") : undefined;
      const close = top === 0x7b ? "}" : "]";
      if (text[i] === close) {
        containers.pop();
        i++;
        continue;
      }
      if (text[i] !== ",") return unexpected(`',' or '${close}'`);
      i++;
      if (top === 0x7b) {
        skipWhitespace();
        if (text[i] !== '"') return unexpected("a property name in double quotes");
        const bad = scanString();
        if (bad) return bad;
        skipWhitespace();
        if (text[i] !== ":") return unexpected("':' after the property name");
        i++;
      }
      break;
    }
  }
}

/** 1-based line and column (in UTF-16 code units) of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
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
