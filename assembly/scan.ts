// The WASM body kernel: a port of src/xml/scan.ts (the TypeScript reference) that produces the
// same tokens, entity references and (code, offset, aux) result, with the run loops that skip
// ordinary bytes replaced by 16-byte SIMD scans. Keep it in step with scan.ts: same order of
// checks, same offsets (test/wasm.test.ts compares both on the corpora and on fuzzed input).
//
// Memory (laid out by src/xml/wasm.ts): the input at INPUT (page 1) followed by at least 16
// bytes the SIMD loads may read past its end (those lanes are ignored); then the open-element
// stack (1 << STACK_ENTRY_SHIFT bytes per open element) and the token and reference arrays, at
// the addresses passed to scan(). Token indices are absolute (the prolog's tokens, `base` of
// them, come first in the caller's table), so the array pointers are biased by -base and
// indexed exactly like the reference's TokenTable.

import { INPUT, NAME_START, NAME, INVALID, asciiClass, byteAt, isXmlChar, isNameStartChar, isNameChar, decodeUtf8 } from "./chars";
import * as E from "./codes";

const K_COMMENT: i32 = 3;
const K_PI: i32 = 4;
const K_CDATA: i32 = 5;
const K_TEXT: i32 = 6;
const K_START: i32 = 7;
const K_EMPTY: i32 = 8;
const K_END: i32 = 9;
const K_ATTRIBUTE: i32 = 10;

/**
 * Set in scanStartTag's result when it read the element's end tag too (`<x ...></x>`): offsets
 * stay below 2^28 (the loader's WASM_KERNEL_MAX_BYTES is 256 MiB).
 */
const CLOSED_FLAG: i32 = 0x40000000;

const TAB: i32 = 0x09;
const LF: i32 = 0x0a;
const CR: i32 = 0x0d;
const SP: i32 = 0x20;
const BANG: i32 = 0x21;
const QUOT: i32 = 0x22;
const HASH: i32 = 0x23;
const AMP: i32 = 0x26;
const APOS: i32 = 0x27;
const MINUS: i32 = 0x2d;
const SLASH: i32 = 0x2f;
const D0: i32 = 0x30;
const D9: i32 = 0x39;
const SEMI: i32 = 0x3b;
const LT: i32 = 0x3c;
const EQ: i32 = 0x3d;
const GT: i32 = 0x3e;
const QUESTION: i32 = 0x3f;
const UA: i32 = 0x41;
const UC: i32 = 0x43;
const UD: i32 = 0x44;
const UF: i32 = 0x46;
const UT: i32 = 0x54;
const LBRACKET: i32 = 0x5b;
const RBRACKET: i32 = 0x5d;
const LA: i32 = 0x61;
const LE: i32 = 0x65;
const LF_: i32 = 0x66;
const LG: i32 = 0x67;
const LL: i32 = 0x6c;
const LM: i32 = 0x6d;
const LO: i32 = 0x6f;
const LP: i32 = 0x70;
const LQ: i32 = 0x71;
const LS: i32 = 0x73;
const LT_: i32 = 0x74;
const LU: i32 = 0x75;
const LX: i32 = 0x78;

/**
 * Bytes per open element on the stack at stackPtr (src/xml/wasm.ts sizes the area by it): its
 * start tag's token index, the offset of its name and the name's length, then 4 unused.
 */
const STACK_ENTRY_SHIFT: usize = 4;

// ---- result and table state (module globals, read back by the loader) ----

let failCode: i32 = 0;
let failOffset: i32 = 0;
let failAux: i32 = -1;

/** Absolute token count (base + tokens written). */
let count: i32 = 0;
/** min(maxTokens, base + token capacity): past it a push needs TooManyTokens or NeedRoom. */
let tokenLimit: i32 = 0;
let maxTokensLimit: i32 = 0;
let root: i32 = -1;
// Token arrays biased by -base: kindAt(k) = kindBase + k, etc.
let kindBase: usize = 0;
let startBase: usize = 0;
let endBase: usize = 0;
let midBase: usize = 0;
let linkBase: usize = 0;
// Entity references: stored while refCount < refCapacity, counted always.
let refCount: i32 = 0;
let refCapacity: i32 = 0;
let refStartPtr: usize = 0;
let refEndPtr: usize = 0;
let refAttrPtr: usize = 0;

export function resultOffset(): i32 {
  return failOffset;
}
export function resultAux(): i32 {
  return failAux;
}
export function tokenCount(): i32 {
  return count;
}
export function rootIndex(): i32 {
  return root;
}
export function refTotal(): i32 {
  return refCount;
}

/**
 * Attribute values of the last scan quoted with ' (counted whatever the result). Zero tells the
 * loader's caller (style.ts) that the document's quote is " without searching the input for
 * any ': that search was ~0.3 µs of an 8 KB patch and ~34 µs of a 1 MB one.
 */
let aposCount: i32 = 0;
export function aposAttributes(): i32 {
  return aposCount;
}

/**
 * Moves the token arrays of the last scan together, each `count` entries long, from `to` on:
 * kind, then (4-byte aligned) start, end, mid and link. Every array moves down or stays, so the
 * copies never overwrite entries still to be moved. The loader then copies the whole block out
 * with one ArrayBuffer.slice instead of allocating and filling five arrays. Returns its size.
 */
export function pack(to: usize): i32 {
  const n = <usize>count;
  memory.copy(to, kindBase, n);
  let at = (to + n + 3) & ~<usize>3;
  const words = n << 2;
  memory.copy(at, startBase, words);
  at += words;
  memory.copy(at, endBase, words);
  at += words;
  memory.copy(at, midBase, words);
  at += words;
  memory.copy(at, linkBase, words);
  return <i32>(at + words - to);
}

