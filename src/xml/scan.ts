// The body scanner, TypeScript reference: from the root element's '<' to the end of the input it
// appends tokens to the token table (layout in tokens.ts) and judges well-formedness of
// everything but the prolog and the declared-ness of entities (those are prolog.ts / dtd.ts).
//
// It is written to be ported line by line to AssemblyScript (assembly/), so it uses only
// integer arithmetic over byte codes and offsets, typed arrays and plain module functions: no
// strings, no closures, no object per token. The run loops that skip ordinary bytes
// (skipTextRun, skipAttributeValueRun, skipCommentRun, skipPIRun, skipCDataRun) are kept small
// and separate so the port can replace them with SIMD.
//
// Errors are (code, offset, aux). The offset is the byte that makes the input ill-formed, and
// where several rules are broken the first one in document order wins, so both kernels must
// report the same triple. The rules that decide the offset:
//   - an unexpected byte is reported where it stands; if that byte is not valid UTF-8 or not
//     an XML Char the error is InvalidUtf8 / InvalidChar instead of the syntax error;
//   - end of input inside a construct is UnexpectedEof at the input length, aux = the
//     construct's first byte; end of input with elements open is UnclosedElement, aux = the
//     innermost open start tag;
//   - a malformed or invalid reference is reported at its '&';
//   - a mismatched end tag is reported at its '<' (aux = the open start tag);
//   - limits are checked when a token begins, at its first byte, after the placement checks
//     (ContentAfterRoot) and, for attributes, after the syntax checks of that same offset.

import { TokenKind, type TokenTableBuilder, type EntityRefList, type Limits } from "./tokens.ts";
import { ScanError } from "./errors.ts";
import {
  ASCII_CLASS,
  CharClass,
  decodeUtf8 as importedDecodeUtf8,
  isXmlChar as importedIsXmlChar,
  isNameStartChar as importedIsNameStartChar,
  isNameChar as importedIsNameChar,
} from "./chars.ts";

export interface ScanResult {
  error: ScanError;
  offset: number;
  aux: number;
}

const enum Byte {
  Tab = 0x09,
  LF = 0x0a,
  CR = 0x0d,
  Space = 0x20,
  Bang = 0x21,
  Quot = 0x22,
  Hash = 0x23,
  Amp = 0x26,
  Apos = 0x27,
  Minus = 0x2d,
  Slash = 0x2f,
  Digit0 = 0x30,
  Digit9 = 0x39,
  Semicolon = 0x3b,
  Lt = 0x3c,
  Eq = 0x3d,
  Gt = 0x3e,
  Question = 0x3f,
  UpperA = 0x41,
  UpperC = 0x43,
  UpperD = 0x44,
  UpperF = 0x46,
  UpperT = 0x54,
  LBracket = 0x5b,
  RBracket = 0x5d,
  LowerA = 0x61,
  LowerE = 0x65,
  LowerF = 0x66,
  LowerG = 0x67,
  LowerL = 0x6c,
  LowerM = 0x6d,
  LowerO = 0x6f,
  LowerP = 0x70,
  LowerQ = 0x71,
  LowerS = 0x73,
  LowerT = 0x74,
  LowerU = 0x75,
  LowerX = 0x78,
}

/**
 * Bits of BYTE_CLASS: which bytes end an ordinary run in each context, and which start or
 * continue an ASCII name (copied from chars.ts ASCII_CLASS).
 */
const enum Stop {
  Text = 1, // '<' '&' ']'
  AttrQuot = 2, // '"' '<' '&'
  AttrApos = 4, // '\'' '<' '&'
  Comment = 8, // '-'
  PI = 16, // '?'
  CData = 32, // ']'
  NameStart = 64, // [A-Za-z_:]
  Name = 128, // NameStart + [-.0-9]
  // Every context also stops on C0 controls other than tab/LF/CR and on bytes >= 0x80, which
  // need validating (InvalidChar / a UTF-8 decode).
}

