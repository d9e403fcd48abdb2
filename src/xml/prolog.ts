// The prolog: everything before the root element's '<'. A UTF-8 BOM, the XML declaration
// (only at the very start), comments, processing instructions, whitespace and at most one
// DOCTYPE (with its internal subset, parsed by dtd.ts). It appends their tokens to the token
// table and tells the body scanner where the root element starts.

import { TokenKind, type Limits, type TokenTableBuilder } from "./tokens.ts";
import { lineColumn, xmlError, type XmlError } from "./errors.ts";
import {
  PrologFailure,
  expected,
  isSpaceByte,
  nameEnd,
  parseComment,
  parseExternalId,
  parseInternalSubset,
  parsePI,
  requireName,
  requireSpace,
  skipSpace,
  startsWith,
  text,
  type DtdInfo,
} from "./dtd.ts";
import { transcodedFrom } from "./encoding.ts";

export type PrologResult = { bodyStart: number; dtd: DtdInfo | null } | XmlError;

/**
 * Scans the prolog of `bytes`; returns where the root element starts and what the DOCTYPE
 * declared, or the first well-formedness error.
 */
export function scanProlog(bytes: Uint8Array, table: TokenTableBuilder, limits: Limits): PrologResult {
  try {
    return parseProlog(bytes, table, limits);
  } catch (failure) {
    if (!(failure instanceof PrologFailure)) throw failure;
    return xmlError(bytes, failure.offset, failure.code, failure.message);
  }
}

function push(table: TokenTableBuilder, limits: Limits, kind: TokenKind, start: number, end: number, mid: number): void {
  if (table.count >= limits.maxTokens) {
    throw new PrologFailure(start, "too-many-tokens", `more than ${limits.maxTokens} tokens (limits.maxTokens)`);
  }
  table.push(kind, start, end, mid, -1);
}

function parseProlog(bytes: Uint8Array, table: TokenTableBuilder, limits: Limits): { bodyStart: number; dtd: DtdInfo | null } {
  const end = bytes.length;
  let p = 0;
  const hasBom = end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  if (hasBom) p = 3;
  let standalone = false;
  // `<?xml` not continued by a name character opens the XML declaration (`<?xml-model` is a PI).
  if (startsWith(bytes, p, end, "<?xml") && nameEnd(bytes, p + 2, end) === p + 5) {
    const declEnd = parseXmlDecl(bytes, p, end, hasBom);
    standalone = declEnd.standalone;
    push(table, limits, TokenKind.XmlDecl, p, declEnd.end, 0);
    p = declEnd.end;
  }
  let dtd: DtdInfo | null = null;
  while (true) {
    if (p >= end) throw new PrologFailure(end, "no-root-element", "no root element: the document ends before any element starts");
    const c = bytes[p];
    if (isSpaceByte(c)) {
      const spaceEnd = skipSpace(bytes, p, end);
      push(table, limits, TokenKind.Text, p, spaceEnd, 0);
      p = spaceEnd;
      continue;
    }
    if (c !== 0x3c) {
      throw expected(bytes, p, end, "markup before the root element (character data is only allowed inside it)", "content-before-root");
    }
    if (startsWith(bytes, p, end, "<!--")) {
      const next = parseComment(bytes, p, end);
      push(table, limits, TokenKind.Comment, p, next, 0);
      p = next;
    } else if (startsWith(bytes, p, end, "<?")) {
      const [targetEnd, next] = parsePI(bytes, p, end);
      push(table, limits, TokenKind.PI, p, next, targetEnd);
      p = next;
    } else if (startsWith(bytes, p, end, "<!DOCTYPE")) {
      if (dtd !== null) {
        const first = lineColumn(bytes, dtd.offset);
        throw new PrologFailure(p, "duplicate-doctype", `only one DOCTYPE is allowed (the first is at ${first.line}:${first.column})`);
      }
      const parsed = parseDoctype(bytes, p, end, standalone);
      dtd = parsed.dtd;
      push(table, limits, TokenKind.Doctype, p, parsed.end, parsed.nameEnd);
      p = parsed.end;
    } else if (p + 1 < end && bytes[p + 1] === 0x21) {
      throw new PrologFailure(p, "markup-not-allowed", "expected a comment, a DOCTYPE or the root element after '<!'");
    } else if (p + 1 < end && bytes[p + 1] === 0x2f) {
      throw new PrologFailure(p, "no-root-element", "end tag before any element was opened");
    } else {
      return { bodyStart: p, dtd };
    }
  }
}