// @ts-ignore: decorator
@inline function tStart(k: i32): i32 {
  return load<i32>(startBase + (<usize>k << 2));
}
// @ts-ignore: decorator
@inline function tMid(k: i32): i32 {
  return load<i32>(midBase + (<usize>k << 2));
}
// @ts-ignore: decorator
@inline function tKind(k: i32): i32 {
  return <i32>load<u8>(kindBase + <usize>k);
}
// @ts-ignore: decorator
@inline function setKind(k: i32, v: i32): void {
  store<u8>(kindBase + <usize>k, <u8>v);
}
// @ts-ignore: decorator
@inline function setEnd(k: i32, v: i32): void {
  store<i32>(endBase + (<usize>k << 2), v);
}
// @ts-ignore: decorator
@inline function setMid(k: i32, v: i32): void {
  store<i32>(midBase + (<usize>k << 2), v);
}
// @ts-ignore: decorator
@inline function setLink(k: i32, v: i32): void {
  store<i32>(linkBase + (<usize>k << 2), v);
}

/** Appends a token (the caller has checked tokenLimit) and returns its index. */
// @ts-ignore: decorator
@inline function push(kind: i32, start: i32, end: i32, mid: i32, link: i32): i32 {
  const k = count;
  store<u8>(kindBase + <usize>k, <u8>kind);
  const o = <usize>k << 2;
  store<i32>(startBase + o, start);
  store<i32>(endBase + o, end);
  store<i32>(midBase + o, mid);
  store<i32>(linkBase + o, link);
  count = k + 1;
  return k;
}

function pushRef(start: i32, end: i32, inAttribute: bool): void {
  const i = refCount;
  if (i < refCapacity) {
    store<i32>(refStartPtr + (<usize>i << 2), start);
    store<i32>(refEndPtr + (<usize>i << 2), end);
    store<u8>(refAttrPtr + <usize>i, inAttribute ? 1 : 0);
  }
  refCount = i + 1;
}

function fail(code: i32, offset: i32, aux: i32): i32 {
  failCode = code;
  failOffset = offset;
  failAux = aux;
  return -1;
}

/** The token limit was hit at `offset`: the real limit, or only the loader's token area. */
function failTokens(offset: i32): i32 {
  return fail(count >= maxTokensLimit ? E.TooManyTokens : E.NeedRoom, offset, -1);
}

function failAt(p: i32, n: i32, code: i32, construct: i32): i32 {
  if (p >= n) return fail(E.UnexpectedEof, n, construct);
  const c = byteAt(p);
  if (c < 0x80) {
    if ((asciiClass(c) & INVALID) != 0) return fail(E.InvalidChar, p, -1);
    return fail(code, p, -1);
  }
  const decoded = decodeUtf8(p, n);
  if (decoded < 0) return fail(E.InvalidUtf8, p, -1);
  if (!isXmlChar(decoded >> 3)) return fail(E.InvalidChar, p, -1);
  return fail(code, p, -1);
}

// @ts-ignore: decorator
@inline function isSpaceByte(c: i32): bool {
  // Bits 0x20, 0x0d, 0x0a, 0x09 of one constant: a compare and a shift instead of four compares.
  return <u32>c <= 0x20 && ((<u64>0x100002600 >> <u64>c) & 1) != 0;
}

function skipSpecialChar(p: i32, n: i32): i32 {
  const c = byteAt(p);
  if (c < 0x80) return isSpaceByte(c) ? p + 1 : fail(E.InvalidChar, p, -1);
  const decoded = decodeUtf8(p, n);
  if (decoded < 0) return fail(E.InvalidUtf8, p, -1);
  if (!isXmlChar(decoded >> 3)) return fail(E.InvalidChar, p, -1);
  return p + (decoded & 7);
}


// SIMD constants as globals filled from memory at the start of each scan: V8 rebuilds a
// v128.const in registers at every use (three instructions each), a global is one load.
const SPLATS: usize = memory.data<u8>([
  0x3c, 0x26, 0x5d, 0x0a, 0x09, 0x0d, 0x20, 0x1f, 0x9a, 0x50, 0x8b, 0x53, 0x82, 0x5f, 0x22, 0x27,
  0x3d, 0x3e,
]);
let vLT: v128 = i64x2.splat(0);
let vQUOT: v128 = i64x2.splat(0);
let vAPOS: v128 = i64x2.splat(0);
let vAMP: v128 = i64x2.splat(0);
let vRBRACKET: v128 = i64x2.splat(0);
let vLF: v128 = i64x2.splat(0);
let vTAB: v128 = i64x2.splat(0);
let vCR: v128 = i64x2.splat(0);
let vSpace: v128 = i64x2.splat(0);
let vLetterBias: v128 = i64x2.splat(0);
let vLetterLimit: v128 = i64x2.splat(0);
let vDigitBias: v128 = i64x2.splat(0);
let vDigitLimit: v128 = i64x2.splat(0);
let vPunctBias: v128 = i64x2.splat(0);
let vPunctLimit: v128 = i64x2.splat(0);
let vUnderscore: v128 = i64x2.splat(0);
let vEQ: v128 = i64x2.splat(0);
let vGT: v128 = i64x2.splat(0);

// @ts-ignore: decorator
@inline function splatAt(k: i32): v128 {
  return i8x16.splat(load<i8>(SPLATS + <usize>k));
}

function initSplats(): void {
  vLT = splatAt(0);
  vAMP = splatAt(1);
  vRBRACKET = splatAt(2);
  vLF = splatAt(3);
  vTAB = splatAt(4);
  vCR = splatAt(5);
  vSpace = splatAt(6);
  vLetterBias = splatAt(7);
  vLetterLimit = splatAt(8);
  vDigitBias = splatAt(9);
  vDigitLimit = splatAt(10);
  vPunctBias = splatAt(11);
  vPunctLimit = splatAt(12);
  vUnderscore = splatAt(13);
  vQUOT = splatAt(14);
  vAPOS = splatAt(15);
  vEQ = splatAt(16);
  vGT = splatAt(17);
}