function buildStopTable(): Uint8Array {
  const table = new Uint8Array(256);
  const all = Stop.Text | Stop.AttrQuot | Stop.AttrApos | Stop.Comment | Stop.PI | Stop.CData;
  for (let c = 0; c < 0x20; c++) {
    if (c !== Byte.Tab && c !== Byte.LF && c !== Byte.CR) table[c] = all;
  }
  for (let c = 0x80; c < 0x100; c++) table[c] = all;
  table[Byte.Lt] |= Stop.Text | Stop.AttrQuot | Stop.AttrApos;
  table[Byte.Amp] |= Stop.Text | Stop.AttrQuot | Stop.AttrApos;
  table[Byte.RBracket] |= Stop.Text | Stop.CData;
  table[Byte.Quot] |= Stop.AttrQuot;
  table[Byte.Apos] |= Stop.AttrApos;
  table[Byte.Minus] |= Stop.Comment;
  table[Byte.Question] |= Stop.PI;
  for (let c = 0; c < 0x80; c++) {
    if ((ASCII_CLASS[c] & CharClass.NameStart) !== 0) table[c] |= Stop.NameStart;
    if ((ASCII_CLASS[c] & CharClass.Name) !== 0) table[c] |= Stop.Name;
  }
  return table;
}

// One 256-entry table for every per-byte decision of the hot loops. Module-local on purpose:
// values imported from other modules may be reached through getters (tsx compiles to CommonJS
// with accessor exports), which costs more than the scan itself.
const BYTE_CLASS: Uint8Array = buildStopTable();
const STOP = BYTE_CLASS;

// The character-class functions, bound locally for the same reason.
const decodeUtf8 = importedDecodeUtf8;
const isXmlChar = importedIsXmlChar;
const isNameStartChar = importedIsNameStartChar;
const isNameChar = importedIsNameChar;

// Token kinds as module-local numbers, for the same reason.
const KIND_TEXT = TokenKind.Text;
const KIND_START_TAG = TokenKind.StartTag;
const KIND_EMPTY_TAG = TokenKind.EmptyTag;
const KIND_END_TAG = TokenKind.EndTag;
const KIND_ATTRIBUTE = TokenKind.Attribute;
const KIND_COMMENT = TokenKind.Comment;
const KIND_PI = TokenKind.PI;
const KIND_CDATA = TokenKind.CData;

// The error of the current scan. Module state (not an object per call) so that the construct
// scanners can return a plain offset, -1 meaning "failed, see failCode".
let failCode: number = ScanError.None;
let failOffset = 0;
let failAux = -1;

function fail(code: ScanError, offset: number, aux: number): number {
  failCode = code;
  failOffset = offset;
  failAux = aux;
  return -1;
}

/**
 * Fails at the unexpected byte `p` with `code`, unless the byte is itself invalid (then the
 * more precise InvalidUtf8 / InvalidChar) or the input ended (UnexpectedEof inside `construct`).
 */
function failAt(bytes: Uint8Array, p: number, n: number, code: ScanError, construct: number): number {
  if (p >= n) return fail(ScanError.UnexpectedEof, n, construct);
  const c = bytes[p];
  if (c < 0x80) {
    if ((ASCII_CLASS[c] & CharClass.Invalid) !== 0) return fail(ScanError.InvalidChar, p, -1);
    return fail(code, p, -1);
  }
  const decoded = decodeUtf8(bytes, p, n);
  if (decoded < 0) return fail(ScanError.InvalidUtf8, p, -1);
  if (!isXmlChar(decoded >> 3)) return fail(ScanError.InvalidChar, p, -1);
  return fail(code, p, -1);
}

/**
 * Validates the character at `p`, which a run loop stopped on because it is a control byte or
 * the lead of a multi-byte sequence; returns the offset after it, or -1.
 */
function skipSpecialChar(bytes: Uint8Array, p: number, n: number): number {
  if (bytes[p] < 0x80) return fail(ScanError.InvalidChar, p, -1);
  const decoded = decodeUtf8(bytes, p, n);
  if (decoded < 0) return fail(ScanError.InvalidUtf8, p, -1);
  if (!isXmlChar(decoded >> 3)) return fail(ScanError.InvalidChar, p, -1);
  return p + (decoded & 7);
}

// ---- fast-forward runs (SIMD candidates in the WASM port) ----

/** First offset >= i holding '<', '&', ']', a control byte or a byte >= 0x80 (or n). */
function skipTextRun(bytes: Uint8Array, i: number, n: number): number {
  while (i < n && (STOP[bytes[i]] & Stop.Text) === 0) i++;
  return i;
}