/** `<!DOCTYPE Name (S ExternalID)? S? ('[' intSubset ']' S?)? '>'` at `i`. */
function parseDoctype(bytes: Uint8Array, i: number, end: number, standalone: boolean): { end: number; nameEnd: number; dtd: DtdInfo } {
  let p = requireSpace(bytes, i + 9, end, "after '<!DOCTYPE'");
  const nameStart = p;
  p = requireName(bytes, p, end, "the root element name after '<!DOCTYPE'");
  const nameEnd = p;
  const dtd: DtdInfo = {
    rootName: text(bytes, nameStart, nameEnd),
    offset: i,
    generalEntities: new Map(),
    parameterEntities: new Map(),
    hasExternalSubset: false,
    hasParameterEntityRefs: false,
    standalone,
    parsedParameterEntities: new Set(),
    defaultValueVerdicts: new Map(),
  };
  let q = skipSpace(bytes, p, end);
  if (q > p && (startsWith(bytes, q, end, "SYSTEM") || startsWith(bytes, q, end, "PUBLIC"))) {
    p = parseExternalId(bytes, q, end, false);
    dtd.hasExternalSubset = true;
    q = skipSpace(bytes, p, end);
  }
  p = q;
  if (p < end && bytes[p] === 0x5b) {
    p = parseInternalSubset(bytes, p + 1, end, dtd) + 1;
    p = skipSpace(bytes, p, end);
  }
  if (p >= end || bytes[p] !== 0x3e) {
    throw expected(bytes, p, end, dtd.hasExternalSubset ? "'[' or '>' in the DOCTYPE" : "SYSTEM, PUBLIC, '[' or '>' in the DOCTYPE");
  }
  return { end: p + 1, nameEnd, dtd };
}

/** Encodings the scanners read: the input is UTF-8 (UTF-16 has been transcoded by toUtf8). */
const UTF8_NAMES = new Set(["utf-8", "utf8"]);
const UTF16_NAMES = new Set(["utf-16", "utf-16le", "utf-16be", "ucs-2", "iso-10646-ucs-2", "unicode"]);
/** ASCII supersets: accepted while the document stays within ASCII (then it is also UTF-8). */
const ASCII_COMPATIBLE = /^(us-ascii|ascii|iso646-us|iso-646-us|ansi_x3\.4-1968|iso-8859-\d+|iso_8859-\d+|latin-?\d|windows-125\d|cp125\d|shift_jis|euc-jp|euc-kr|gb2312|gbk|big5|koi8-r|koi8-u)$/;

/**
 * `<?xml version="1.x" encoding="..." standalone="yes|no"?>` at `i`: version first and
 * required, then optional encoding and standalone in that order, each after whitespace.
 */