// ---- SIMD fast-forward runs ----
// Each loads 16 bytes at a time (the loader pads the input so loads past its end stay in
// memory) and returns the first offset whose byte stops the run, or n.

/** Lanes holding a byte every context stops on: C0 controls other than tab/LF/CR, and >= 0x80. */
// @ts-ignore: decorator
@inline function specialLanes(v: v128): v128 {
  // Signed < 0x20 catches both 0x00-0x1f and 0x80-0xff.
  const low = i8x16.lt_s(v, vSpace);
  const space = v128.or(v128.or(i8x16.eq(v, vLF), i8x16.eq(v, vTAB)), i8x16.eq(v, vCR));
  return v128.andnot(low, space);
}

// @ts-ignore: decorator
@inline function firstLane(i: i32, mask: i32, n: i32): i32 {
  const r = i + ctz(mask);
  return r < n ? r : n;
}

/** First offset >= i holding `stop` ('-' in comments, '?' in PIs, ']' in CDATA) or a special byte. */
function skipRunTo(i: i32, n: i32, stop: i32): i32 {
  const s = i8x16.splat(<i8>stop);
  while (i < n) {
    const v = v128.load(<usize>i, INPUT);
    const mask = i8x16.bitmask(v128.or(i8x16.eq(v, s), specialLanes(v)));
    if (mask != 0) return firstLane(i, mask, n);
    i += 16;
  }
  return n;
}

// @ts-ignore: decorator
@inline function skipSpace(i: i32, n: i32): i32 {
  while (i < n) {
    const c = byteAt(i);
    if (!isSpaceByte(c)) break;
    i++;
  }
  return i;
}

/** Bit k set when byte k of `v` is an ASCII name character: [A-Za-z] | [0-9:] | [-.] | '_'. */
// @ts-ignore: decorator
@inline function nameLanes(v: v128): i32 {
  // x - lo <u k, written as the signed (x + (0x80 - lo)) < (k - 0x80): SSE has no unsigned
  // byte compare, so V8 would emulate lt_u with three instructions.
  const letter = i8x16.lt_s(i8x16.add(v128.or(v, vSpace), vLetterBias), vLetterLimit);
  const digit = i8x16.lt_s(i8x16.add(v, vDigitBias), vDigitLimit);
  const punct = i8x16.lt_s(i8x16.add(v, vPunctBias), vPunctLimit);
  const under = i8x16.eq(v, vUnderscore);
  return i8x16.bitmask(v128.or(v128.or(letter, digit), v128.or(punct, under)));
}

/**
 * Bit k set when byte k of `v` is an ASCII letter or '_': the usual attribute name's bytes, half
 * the work of nameLanes. A name with other bytes (digits, '-', '.', ':') stops early at one, not
 * at its '=', and so takes the exact path.
 */
// @ts-ignore: decorator
@inline function letterLanes(v: v128): i32 {
  const letter = i8x16.lt_s(i8x16.add(v128.or(v, vSpace), vLetterBias), vLetterLimit);
  return i8x16.bitmask(v128.or(letter, i8x16.eq(v, vUnderscore)));
}

/**
 * End of the XML Name starting at `i`, or `i` when none starts there (never fails; the caller
 * judges what follows). ASCII name characters are consumed 16 at a time.
 */
// @ts-ignore: decorator
@inline function scanName(i: i32, n: i32): i32 {
  if (i >= n) return i;
  let c = byteAt(i);
  if (c < 0x80) {
    if ((asciiClass(c) & NAME_START) == 0) return i;
    i++;
  } else {
    const decoded = decodeUtf8(i, n);
    if (decoded < 0 || !isNameStartChar(decoded >> 3)) return i;
    i += decoded & 7;
  }
  while (i < n) {
    const v = v128.load(<usize>i, INPUT);
    const mask = ~nameLanes(v) & 0xffff;
    if (mask == 0) {
      // Lanes past the input end hold stale bytes: never step beyond n.
      i += 16;
      if (i >= n) return n;
      continue;
    }
    const lane = ctz(mask);
    i += lane;
    if (i >= n) return n;
    // The stop byte's sign bit from the vector already loaded, not a reload of the byte: the
    // load would sit on the critical path of every name.
    if (((i8x16.bitmask(v) >> lane) & 1) == 0) return i;
    break;
  }
  while (i < n) {
    c = byteAt(i);
    if (c < 0x80) {
      if ((asciiClass(c) & NAME) == 0) return i;
      i++;
    } else {
      const decoded = decodeUtf8(i, n);
      if (decoded < 0 || !isNameChar(decoded >> 3)) return i;
      i += decoded & 7;
    }
  }
  return i;
}

/**
 * scanName for a name that usually is letters and '_' ending inside 16 bytes at a ' ' or '>'
 * (tag names): one vector's letter lanes and those two bytes' lanes give the end, without the
 * class table lookup of the first byte, and in fewer steps after the load than nameLanes (the
 * start tag's work waits on them); anything else (a digit, '-', '.', ':' or a byte >= 0x80 in
 * the name, another byte after it) goes to scanName, which gives the same result. An ASCII
 * byte from 'A' on is a name character exactly when it is a letter or '_', and a name start
 * character then too.
 */
// @ts-ignore: decorator
@inline function scanLetterName(i: i32, n: i32): i32 {
  if (i + 16 <= n) {
    const c = byteAt(i);
    if (<u32>(c - UA) < <u32>(0x80 - UA)) {
      const v = v128.load(<usize>i, INPUT);
      const names = letterLanes(v);
      if ((names & 1) == 0) return i;
      const stop = ~names & (names + 1);
      if ((i8x16.bitmask(v128.or(i8x16.eq(v, vGT), i8x16.eq(v, vSpace))) & stop) != 0) return i + ctz(stop);
    }
  }
  return scanName(i, n);
}