/** First offset >= i holding the closing quote (`stop` selects which), '<', '&' or a special byte. */
function skipAttributeValueRun(bytes: Uint8Array, i: number, n: number, stop: number): number {
  while (i < n && (STOP[bytes[i]] & stop) === 0) i++;
  return i;
}

/** First offset >= i holding '-' or a special byte. */
function skipCommentRun(bytes: Uint8Array, i: number, n: number): number {
  while (i < n && (STOP[bytes[i]] & Stop.Comment) === 0) i++;
  return i;
}

/** First offset >= i holding '?' or a special byte. */
function skipPIRun(bytes: Uint8Array, i: number, n: number): number {
  while (i < n && (STOP[bytes[i]] & Stop.PI) === 0) i++;
  return i;
}

/** First offset >= i holding ']' or a special byte. */
function skipCDataRun(bytes: Uint8Array, i: number, n: number): number {
  while (i < n && (STOP[bytes[i]] & Stop.CData) === 0) i++;
  return i;
}

/** First offset >= i that is not XML whitespace (or n). */
function skipSpace(bytes: Uint8Array, i: number, n: number): number {
  while (i < n) {
    const c = bytes[i];
    if (c !== Byte.Space && c !== Byte.LF && c !== Byte.Tab && c !== Byte.CR) break;
    i++;
  }
  return i;
}

/**
 * End of the XML Name starting at `i`, or `i` when no name starts there. Never fails: the name
 * simply stops at the first byte that cannot continue it (an invalid byte included), and the
 * caller judges what follows.
 */
function scanName(bytes: Uint8Array, i: number, n: number): number {
  if (i >= n) return i;
  let c = bytes[i];
  if (c < 0x80) {
    if ((BYTE_CLASS[c] & Stop.NameStart) === 0) return i;
    i++;
  } else {
    const decoded = decodeUtf8(bytes, i, n);
    if (decoded < 0 || !isNameStartChar(decoded >> 3)) return i;
    i += decoded & 7;
  }
  while (i < n) {
    c = bytes[i];
    if (c < 0x80) {
      if ((BYTE_CLASS[c] & Stop.Name) === 0) return i;
      i++;
    } else {
      const decoded = decodeUtf8(bytes, i, n);
      if (decoded < 0 || !isNameChar(decoded >> 3)) return i;
      i += decoded & 7;
    }
  }
  return i;
}

/** Whether bytes [a, a + length) equal bytes [b, b + length). */
function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) {
    if (bytes[a + k] !== bytes[b + k]) return false;
  }
  return true;
}

/** Whether [start, end) is one of lt, gt, amp, apos, quot. */
function isPredefinedEntity(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  const c0 = bytes[start];
  if (length === 2) {
    return (c0 === Byte.LowerL || c0 === Byte.LowerG) && bytes[start + 1] === Byte.LowerT;
  }
  if (length === 3) {
    return c0 === Byte.LowerA && bytes[start + 1] === Byte.LowerM && bytes[start + 2] === Byte.LowerP;
  }
  if (length === 4) {
    if (c0 === Byte.LowerA) {
      return bytes[start + 1] === Byte.LowerP && bytes[start + 2] === Byte.LowerO && bytes[start + 3] === Byte.LowerS;
    }
    if (c0 === Byte.LowerQ) {
      return bytes[start + 1] === Byte.LowerU && bytes[start + 2] === Byte.LowerO && bytes[start + 3] === Byte.LowerT;
    }
  }
  return false;
}

/** Value of a hexadecimal digit, or -1. */
function hexDigit(c: number): number {
  if (c >= Byte.Digit0 && c <= Byte.Digit9) return c - Byte.Digit0;
  if (c >= Byte.LowerA && c <= Byte.LowerF) return c - Byte.LowerA + 10;
  if (c >= Byte.UpperA && c <= Byte.UpperF) return c - Byte.UpperA + 10;
  return -1;
}

/**
 * A reference at `p` (its '&'): `&#n;`, `&#xh;` or `&name;`. Character references must denote
 * an XML Char; named ones other than the five predefined entities go to `refs` for the DTD
 * check. Returns the offset after the ';', or -1 (reported at the '&').
 */
