// A document's own style, so that what domsplice writes looks like what was already there:
// the attribute quote character, self-closing (`<x/>`, libvirt) versus explicit end tags
// (`<x></x>`, Go's xml.MarshalIndent in virt-launcher), line ends (LF or CRLF) and the indent
// unit (tabs or spaces, how many). A document without line breaks between elements is
// "compact": new elements go in without line breaks or indentation.

import type { TokenTable } from "./tokens.ts";
import { lentSingleQuotedAttributes } from "./wasm.ts";

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

/**
 * The style of the document in `bytes`: quote and empty-element form by majority over the
 * first 1024 tokens, the indent unit from the first element whose first child stands on its
 * own line, the line end from the first line break.
 *
 * Lazy, because it was the largest part of plan.apply on KubeVirt's 8 KB domain (~2.5 µs of
 * ~8 µs, counting every token): the indent unit and line end are found within the first few
 * tokens; the quote and the empty-element form are counted only when something written needs
 * them (a fragment with attributes or with <x/> in it, a new attribute, an element ensure
 * creates).
 */
export function detectStyle(bytes: Uint8Array, table: TokenTable): DocumentStyle {
  return new DetectedStyle(bytes, table);
}

const LIMIT = 1024;

class DetectedStyle implements DocumentStyle {
  readonly newline: string;
  readonly indentUnit: string | null;
  private quoteFound = 0;
  /** -1 not counted yet, else 0 / 1. */
  private selfClosingFound = -1;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly table: TokenTable,
  ) {
    const lf = bytes.indexOf(0x0a);
    this.newline = lf > 0 && bytes[lf - 1] === 0x0d ? "\r\n" : "\n";
    this.indentUnit = findIndentUnit(bytes, table);
  }

  get quote(): number {
    // No attribute single-quoted: the answer is " without counting. The WASM kernel counts
    // them as it scans, so a lent table (plan.apply's) answers at once; the count below was
    // ~1 µs on KubeVirt's 8 KB domain (727 tokens), and the earlier SIMD search of the whole
    // input for any ' ~0.3 µs there and ~34 µs at 1 MB.
    if (this.quoteFound === 0 && lentSingleQuotedAttributes(this.bytes) === 0) this.quoteFound = 0x22;
    if (this.quoteFound === 0) {
      const { kind, end, count } = this.table;
      const limit = Math.min(count, LIMIT);
      const bytes = this.bytes;
      // (Uint8Array.indexOf is no memchr: looking for any ' first cost 2.3 µs on 8 KB, more
      // than this loop.)
      let singleQuotes = 0;
      let doubleQuotes = 0;
      for (let i = 0; i < limit; i++) {
        if (kind[i] !== K_ATTRIBUTE) continue;
        if (bytes[end[i] - 1] === 0x27) singleQuotes++;
        else doubleQuotes++;
        // Settled when the tokens left could not make either count overtake the other.
        const left = limit - i - 1;
        if (doubleQuotes >= singleQuotes + left || singleQuotes > doubleQuotes + left) break;
      }
      this.quoteFound = singleQuotes > doubleQuotes ? 0x27 : 0x22;
    }
    return this.quoteFound;
  }

  get selfClosing(): boolean {
    if (this.selfClosingFound < 0) {
      const { kind, link, count } = this.table;
      const limit = Math.min(count, LIMIT);
      let emptyTags = 0;
      let explicitEmpty = 0;
      for (let i = 0; i < limit; i++) {
        const k = kind[i];
        if (k === K_EMPTY_TAG) emptyTags++;
        else if (k === K_START_TAG && link[i] === nextAfterAttributes(this.table, i)) explicitEmpty++;
      }
      this.selfClosingFound = emptyTags >= explicitEmpty ? 1 : 0;
    }
    return this.selfClosingFound === 1;
  }
}

/** The indent unit: child indentation minus parent indentation at the first element that shows it. */
function findIndentUnit(bytes: Uint8Array, table: TokenTable): string | null {
  const { kind, start, link, count } = table;
  const limit = Math.min(count, LIMIT);
  for (let i = 0; i < limit; i++) {
    if (kind[i] !== K_START_TAG) continue;
    // The first child that is markup (element, comment, PI), after whitespace.
    const c = nextAfterAttributes(table, i);
    const child = c + 1;
    const ck = kind[child];
    if (c < count && kind[c] === K_TEXT && child < link[i] && (ck === K_START_TAG || ck === K_EMPTY_TAG || ck === K_COMMENT || ck === K_PI)) {
      const parentStart = indentStart(bytes, start[i], 0);
      const childStart = indentStart(bytes, start[child], 0);
      const parentLength = start[i] - parentStart;
      const childLength = start[child] - childStart;
      if (parentStart >= 0 && childStart >= 0 && childLength > parentLength && sameBytes(bytes, parentStart, childStart, parentLength)) {
        return asciiText(bytes, childStart + parentLength, start[child]);
      }
    }
  }
  return null;
}

function sameBytes(bytes: Uint8Array, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

/**
 * Bytes [from, to) that are all ASCII (indentation: spaces and tabs) as a string, without
 * TextDecoder, whose fixed cost per call (~0.3 µs) dominated these few-byte reads.
 */
function asciiText(bytes: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += bytes[i] === 0x09 ? "\t" : " ";
  return text;
}

/** The token after tag `tag`'s attributes. */
export function nextAfterAttributes(table: TokenTable, tag: number): number {
  let i = tag + 1;
  while (i < table.count && table.kind[i] === 10 /* Attribute */) i++;
  return i;
}

/**
 * The indentation of the line `offset` stands on when only spaces and tabs precede it on that
 * line (offset `floor` counts as a line start), else null.
 */
export function lineIndent(bytes: Uint8Array, offset: number, floor: number): string | null {
  const from = indentStart(bytes, offset, floor);
  return from < 0 ? null : asciiText(bytes, from, offset);
}

/** Where the indentation before `offset` starts (see lineIndent), or -1. */
function indentStart(bytes: Uint8Array, offset: number, floor: number): number {
  let p = offset;
  while (p > floor && (bytes[p - 1] === 0x20 || bytes[p - 1] === 0x09)) p--;
  if (p > floor && bytes[p - 1] !== 0x0a && bytes[p - 1] !== 0x0d) return -1;
  return p;
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