/**
 * Whether input [a, a + length) equals [b, b + length). Compares 8 bytes at a time, the last
 * word masked or overlapping; both ranges lie inside the input, so reading up to 7 bytes past
 * them stays inside the loader's padding.
 */
// @ts-ignore: decorator
@inline function sameBytes(a: i32, b: i32, length: i32): bool {
  if (length <= 8) {
    if (length == 0) return true;
    const mask = <u64>-1 >> <u64>(64 - (length << 3));
    return ((load<u64>(<usize>a, INPUT) ^ load<u64>(<usize>b, INPUT)) & mask) == 0;
  }
  let k = 0;
  while (k + 8 < length) {
    if (load<u64>(<usize>(a + k), INPUT) != load<u64>(<usize>(b + k), INPUT)) return false;
    k += 8;
  }
  return load<u64>(<usize>(a + length - 8), INPUT) == load<u64>(<usize>(b + length - 8), INPUT);
}

/**
 * Whether input [b, b + length) equals [a, a + length) and a '>' follows it, for a length below
 * 16, from one vector at each place (the caller has checked that b + length is inside the input;
 * lanes past it are ignored).
 */
// @ts-ignore: decorator
@inline function sameNameThenGT(a: i32, b: i32, length: i32): bool {
  const lengthBit = 1 << length;
  const v = v128.load(<usize>b, INPUT);
  const same = i8x16.bitmask(i8x16.eq(v128.load(<usize>a, INPUT), v)) | -lengthBit;
  return (same & 0xffff) == 0xffff && (i8x16.bitmask(i8x16.eq(v, vGT)) & lengthBit) != 0;
}

function isPredefinedEntity(start: i32, end: i32): bool {
  const length = end - start;
  const c0 = byteAt(start);
  if (length == 2) return (c0 == LL || c0 == LG) && byteAt(start + 1) == LT_;
  if (length == 3) return c0 == LA && byteAt(start + 1) == LM && byteAt(start + 2) == LP;
  if (length == 4) {
    if (c0 == LA) return byteAt(start + 1) == LP && byteAt(start + 2) == LO && byteAt(start + 3) == LS;
    if (c0 == LQ) return byteAt(start + 1) == LU && byteAt(start + 2) == LO && byteAt(start + 3) == LT_;
  }
  return false;
}

function hexDigit(c: i32): i32 {
  if (c >= D0 && c <= D9) return c - D0;
  if (c >= LA && c <= LF_) return c - LA + 10;
  if (c >= UA && c <= UF) return c - UA + 10;
  return -1;
}

function scanReference(p: i32, n: i32, inAttribute: bool): i32 {
  let j = p + 1;
  if (j < n && byteAt(j) == HASH) {
    j++;
    let value = 0;
    let digits = 0;
    if (j < n && byteAt(j) == LX) {
      j++;
      while (j < n) {
        const h = hexDigit(byteAt(j));
        if (h < 0) break;
        value = value * 16 + h;
        if (value > 0x10ffff) value = 0x110000;
        digits++;
        j++;
      }
    } else {
      while (j < n) {
        const c = byteAt(j);
        if (c < D0 || c > D9) break;
        value = value * 10 + (c - D0);
        if (value > 0x10ffff) value = 0x110000;
        digits++;
        j++;
      }
    }
    if (digits == 0 || j >= n || byteAt(j) != SEMI) return fail(E.BadReference, p, -1);
    if (!isXmlChar(value)) return fail(E.InvalidCharRef, p, -1);
    return j + 1;
  }
  const nameEnd = scanName(j, n);
  if (nameEnd == j || nameEnd >= n || byteAt(nameEnd) != SEMI) return fail(E.BadReference, p, -1);
  if (!isPredefinedEntity(j, nameEnd)) pushRef(p, nameEnd + 1, inAttribute);
  return nameEnd + 1;
}

// @ts-ignore: decorator
@inline function scanText(i: i32, n: i32): i32 {
  while (true) {
    // skipTextRun inlined, with '<' (the usual stop) told apart by its own mask instead of
    // reloading the byte at the stop.
    while (i < n) {
      const v = v128.load(<usize>i, INPUT);
      const lt = i8x16.bitmask(i8x16.eq(v, vLT));
      // Control bytes other than LF stop the run, tab and CR too (skipSpecialChar steps over them).
      const other = i8x16.bitmask(v128.or(
        i8x16.eq(v, vAMP),
        v128.or(i8x16.eq(v, vRBRACKET), v128.andnot(i8x16.lt_s(v, vSpace), i8x16.eq(v, vLF))),
      ));
      const all = lt | other;
      if (all != 0) {
        const at = i + ctz(all);
        if (at >= n) return n;
        if ((lt & (all & -all)) != 0) return at;
        i = at;
        break;
      }
      i += 16;
    }
    if (i >= n) return n;
    const c = byteAt(i);
    if (c == AMP) {
      i = scanReference(i, n, false);
      if (i < 0) return -1;
    } else if (c == RBRACKET) {
      if (i + 2 < n && byteAt(i + 1) == RBRACKET && byteAt(i + 2) == GT) return fail(E.CDataEndInText, i, -1);
      i++;
    } else {
      i = skipSpecialChar(i, n);
      if (i < 0) return -1;
    }
  }
  return -1;
}

function scanTrailingSpace(i: i32, n: i32): i32 {
  const j = skipSpace(i, n);
  if (j < n && byteAt(j) != LT) return failAt(j, n, E.ContentAfterRoot, -1);
  return j;
}

// @ts-ignore: decorator
@inline function scanAttributeValue(q: i32, n: i32, tagStart: i32): i32 {
  return scanAttributeValueFrom(byteAt(q), q + 1, n, tagStart);
}