function scanReference(bytes: Uint8Array, p: number, n: number, refs: EntityRefList, inAttribute: boolean): number {
  let j = p + 1;
  if (j < n && bytes[j] === Byte.Hash) {
    j++;
    let value = 0;
    let digits = 0;
    if (j < n && bytes[j] === Byte.LowerX) {
      j++;
      while (j < n) {
        const h = hexDigit(bytes[j]);
        if (h < 0) break;
        value = value * 16 + h;
        if (value > 0x10ffff) value = 0x110000; // saturate: stays out of range, never overflows
        digits++;
        j++;
      }
    } else {
      while (j < n) {
        const c = bytes[j];
        if (c < Byte.Digit0 || c > Byte.Digit9) break;
        value = value * 10 + (c - Byte.Digit0);
        if (value > 0x10ffff) value = 0x110000;
        digits++;
        j++;
      }
    }
    if (digits === 0 || j >= n || bytes[j] !== Byte.Semicolon) return fail(ScanError.BadReference, p, -1);
    if (!isXmlChar(value)) return fail(ScanError.InvalidCharRef, p, -1);
    return j + 1;
  }
  const nameEnd = scanName(bytes, j, n);
  if (nameEnd === j || nameEnd >= n || bytes[nameEnd] !== Byte.Semicolon) return fail(ScanError.BadReference, p, -1);
  if (!isPredefinedEntity(bytes, j, nameEnd)) refs.push(p, nameEnd + 1, inAttribute);
  return nameEnd + 1;
}

/** Character data inside the root element from `i` up to the next '<' or the end of input. */
function scanText(bytes: Uint8Array, i: number, n: number, refs: EntityRefList): number {
  while (true) {
    i = skipTextRun(bytes, i, n);
    if (i >= n) return n;
    const c = bytes[i];
    if (c === Byte.Lt) return i;
    if (c === Byte.Amp) {
      i = scanReference(bytes, i, n, refs, false);
      if (i < 0) return -1;
    } else if (c === Byte.RBracket) {
      if (i + 2 < n && bytes[i + 1] === Byte.RBracket && bytes[i + 2] === Byte.Gt) {
        return fail(ScanError.CDataEndInText, i, -1);
      }
      i++;
    } else {
      i = skipSpecialChar(bytes, i, n);
      if (i < 0) return -1;
    }
  }
}

/** Whitespace after the root element, up to the next '<' or the end; anything else is an error. */
function scanTrailingSpace(bytes: Uint8Array, i: number, n: number): number {
  const j = skipSpace(bytes, i, n);
  if (j < n && bytes[j] !== Byte.Lt) return failAt(bytes, j, n, ScanError.ContentAfterRoot, -1);
  return j;
}

/** An attribute value whose opening quote is at `q`; returns the offset after the closing quote. */
function scanAttributeValue(bytes: Uint8Array, q: number, n: number, refs: EntityRefList, tagStart: number): number {
  const quote = bytes[q];
  const stop = quote === Byte.Quot ? Stop.AttrQuot : Stop.AttrApos;
  let i = q + 1;
  while (true) {
    i = skipAttributeValueRun(bytes, i, n, stop);
    if (i >= n) return fail(ScanError.UnexpectedEof, n, tagStart);
    const c = bytes[i];
    if (c === quote) return i + 1;
    if (c === Byte.Lt) return fail(ScanError.LtInAttributeValue, i, -1);
    if (c === Byte.Amp) {
      i = scanReference(bytes, i, n, refs, true);
    } else {
      i = skipSpecialChar(bytes, i, n);
    }
    if (i < 0) return -1;
  }
}

/**
 * The start tag or empty-element tag at `i`, already pushed as token `tagIdx` (kind StartTag,
 * end 0). Fills in its end, name end and kind, and pushes its Attribute tokens after it.
 */