function parseXmlDecl(bytes: Uint8Array, i: number, end: number, hasBom: boolean): { end: number; standalone: boolean } {
  let p = i + 5;
  let standalone = false;
  let seen = 0; // 1 version, 2 encoding, 3 standalone
  let encodingName: string | null = null;
  let encodingAt = 0;
  while (true) {
    const spaceStart = p;
    p = skipSpace(bytes, p, end);
    if (startsWith(bytes, p, end, "?>")) {
      if (seen === 0) throw new PrologFailure(p, "bad-xml-declaration", "the XML declaration must start with version=\"1.0\"");
      p += 2;
      break;
    }
    if (p === spaceStart) throw expected(bytes, p, end, "whitespace or '?>' in the XML declaration", "expected-whitespace");
    const nameStart = p;
    const nameEnd = requireName(bytes, p, end, "version, encoding, standalone or '?>' in the XML declaration");
    const name = text(bytes, nameStart, nameEnd);
    p = skipSpace(bytes, nameEnd, end);
    if (p >= end || bytes[p] !== 0x3d) throw expected(bytes, p, end, `'=' after '${name}' in the XML declaration`, "expected-equals");
    p = skipSpace(bytes, p + 1, end);
    if (p >= end || (bytes[p] !== 0x22 && bytes[p] !== 0x27)) throw expected(bytes, p, end, `a quoted value for '${name}'`, "expected-quote");
    const quote = bytes[p];
    const valueStart = p + 1;
    let valueEnd = valueStart;
    while (valueEnd < end && bytes[valueEnd] !== quote && bytes[valueEnd] !== 0x3f && bytes[valueEnd] !== 0x3e && bytes[valueEnd] !== 0x3c) valueEnd++;
    if (valueEnd >= end) throw new PrologFailure(end, "unexpected-eof", "unexpected end of input inside the XML declaration");
    if (bytes[valueEnd] !== quote) throw expected(bytes, valueEnd, end, `the closing quote of '${name}'`, "expected-quote");
    const value = text(bytes, valueStart, valueEnd);
    if (name === "version") {
      if (seen !== 0) throw new PrologFailure(nameStart, "bad-xml-declaration", "version must come first in the XML declaration, and only once");
      if (!/^1\.[0-9]+$/.test(value)) throw new PrologFailure(valueStart, "bad-xml-declaration", `unsupported XML version '${value}' (expected 1.0)`);
      seen = 1;
    } else if (name === "encoding") {
      if (seen === 0) throw new PrologFailure(nameStart, "bad-xml-declaration", "the XML declaration must start with version=\"1.0\"");
      if (seen >= 2) throw new PrologFailure(nameStart, "bad-xml-declaration", "encoding must come before standalone in the XML declaration, and only once");
      if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(value)) throw new PrologFailure(valueStart, "bad-xml-declaration", `'${value}' is not a valid encoding name`);
      encodingName = value;
      encodingAt = valueStart;
      seen = 2;
    } else if (name === "standalone") {
      if (seen === 0) throw new PrologFailure(nameStart, "bad-xml-declaration", "the XML declaration must start with version=\"1.0\"");
      if (seen >= 3) throw new PrologFailure(nameStart, "bad-xml-declaration", "standalone may appear only once in the XML declaration");
      if (value !== "yes" && value !== "no") throw new PrologFailure(valueStart, "bad-xml-declaration", `standalone must be 'yes' or 'no', found '${value}'`);
      standalone = value === "yes";
      seen = 3;
    } else {
      throw new PrologFailure(nameStart, "bad-xml-declaration", `unknown '${name}' in the XML declaration (expected version, encoding or standalone)`);
    }
    p = valueEnd + 1;
  }
  checkEncoding(bytes, encodingName, encodingAt, hasBom, p);
  return { end: p, standalone };
}

/**
 * The declared encoding must match the bytes: UTF-8 input (with or without BOM) may declare
 * UTF-8 or, while it stays ASCII, an ASCII-compatible encoding; input transcoded from UTF-16
 * must declare UTF-16 (or nothing); a string the caller decoded (textToUtf8) may declare any.
 */
function checkEncoding(bytes: Uint8Array, name: string | null, at: number, hasBom: boolean, from: number): void {
  const source = transcodedFrom(bytes);
  if (name === null || source === "text") return;
  const lower = name.toLowerCase();
  if (source !== null) {
    if (!UTF16_NAMES.has(lower)) throw new PrologFailure(at, "encoding-mismatch", `the document is ${source.toUpperCase()} (byte order mark) but declares encoding '${name}'`);
    return;
  }
  if (UTF8_NAMES.has(lower)) return;
  if (UTF16_NAMES.has(lower)) {
    throw new PrologFailure(at, "encoding-mismatch", `the document declares encoding '${name}' but is not UTF-16 (no UTF-16 byte order mark)`);
  }
  if (hasBom) throw new PrologFailure(at, "encoding-mismatch", `the document starts with a UTF-8 byte order mark but declares encoding '${name}'`);
  if (ASCII_COMPATIBLE.test(lower)) {
    for (let p = from; p < bytes.length; p++) {
      if (bytes[p] >= 0x80) {
        throw new PrologFailure(p, "unsupported-encoding", `the document declares encoding '${name}' and has a non-ASCII byte here; only UTF-8 and UTF-16 are read (convert the document to UTF-8)`);
      }
    }
    return;
  }
  throw new PrologFailure(at, "unsupported-encoding", `encoding '${name}' is not supported; only UTF-8 and UTF-16 are read (convert the document to UTF-8)`);
}