/** The rest of an attribute value quoted with `quote`, from `i` (the bytes before it are ordinary). */
// @ts-ignore: decorator
@inline function scanAttributeValueFrom(quote: i32, i: i32, n: i32, tagStart: i32): i32 {
  const vq = quote == QUOT ? vQUOT : vAPOS;
  while (true) {
    // skipAttributeValueRun inlined, with the closing quote (the usual stop) told apart by
    // its own mask instead of reloading the byte at the stop.
    while (i < n) {
      const v = v128.load(<usize>i, INPUT);
      const close = i8x16.bitmask(i8x16.eq(v, vq));
      // Every control byte stops the run, tab, LF and CR too (skipSpecialChar steps over them).
      const other = i8x16.bitmask(v128.or(
        v128.or(i8x16.eq(v, vLT), i8x16.eq(v, vAMP)),
        i8x16.lt_s(v, vSpace),
      ));
      const all = close | other;
      if (all != 0) {
        const at = i + ctz(all);
        if (at >= n) return fail(E.UnexpectedEof, n, tagStart);
        if ((close & (all & -all)) != 0) return at + 1;
        i = at;
        break;
      }
      i += 16;
    }
    if (i >= n) return fail(E.UnexpectedEof, n, tagStart);
    const c = byteAt(i);
    if (c == quote) return i + 1;
    if (c == LT) return fail(E.LtInAttributeValue, i, -1);
    if (c == AMP) {
      i = scanReference(i, n, true);
    } else {
      i = skipSpecialChar(i, n);
    }
    if (i < 0) return -1;
  }
  return -1;
}

// @ts-ignore: decorator
@inline function scanStartTag(i: i32, n: i32, tagIdx: i32): i32 {
  const nameEnd = scanLetterName(i + 1, n);
  if (nameEnd == i + 1) return failAt(i + 1, n, E.ExpectedName, i);
  setMid(tagIdx, nameEnd);
  let j = nameEnd;
  let seen: u64 = 0;
  while (true) {
    const spaceStart = j;
    if (j >= n) return fail(E.UnexpectedEof, n, i);
    let c = byteAt(j);
    // The tag's end right after its name or last attribute (every start tag ends so once)
    // costs a compare, not a round of skipSpace.
    if (c <= SP) {
      j = skipSpace(j, n);
      if (j >= n) return fail(E.UnexpectedEof, n, i);
      c = byteAt(j);
    }
    if (c == GT) {
      setEnd(tagIdx, j + 1);
      // `<x ...></x>`, how libvirt writes an element without content (12,456 of the 16,976
      // end tags of the 1 MB bench input): its end tag read here, as scanEndTag's first path
      // would (the same token), without a round of the main loop and the open-element stack.
      // Anything else is left to the main loop.
      const e = j + 1;
      const nameLength = nameEnd - (i + 1);
      const endNameEnd = e + 2 + nameLength;
      if (nameLength < 16 && endNameEnd < n && byteAt(e) == LT && byteAt(e + 1) == SLASH && count < tokenLimit) {
        if (sameNameThenGT(i + 1, e + 2, nameLength)) {
          setLink(tagIdx, push(K_END, e, endNameEnd + 1, endNameEnd, tagIdx));
          return (endNameEnd + 1) | CLOSED_FLAG;
        }
      }
      return e;
    }
    if (c == SLASH) {
      if (j + 1 >= n) return fail(E.UnexpectedEof, n, i);
      if (byteAt(j + 1) != GT) return failAt(j + 1, n, E.ExpectedTagEnd, i);
      setKind(tagIdx, K_EMPTY);
      setLink(tagIdx, tagIdx);
      setEnd(tagIdx, j + 2);
      return j + 2;
    }
    const attrStart = j;
    let attrNameEnd = 0;
    // The usual attribute, `name="value"` starting a 16-byte window, read from one vector:
    // where the name ends, that '=' and a quote follow at once, and where the value closes or
    // that nothing in the rest of the window stops it. Names of letters and '_' only (what
    // libvirt writes): testing those lanes is half the work of nameLanes, and a name with
    // another byte stops at it, not at a '=', so it takes the exact path. Anything else (or any
    // doubt) takes the byte-by-byte path below, which gives the same offsets. `valueEnd` is the offset after
    // the closing quote when the value closes inside the window; `valueFrom` is the window's
    // end when the value runs on past it with nothing to stop at before (its scan resumes
    // there); both 0 otherwise.
    //
    // The closing quote is found as the second bit of the quote's mask (the name holds no
    // quote, and lane p is '='), not from a shift by the name's length p: then the next
    // attribute's offset hangs on a compare, a movemask and a tzcnt after the load, not on
    // the name classification, its tzcnt, a reload of the quote byte and a second tzcnt
    // (~35 cycles of dependent latency per attribute; bench inputs: 31,736 attributes in 1 MB).
    let valueEnd = 0;
    let valueFrom = 0;
    let valueQuote = 0;
    // `c` from 'A' on: a letter or '_' takes the window, and so may any other byte there (a
    // lane that is no letter stops the name at once, and the exact path judges it), which
    // spares the class table lookup of `c` before the vector load.
    if (j + 16 <= n && c >= UA) {
      const v = v128.load(<usize>j, INPUT);
      const names = letterLanes(v);
      // The lowest lane that is not a name byte, as a bit (1 << 16 when all 16 are): lane
      // tests below are ANDs with it and with its neighbour, no shift by a lane number.
      const stopBit = ~names & (names + 1);
      const dq = i8x16.bitmask(i8x16.eq(v, vQUOT));
      // Bytes that may stop a value, more than the exact set: every byte below 0x20 or from
      // 0x80 on (signed < 0x20), tab, LF and CR included. A value holding one before its
      // closing quote takes the exact path below.
      const other = i8x16.bitmask(v128.or(
        v128.or(i8x16.eq(v, vLT), i8x16.eq(v, vAMP)),
        i8x16.lt_s(v, vSpace),
      ));
      if ((i8x16.bitmask(i8x16.eq(v, vEQ)) & stopBit) != 0) {
        // Lanes below the stop are name bytes, the stop is '=': a quote after it is its mask's
        // lowest bit (lane 16, past the window, is in no mask).
        attrNameEnd = j + ctz(stopBit);
        const open = stopBit << 1;
        let quotes = 0;
        if ((dq & open) != 0) {
          quotes = dq;
          valueQuote = QUOT;
        } else {
          const sq = i8x16.bitmask(i8x16.eq(v, vAPOS));
          if ((sq & open) != 0) {
            quotes = sq;
            valueQuote = APOS;
          }
        }
        if (quotes != 0) {
          const close = quotes & (quotes - 1);
          if (close != 0) {
            // Nothing before the closing quote may stop the value ('<', '&', special bytes);
            // lanes up to the opening quote hold none.
            if ((other & ((close & -close) - 1)) == 0) valueEnd = j + ctz(close) + 1;
          } else if (other == 0) {
            valueFrom = j + 16;
          }
        }
      }
    }
    if (attrNameEnd == 0) attrNameEnd = scanName(j, n);
    if (attrNameEnd == j) return failAt(j, n, E.ExpectedTagEnd, i);
    if (j == spaceStart) return fail(E.ExpectedWhitespace, j, -1);
    const nameLength = attrNameEnd - attrStart;
    // Duplicates: equal names have equal (length, first byte), so an attribute whose bit for
    // those in this tag's 64-bit set is still clear repeats no earlier one, and only a set bit
    // (a duplicate, or two names alike in both) costs the compare loop over the tag's earlier
    // attributes (1 MB bench input: the loop was ~30-40 µs of ~740). The first byte is `c`,
    // already in a register; hashing the last byte too (a load that waits for the name's end)
    // cost ~1% of the scan for fewer false alarms (corpora: 78 in 20,252 attributes, not 23).
    const bit = <u64>1 << <u64>((nameLength * 5 + c) & 63);
    if ((seen & bit) != 0) {
      for (let k = tagIdx + 1; k < count; k++) {
        const otherStart = tStart(k);
        if (tMid(k) - otherStart == nameLength && sameBytes(otherStart, attrStart, nameLength)) {
          return fail(E.DuplicateAttribute, attrStart, otherStart);
        }
      }
    }
    seen |= bit;
    if (count >= tokenLimit) return failTokens(attrStart);
    if (valueEnd != 0) {
      // A branch, not an add: the usual " costs no read and write of the global.
      if (valueQuote == APOS) aposCount++;
      push(K_ATTRIBUTE, attrStart, valueEnd, attrNameEnd, tagIdx);
      j = valueEnd;
      continue;
    }
    if (valueFrom != 0) {
      if (valueQuote == APOS) aposCount++;
      j = scanAttributeValueFrom(valueQuote, valueFrom, n, i);
      if (j < 0) return -1;
      push(K_ATTRIBUTE, attrStart, j, attrNameEnd, tagIdx);
      continue;
    }
    j = skipSpace(attrNameEnd, n);
    if (j >= n) return fail(E.UnexpectedEof, n, i);
    if (byteAt(j) != EQ) return failAt(j, n, E.ExpectedEquals, i);
    j = skipSpace(j + 1, n);
    if (j >= n) return fail(E.UnexpectedEof, n, i);
    const quote = byteAt(j);
    if (quote != QUOT && quote != APOS) return failAt(j, n, E.ExpectedQuote, i);
    aposCount += <i32>(quote == APOS);
    j = scanAttributeValue(j, n, i);
    if (j < 0) return -1;
    push(K_ATTRIBUTE, attrStart, j, attrNameEnd, tagIdx);
  }
  return -1;
}