function scanStartTag(
  bytes: Uint8Array,
  i: number,
  n: number,
  table: TokenTableBuilder,
  refs: EntityRefList,
  tagIdx: number,
  maxTokens: number,
): number {
  const nameEnd = scanName(bytes, i + 1, n);
  if (nameEnd === i + 1) return failAt(bytes, i + 1, n, ScanError.ExpectedName, i);
  table.mid[tagIdx] = nameEnd;
  let j = nameEnd;
  while (true) {
    const spaceStart = j;
    j = skipSpace(bytes, j, n);
    if (j >= n) return fail(ScanError.UnexpectedEof, n, i);
    const c = bytes[j];
    if (c === Byte.Gt) {
      table.end[tagIdx] = j + 1;
      return j + 1;
    }
    if (c === Byte.Slash) {
      if (j + 1 >= n) return fail(ScanError.UnexpectedEof, n, i);
      if (bytes[j + 1] !== Byte.Gt) return failAt(bytes, j + 1, n, ScanError.ExpectedTagEnd, i);
      table.kind[tagIdx] = KIND_EMPTY_TAG;
      table.link[tagIdx] = tagIdx;
      table.end[tagIdx] = j + 2;
      return j + 2;
    }
    // An attribute: name S? '=' S? quoted value.
    const attrStart = j;
    const attrNameEnd = scanName(bytes, j, n);
    if (attrNameEnd === j) return failAt(bytes, j, n, ScanError.ExpectedTagEnd, i);
    if (j === spaceStart) return fail(ScanError.ExpectedWhitespace, j, -1);
    const nameLength = attrNameEnd - attrStart;
    for (let k = tagIdx + 1; k < table.count; k++) {
      const otherStart = table.start[k];
      if (table.mid[k] - otherStart === nameLength && sameBytes(bytes, otherStart, attrStart, nameLength)) {
        return fail(ScanError.DuplicateAttribute, attrStart, otherStart);
      }
    }
    if (table.count >= maxTokens) return fail(ScanError.TooManyTokens, attrStart, -1);
    j = skipSpace(bytes, attrNameEnd, n);
    if (j >= n) return fail(ScanError.UnexpectedEof, n, i);
    if (bytes[j] !== Byte.Eq) return failAt(bytes, j, n, ScanError.ExpectedEquals, i);
    j = skipSpace(bytes, j + 1, n);
    if (j >= n) return fail(ScanError.UnexpectedEof, n, i);
    const quote = bytes[j];
    if (quote !== Byte.Quot && quote !== Byte.Apos) return failAt(bytes, j, n, ScanError.ExpectedQuote, i);
    j = scanAttributeValue(bytes, j, n, refs, i);
    if (j < 0) return -1;
    table.push(KIND_ATTRIBUTE, attrStart, j, attrNameEnd, tagIdx);
  }
}

/** The end tag at `i`, which must close token `openIdx`; pushes it and links the pair. */
function scanEndTag(bytes: Uint8Array, i: number, n: number, table: TokenTableBuilder, openIdx: number): number {
  const nameStart = i + 2;
  const nameEnd = scanName(bytes, nameStart, n);
  if (nameEnd === nameStart) return failAt(bytes, nameStart, n, ScanError.ExpectedName, i);
  const openStart = table.start[openIdx];
  const openNameLength = table.mid[openIdx] - (openStart + 1);
  if (nameEnd - nameStart !== openNameLength || !sameBytes(bytes, openStart + 1, nameStart, openNameLength)) {
    return fail(ScanError.MismatchedEndTag, i, openStart);
  }
  const j = skipSpace(bytes, nameEnd, n);
  if (j >= n) return fail(ScanError.UnexpectedEof, n, i);
  if (bytes[j] !== Byte.Gt) return failAt(bytes, j, n, ScanError.ExpectedTagEnd, i);
  const endIdx = table.push(KIND_END_TAG, i, j + 1, nameEnd, openIdx);
  table.link[openIdx] = endIdx;
  return j + 1;
}

/** The comment whose `<!--` is at `i`. */
function scanComment(bytes: Uint8Array, i: number, n: number, table: TokenTableBuilder): number {
  let j = i + 4;
  while (true) {
    j = skipCommentRun(bytes, j, n);
    if (j >= n) return fail(ScanError.UnexpectedEof, n, i);
    if (bytes[j] === Byte.Minus) {
      if (j + 1 >= n) return fail(ScanError.UnexpectedEof, n, i);
      if (bytes[j + 1] !== Byte.Minus) {
        j++;
        continue;
      }
      if (j + 2 >= n) return fail(ScanError.UnexpectedEof, n, i);
      if (bytes[j + 2] !== Byte.Gt) return fail(ScanError.DoubleHyphenInComment, j, -1);
      table.push(KIND_COMMENT, i, j + 3, 0, -1);
      return j + 3;
    }
    j = skipSpecialChar(bytes, j, n);
    if (j < 0) return -1;
  }
}

