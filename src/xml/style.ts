// A document's own style, so that what domsplice writes looks like what was already there:
// the attribute quote character, self-closing (`<x/>`, libvirt) versus explicit end tags
// (`<x></x>`, Go's xml.MarshalIndent in virt-launcher), line ends (LF or CRLF) and the indent
// unit (tabs or spaces, how many). A document without line breaks between elements is
// "compact": new elements go in without line breaks or indentation.

import type { TokenTable } from "./tokens.ts";

// TokenKind values as plain constants: a const enum imported from another module is a property
// read per use under transpilers that compile files one by one (tsx, esbuild without bundling).
const K_COMMENT = 3; // TokenKind.Comment
const K_PI = 4; // TokenKind.PI
const K_TEXT = 6; // TokenKind.Text
const K_START_TAG = 7; // TokenKind.StartTag
const K_EMPTY_TAG = 8; // TokenKind.EmptyTag
const K_ATTRIBUTE = 10; // TokenKind.Attribute

export interface DocumentStyle {
  /** 0x22 `"` or 0x27 `'`: the quote most attributes use (`"` when there are none). */
  quote: number;
  /** Empty elements are written `<x/>` (true) or `<x></x>` (false). */
  selfClosing: boolean;
  /** "\n" or "\r\n". */
  newline: string;
  /** One level of indentation ("\t", "  ", ...), or null for a compact document. */
  indentUnit: string | null;
}

const decoder = new TextDecoder();

/** Looks at the first 1024 tokens (counts of quote characters and empty-element forms there). */
export function detectStyle(bytes: Uint8Array, table: TokenTable): DocumentStyle {
  const { kind, start, end, link, count } = table;
  let doubleQuotes = 0;
  let singleQuotes = 0;
  let emptyTags = 0;
  let explicitEmpty = 0;
  let indentUnit: string | null = null;
  // A libvirt domain settles every question within its first few hundred tokens.
  const limit = Math.min(count, 1024);
  for (let i = 0; i < limit; i++) {
    const k = kind[i];
    if (k === K_ATTRIBUTE) {
      if (bytes[end[i] - 1] === 0x27) singleQuotes++;
      else doubleQuotes++;
    } else if (k === K_EMPTY_TAG) {
      emptyTags++;
    } else if (k === K_START_TAG) {
      if (link[i] === nextAfterAttributes(table, i)) explicitEmpty++;
      if (indentUnit === null) {
        // The first child that is markup (element, comment, PI), after whitespace.
        const c = nextAfterAttributes(table, i);
        const child = c + 1;
        const ck = kind[child];
        if (c < count && kind[c] === K_TEXT && child < link[i] && (ck === K_START_TAG || ck === K_EMPTY_TAG || ck === K_COMMENT || ck === K_PI)) {
          const parentIndent = lineIndent(bytes, start[i], 0);
          const childIndent = lineIndent(bytes, start[child], 0);
          if (parentIndent !== null && childIndent !== null && childIndent.length > parentIndent.length && childIndent.startsWith(parentIndent)) {
            indentUnit = childIndent.slice(parentIndent.length);
          }
        }
      }
    }
  }
  let newline = "\n";
  const lf = bytes.indexOf(0x0a);
  if (lf > 0 && bytes[lf - 1] === 0x0d) newline = "\r\n";
  return { quote: singleQuotes > doubleQuotes ? 0x27 : 0x22, selfClosing: emptyTags >= explicitEmpty, newline, indentUnit };
}

/** The token after tag `tag`'s attributes. */
export function nextAfterAttributes(table: TokenTable, tag: number): number {
  let i = tag + 1;
  while (i < table.count && table.kind[i] === K_ATTRIBUTE) i++;
  return i;
}

/**
 * The indentation of the line `offset` stands on when only spaces and tabs precede it on that
 * line (offset `floor` counts as a line start), else null.
 */
export function lineIndent(bytes: Uint8Array, offset: number, floor: number): string | null {
  let p = offset;
  while (p > floor && (bytes[p - 1] === 0x20 || bytes[p - 1] === 0x09)) p--;
  if (p > floor && bytes[p - 1] !== 0x0a && bytes[p - 1] !== 0x0d) return null;
  return decoder.decode(bytes.subarray(p, offset));
}

/**
 * Where the line `offset` stands on starts, including the line break before it (so removing
 * [result, end) removes the whole line); -1 when something other than spaces and tabs precedes
 * `offset` on its line or there is no line break before it.
 */
export function lineBreakBefore(bytes: Uint8Array, offset: number, floor: number): number {
  let p = offset;
  while (p > floor && (bytes[p - 1] === 0x20 || bytes[p - 1] === 0x09)) p--;
  if (p <= floor) return -1;
  if (bytes[p - 1] === 0x0a) return p >= 2 && bytes[p - 2] === 0x0d ? p - 2 : p - 1;
  if (bytes[p - 1] === 0x0d) return p - 1;
  return -1;
}

/** Whether only spaces and tabs follow `offset` before the next line break (or `limit`). */
export function lineEndsAfter(bytes: Uint8Array, offset: number, limit: number): boolean {
  let p = offset;
  while (p < limit && (bytes[p] === 0x20 || bytes[p] === 0x09)) p++;
  return p >= limit || bytes[p] === 0x0a || bytes[p] === 0x0d;
}