// @ts-ignore: decorator
@inline function scanEndTag(i: i32, n: i32, open: usize): i32 {
  // The open element's stack entry: its token, name offset and name length side by side, so
  // that all three are one load away (not the token's start and mid, loads that wait for the
  // token index).
  const openIdx = load<i32>(open);
  const openStart = load<i32>(open, 4) - 1;
  const openNameLength = load<i32>(open, 8);
  const nameStart = i + 2;
  let nameEnd = nameStart + openNameLength;
  // The most usual case of all: the open element's name and '>' at once (every end tag of the
  // bench inputs). scanName would stop at that '>' too, and skipSpace would not move.
  // Names shorter than 16 bytes (all but a few): both names and the '>' from one vector
  // compare each, without sameBytes's branch on the length (names of up to 8 bytes and longer
  // ones alternate in libvirt XML: <interface>, <controller> among <disk>, <source>).
  if (openNameLength < 16 && nameEnd < n) {
    if (sameNameThenGT(openStart + 1, nameStart, openNameLength)) {
      const endIdx = push(K_END, i, nameEnd + 1, nameEnd, openIdx);
      setLink(openIdx, endIdx);
      return nameEnd + 1;
    }
  } else if (nameEnd < n && byteAt(nameEnd) == GT && sameBytes(openStart + 1, nameStart, openNameLength)) {
    const endIdx = push(K_END, i, nameEnd + 1, nameEnd, openIdx);
    setLink(openIdx, endIdx);
    return nameEnd + 1;
  }
  // The usual case: the open element's name (a valid Name) followed by an ASCII byte that
  // cannot continue a name; then scanName would stop exactly there and the names match.
  if (
    nameEnd >= n ||
    byteAt(nameEnd) >= 0x80 ||
    (asciiClass(byteAt(nameEnd)) & NAME) != 0 ||
    !sameBytes(openStart + 1, nameStart, openNameLength)
  ) {
    nameEnd = scanName(nameStart, n);
    if (nameEnd == nameStart) return failAt(nameStart, n, E.ExpectedName, i);
    if (nameEnd - nameStart != openNameLength || !sameBytes(openStart + 1, nameStart, openNameLength)) {
      return fail(E.MismatchedEndTag, i, openStart);
    }
  }
  const j = skipSpace(nameEnd, n);
  if (j >= n) return fail(E.UnexpectedEof, n, i);
  if (byteAt(j) != GT) return failAt(j, n, E.ExpectedTagEnd, i);
  const endIdx = push(K_END, i, j + 1, nameEnd, openIdx);
  setLink(openIdx, endIdx);
  return j + 1;
}