/** The processing instruction whose `<?` is at `i`. */
function scanPI(bytes: Uint8Array, i: number, n: number, table: TokenTableBuilder): number {
  const targetStart = i + 2;
  const targetEnd = scanName(bytes, targetStart, n);
  if (targetEnd === targetStart) return failAt(bytes, targetStart, n, ScanError.ExpectedName, i);
  if (
    targetEnd - targetStart === 3 &&
    (bytes[targetStart] | 0x20) === Byte.LowerX &&
    (bytes[targetStart + 1] | 0x20) === Byte.LowerM &&
    (bytes[targetStart + 2] | 0x20) === Byte.LowerL
  ) {
    return fail(ScanError.ReservedPITarget, i, -1);
  }
  let j = targetEnd;
  if (j >= n) return fail(ScanError.UnexpectedEof, n, i);
  const c = bytes[j];
  if (c === Byte.Question) {
    if (j + 1 >= n) return fail(ScanError.UnexpectedEof, n, i);
    if (bytes[j + 1] !== Byte.Gt) return failAt(bytes, j, n, ScanError.ExpectedWhitespace, i);
    table.push(KIND_PI, i, j + 2, targetEnd, -1);
    return j + 2;
  }
  if (c !== Byte.Space && c !== Byte.LF && c !== Byte.Tab && c !== Byte.CR) {
    return failAt(bytes, j, n, ScanError.ExpectedWhitespace, i);
  }
  j++;
  while (true) {
    j = skipPIRun(bytes, j, n);
    if (j >= n) return fail(ScanError.UnexpectedEof, n, i);
    if (bytes[j] === Byte.Question) {
      if (j + 1 >= n) return fail(ScanError.UnexpectedEof, n, i);
      if (bytes[j + 1] === Byte.Gt) {
        table.push(KIND_PI, i, j + 2, targetEnd, -1);
        return j + 2;
      }
      j++;
      continue;
    }
    j = skipSpecialChar(bytes, j, n);
    if (j < 0) return -1;
  }
}

/** The CDATA section whose `<![CDATA[` is at `i`. */
function scanCData(bytes: Uint8Array, i: number, n: number, table: TokenTableBuilder): number {
  let j = i + 9;
  while (true) {
    j = skipCDataRun(bytes, j, n);
    if (j >= n) return fail(ScanError.UnexpectedEof, n, i);
    if (bytes[j] === Byte.RBracket) {
      if (j + 2 < n && bytes[j + 1] === Byte.RBracket && bytes[j + 2] === Byte.Gt) {
        table.push(KIND_CDATA, i, j + 3, 0, -1);
        return j + 3;
      }
      j++;
      continue;
    }
    j = skipSpecialChar(bytes, j, n);
    if (j < 0) return -1;
  }
}

/**
 * Whether `<![CDATA[` starts at `i` (whose first three bytes are known to be `<![`): 1 yes,
 * 0 no, -1 the input ends while the bytes still match.
 */
function matchCDataOpen(bytes: Uint8Array, i: number, n: number): number {
  // "CDATA[" after "<!["
  for (let k = 3; k < 9; k++) {
    if (i + k >= n) return -1;
    const c = bytes[i + k];
    let want = Byte.LBracket;
    if (k === 3) want = Byte.UpperC;
    else if (k === 4) want = Byte.UpperD;
    else if (k === 5) want = Byte.UpperA;
    else if (k === 6) want = Byte.UpperT;
    else if (k === 7) want = Byte.UpperA;
    if (c !== want) return 0;
  }
  return 1;
}

function result(code: number, offset: number, aux: number): ScanResult {
  return { error: code as ScanError, offset, aux };
}

/**
 * Scans from the root element's '<' at `from` to the end of `bytes`, appending tokens to
 * `table` and entity references to `refs`. Returns error None (offset = input length) or the
 * first error in document order.
 */