function scanComment(i: i32, n: i32): i32 {
  let j = i + 4;
  while (true) {
    j = skipRunTo(j, n, MINUS);
    if (j >= n) return fail(E.UnexpectedEof, n, i);
    if (byteAt(j) == MINUS) {
      if (j + 1 >= n) return fail(E.UnexpectedEof, n, i);
      if (byteAt(j + 1) != MINUS) {
        j++;
        continue;
      }
      if (j + 2 >= n) return fail(E.UnexpectedEof, n, i);
      if (byteAt(j + 2) != GT) return fail(E.DoubleHyphenInComment, j, -1);
      push(K_COMMENT, i, j + 3, 0, -1);
      return j + 3;
    }
    j = skipSpecialChar(j, n);
    if (j < 0) return -1;
  }
  return -1;
}

function scanPI(i: i32, n: i32): i32 {
  const targetStart = i + 2;
  const targetEnd = scanName(targetStart, n);
  if (targetEnd == targetStart) return failAt(targetStart, n, E.ExpectedName, i);
  if (
    targetEnd - targetStart == 3 &&
    (byteAt(targetStart) | 0x20) == LX &&
    (byteAt(targetStart + 1) | 0x20) == LM &&
    (byteAt(targetStart + 2) | 0x20) == LL
  ) {
    return fail(E.ReservedPITarget, i, -1);
  }
  let j = targetEnd;
  if (j >= n) return fail(E.UnexpectedEof, n, i);
  const c = byteAt(j);
  if (c == QUESTION) {
    if (j + 1 >= n) return fail(E.UnexpectedEof, n, i);
    if (byteAt(j + 1) != GT) return failAt(j, n, E.ExpectedWhitespace, i);
    push(K_PI, i, j + 2, targetEnd, -1);
    return j + 2;
  }
  if (!isSpaceByte(c)) return failAt(j, n, E.ExpectedWhitespace, i);
  j++;
  while (true) {
    j = skipRunTo(j, n, QUESTION);
    if (j >= n) return fail(E.UnexpectedEof, n, i);
    if (byteAt(j) == QUESTION) {
      if (j + 1 >= n) return fail(E.UnexpectedEof, n, i);
      if (byteAt(j + 1) == GT) {
        push(K_PI, i, j + 2, targetEnd, -1);
        return j + 2;
      }
      j++;
      continue;
    }
    j = skipSpecialChar(j, n);
    if (j < 0) return -1;
  }
  return -1;
}

function scanCData(i: i32, n: i32): i32 {
  let j = i + 9;
  while (true) {
    j = skipRunTo(j, n, RBRACKET);
    if (j >= n) return fail(E.UnexpectedEof, n, i);
    if (byteAt(j) == RBRACKET) {
      if (j + 2 < n && byteAt(j + 1) == RBRACKET && byteAt(j + 2) == GT) {
        push(K_CDATA, i, j + 3, 0, -1);
        return j + 3;
      }
      j++;
      continue;
    }
    j = skipSpecialChar(j, n);
    if (j < 0) return -1;
  }
  return -1;
}

function matchCDataOpen(i: i32, n: i32): i32 {
  for (let k = 3; k < 9; k++) {
    if (i + k >= n) return -1;
    const c = byteAt(i + k);
    let want = LBRACKET;
    if (k == 3) want = UC;
    else if (k == 4) want = UD;
    else if (k == 5) want = UA;
    else if (k == 6) want = UT;
    else if (k == 7) want = UA;
    if (c != want) return 0;
  }
  return 1;
}

function result(code: i32, offset: i32, aux: i32): i32 {
  failCode = code;
  failOffset = offset;
  failAux = aux;
  return code;
}

/**
 * Scans input [from, n) (the input sits at INPUT) from the root element's '<'. Tokens go to
 * the arrays at kindPtr/startPtr/endPtr/midPtr/linkPtr (room for tokenCapacity tokens, the
 * first at absolute index `base`); entity references to refStart/refEnd/refAttr (room for
 * refCap; refTotal() counts all, so the loader can retry with more). Returns the ScanError
 * code; resultOffset(), resultAux(), tokenCount(), rootIndex() give the rest.
 */