export function scanBody(
  bytes: Uint8Array,
  from: number,
  table: TokenTableBuilder,
  refs: EntityRefList,
  limits: Limits,
): ScanResult {
  const n = bytes.length;
  const maxTokens = limits.maxTokens;
  const maxDepth = limits.maxDepth;
  failCode = ScanError.None;
  failOffset = 0;
  failAux = -1;
  if (from + 1 >= n || bytes[from] !== Byte.Lt) return result(ScanError.NoRootElement, from, -1);
  const first = bytes[from + 1];
  if (first === Byte.Slash || first === Byte.Bang || first === Byte.Question) {
    return result(ScanError.NoRootElement, from, -1);
  }
  // Open start tags, innermost last. An open element needs at least 3 bytes (`<a>`), so the
  // input length bounds the stack as well as maxDepth does.
  const stack = new Int32Array(Math.min(maxDepth, Math.floor(n / 3) + 1) + 1);
  let depth = 0;
  let rootSeen = false;
  let i = from;
  while (true) {
    if (i >= n) {
      if (depth > 0) return result(ScanError.UnclosedElement, n, table.start[stack[depth - 1]]);
      break;
    }
    const c = bytes[i];
    if (c !== Byte.Lt) {
      if (table.count >= maxTokens) return result(ScanError.TooManyTokens, i, -1);
      const end = depth > 0 ? scanText(bytes, i, n, refs) : scanTrailingSpace(bytes, i, n);
      if (end < 0) break;
      table.push(KIND_TEXT, i, end, 0, -1);
      i = end;
      continue;
    }
    if (i + 1 >= n) return result(ScanError.UnexpectedEof, n, i);
    const c1 = bytes[i + 1];
    let next = 0;
    if (c1 === Byte.Slash) {
      if (depth === 0) return result(ScanError.ContentAfterRoot, i, -1);
      if (table.count >= maxTokens) return result(ScanError.TooManyTokens, i, -1);
      next = scanEndTag(bytes, i, n, table, stack[depth - 1]);
      if (next >= 0) depth--;
    } else if (c1 === Byte.Question) {
      if (table.count >= maxTokens) return result(ScanError.TooManyTokens, i, -1);
      next = scanPI(bytes, i, n, table);
    } else if (c1 === Byte.Bang) {
      if (i + 2 >= n) return result(ScanError.UnexpectedEof, n, i);
      const c2 = bytes[i + 2];
      if (c2 === Byte.Minus) {
        if (i + 3 >= n) return result(ScanError.UnexpectedEof, n, i);
        if (bytes[i + 3] !== Byte.Minus) return result(ScanError.MarkupNotAllowed, i, -1);
        if (table.count >= maxTokens) return result(ScanError.TooManyTokens, i, -1);
        next = scanComment(bytes, i, n, table);
      } else if (c2 === Byte.LBracket) {
        const match = matchCDataOpen(bytes, i, n);
        if (match < 0) return result(ScanError.UnexpectedEof, n, i);
        if (match === 0) return result(ScanError.MarkupNotAllowed, i, -1);
        if (depth === 0) return result(ScanError.ContentAfterRoot, i, -1);
        if (table.count >= maxTokens) return result(ScanError.TooManyTokens, i, -1);
        next = scanCData(bytes, i, n, table);
      } else {
        return result(ScanError.MarkupNotAllowed, i, -1);
      }
    } else {
      if (rootSeen && depth === 0) return result(ScanError.ContentAfterRoot, i, -1);
      if (table.count >= maxTokens) return result(ScanError.TooManyTokens, i, -1);
      if (depth >= maxDepth) return result(ScanError.TooDeep, i, -1);
      const tagIdx = table.push(KIND_START_TAG, i, 0, 0, -1);
      next = scanStartTag(bytes, i, n, table, refs, tagIdx, maxTokens);
      if (next >= 0) {
        if (!rootSeen) {
          rootSeen = true;
          table.root = tagIdx;
        }
        if (table.kind[tagIdx] === KIND_START_TAG) {
          stack[depth] = tagIdx;
          depth++;
        }
      }
    }
    if (next < 0) break;
    i = next;
  }
  if (failCode !== ScanError.None) return result(failCode, failOffset, failAux);
  return result(ScanError.None, n, -1);
}