export function scan(
  n: i32,
  from: i32,
  maxDepth: i32,
  maxTokens: i32,
  base: i32,
  stackPtr: usize,
  tokenCapacity: i32,
  kindPtr: usize,
  startPtr: usize,
  endPtr: usize,
  midPtr: usize,
  linkPtr: usize,
  refCap: i32,
  refStart: usize,
  refEnd: usize,
  refAttr: usize,
): i32 {
  initSplats();
  failCode = E.None;
  failOffset = 0;
  failAux = -1;
  count = base;
  root = -1;
  maxTokensLimit = maxTokens;
  tokenLimit = base + tokenCapacity < maxTokens ? base + tokenCapacity : maxTokens;
  const b = <usize>base;
  kindBase = kindPtr - b;
  startBase = startPtr - (b << 2);
  endBase = endPtr - (b << 2);
  midBase = midPtr - (b << 2);
  linkBase = linkPtr - (b << 2);
  refCount = 0;
  aposCount = 0;
  refCapacity = refCap;
  refStartPtr = refStart;
  refEndPtr = refEnd;
  refAttrPtr = refAttr;

  if (from + 1 >= n || byteAt(from) != LT) return result(E.NoRootElement, from, -1);
  const first = byteAt(from + 1);
  if (first == SLASH || first == BANG || first == QUESTION) return result(E.NoRootElement, from, -1);
  let depth = 0;
  let rootSeen = false;
  let i = from;
  while (true) {
    if (i >= n) {
      if (depth > 0) return result(E.UnclosedElement, n, tStart(load<i32>(stackPtr + (<usize>(depth - 1) << STACK_ENTRY_SHIFT))));
      break;
    }
    const c = byteAt(i);
    if (c != LT) {
      if (count >= tokenLimit) {
        failTokens(i);
        break;
      }
      // The usual text, indentation (spaces and line feeds) up to a '<' inside 16 bytes, from
      // one vector at any depth (after the root, scanTrailingSpace would accept it too).
      const v = v128.load(<usize>i, INPUT);
      const lt = i8x16.bitmask(i8x16.eq(v, vLT));
      const ltBit = lt & -lt;
      let end = i + ctz(lt);
      if (lt == 0 || end >= n || (~i8x16.bitmask(v128.or(i8x16.eq(v, vSpace), i8x16.eq(v, vLF))) & (ltBit - 1)) != 0) {
        end = depth > 0 ? scanText(i, n) : scanTrailingSpace(i, n);
        if (end < 0) break;
      }
      push(K_TEXT, i, end, 0, -1);
      i = end;
      continue;
    }
    if (i + 1 >= n) return result(E.UnexpectedEof, n, i);
    const c1 = byteAt(i + 1);
    let next = 0;
    if (c1 == SLASH) {
      if (depth == 0) return result(E.ContentAfterRoot, i, -1);
      if (count >= tokenLimit) {
        failTokens(i);
        break;
      }
      next = scanEndTag(i, n, stackPtr + (<usize>(depth - 1) << STACK_ENTRY_SHIFT));
      if (next >= 0) depth--;
    } else if (c1 == QUESTION) {
      if (count >= tokenLimit) {
        failTokens(i);
        break;
      }
      next = scanPI(i, n);
    } else if (c1 == BANG) {
      if (i + 2 >= n) return result(E.UnexpectedEof, n, i);
      const c2 = byteAt(i + 2);
      if (c2 == MINUS) {
        if (i + 3 >= n) return result(E.UnexpectedEof, n, i);
        if (byteAt(i + 3) != MINUS) return result(E.MarkupNotAllowed, i, -1);
        if (count >= tokenLimit) {
          failTokens(i);
          break;
        }
        next = scanComment(i, n);
      } else if (c2 == LBRACKET) {
        const match = matchCDataOpen(i, n);
        if (match < 0) return result(E.UnexpectedEof, n, i);
        if (match == 0) return result(E.MarkupNotAllowed, i, -1);
        if (depth == 0) return result(E.ContentAfterRoot, i, -1);
        if (count >= tokenLimit) {
          failTokens(i);
          break;
        }
        next = scanCData(i, n);
      } else {
        return result(E.MarkupNotAllowed, i, -1);
      }
    } else {
      if (rootSeen && depth == 0) return result(E.ContentAfterRoot, i, -1);
      if (count >= tokenLimit) {
        failTokens(i);
        break;
      }
      if (depth >= maxDepth) return result(E.TooDeep, i, -1);
      const tagIdx = push(K_START, i, 0, 0, -1);
      next = scanStartTag(i, n, tagIdx);
      if (next >= 0) {
        if (!rootSeen) {
          rootSeen = true;
          root = tagIdx;
        }
        if ((next & CLOSED_FLAG) != 0) {
          // Closed already by its end tag (scanStartTag): nothing stays open.
          next &= CLOSED_FLAG - 1;
        } else if (tKind(tagIdx) == K_START) {
          const entry = stackPtr + (<usize>depth << STACK_ENTRY_SHIFT);
          store<i32>(entry, tagIdx);
          store<i32>(entry, i + 1, 4);
          store<i32>(entry, tMid(tagIdx) - (i + 1), 8);
          depth++;
        }
      }
    }
    if (next < 0) break;
    i = next;
  }
  if (failCode != E.None) return failCode;
  return result(E.None, n, -1);
}

// ---- sibling walk for the selector (src/xml/selector.ts walkPlain over a lent table) ----

/** Room for the candidates one childCandidates() call writes (static data, below INPUT). */
const WALK_CAP: i32 = 1024;
const walkOut: usize = memory.data(WALK_CAP << 2, 16);
let walkNext: i32 = 0;

/** Where childCandidates() writes its token indices. */
export function walkOutPtr(): usize {
  return walkOut;
}

/** The sibling token childCandidates() stopped before when it filled its room, else `to`. */
export function walkResume(): i32 {
  return walkNext;
}

/**
 * The elements among sibling tokens [from, to) of the table at kindPtr/linkPtr/startPtr
 * (unbiased: entry k at kindPtr + k) whose name starts with byte `first`, each element skipped
 * with its subtree: their indices written at walkOutPtr() in order, their count returned (at
 * most WALK_CAP; walkResume() says where to go on). The loop of selector.ts's nextChildNamed.
 */
export function childCandidates(kindPtr: usize, linkPtr: usize, startPtr: usize, from: i32, to: i32, first: i32): i32 {
  let i = from;
  let found = 0;
  while (i < to) {
    let k = <i32>load<u8>(kindPtr + <usize>i);
    if (k == K_TEXT) {
      if (++i >= to) break;
      k = <i32>load<u8>(kindPtr + <usize>i);
    }
    if (k == K_START || k == K_EMPTY) {
      if (<i32>load<u8>(INPUT + <usize>load<u32>(startPtr + (<usize>i << 2)) + 1) == first) {
        if (found == WALK_CAP) {
          walkNext = i;
          return found;
        }
        store<i32>(walkOut + (<usize>found << 2), i);
        found++;
      }
      i = k == K_START ? load<i32>(linkPtr + (<usize>i << 2)) + 1 : i + 1;
    } else i++;
  }
  walkNext = to;
  return found;
}
