// XML 1.0 (5th edition) character classes and UTF-8 decoding for the WASM kernel: a line-for-
// line mirror of src/xml/chars.ts (the reference), reading the input from linear memory.

/** Where the loader copies the input: page 1, so page 0 holds the kernel's static data. */
export const INPUT: usize = 65536;

export const NAME_START: u8 = 1;
export const NAME: u8 = 2;
export const SPACE: u8 = 4;
export const INVALID: u8 = 8;

/** Class flags for bytes 0..127, as ASCII_CLASS in src/xml/chars.ts. */
export const ASCII_CLASS: usize = memory.data<u8>([
  // 0x00-0x0f: controls; tab, LF, CR are space
  8, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 8, 8, 4, 8, 8,
  // 0x10-0x1f
  8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
  // 0x20-0x2f: space, '-' and '.' are name chars
  4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0,
  // 0x30-0x3f: digits, ':'
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 0, 0, 0, 0, 0,
  // 0x40-0x4f: A-O
  0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  // 0x50-0x5f: P-Z, '_'
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 3,
  // 0x60-0x6f: a-o
  0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  // 0x70-0x7f: p-z
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0,
]);

// @ts-ignore: decorator
@inline export function asciiClass(c: i32): i32 {
  return <i32>load<u8>(ASCII_CLASS + <usize>c);
}

// @ts-ignore: decorator
@inline export function byteAt(i: i32): i32 {
  return <i32>load<u8>(<usize>i, INPUT);
}

/** XML 1.0 [2] Char. */
export function isXmlChar(cp: i32): bool {
  if (cp < 0x20) return cp == 0x09 || cp == 0x0a || cp == 0x0d;
  if (cp <= 0xd7ff) return true;
  if (cp < 0xe000) return false;
  if (cp <= 0xfffd) return true;
  return cp >= 0x10000 && cp <= 0x10ffff;
}

/** XML 1.0 5th edition [4] NameStartChar. */
export function isNameStartChar(cp: i32): bool {
  if (cp < 0x80) return (asciiClass(cp) & NAME_START) != 0;
  return (
    (cp >= 0xc0 && cp <= 0xd6) ||
    (cp >= 0xd8 && cp <= 0xf6) ||
    (cp >= 0xf8 && cp <= 0x2ff) ||
    (cp >= 0x370 && cp <= 0x37d) ||
    (cp >= 0x37f && cp <= 0x1fff) ||
    (cp >= 0x200c && cp <= 0x200d) ||
    (cp >= 0x2070 && cp <= 0x218f) ||
    (cp >= 0x2c00 && cp <= 0x2fef) ||
    (cp >= 0x3001 && cp <= 0xd7ff) ||
    (cp >= 0xf900 && cp <= 0xfdcf) ||
    (cp >= 0xfdf0 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0xeffff)
  );
}

/** XML 1.0 5th edition [4a] NameChar. */
export function isNameChar(cp: i32): bool {
  if (cp < 0x80) return (asciiClass(cp) & NAME) != 0;
  return cp == 0xb7 || (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x203f && cp <= 0x2040) || isNameStartChar(cp);
}

/**
 * Decodes the UTF-8 sequence at input offset `i` (first byte >= 0x80). Returns
 * `codePoint * 8 + length`, or -1 for an invalid, overlong, surrogate or truncated sequence.
 */
export function decodeUtf8(i: i32, end: i32): i32 {
  const b0 = byteAt(i);
  if (b0 < 0xc2) return -1;
  if (b0 < 0xe0) {
    if (i + 1 >= end) return -1;
    const b1 = byteAt(i + 1);
    if ((b1 & 0xc0) != 0x80) return -1;
    return (((b0 & 0x1f) << 6) | (b1 & 0x3f)) * 8 + 2;
  }
  if (b0 < 0xf0) {
    if (i + 2 >= end) return -1;
    const b1 = byteAt(i + 1);
    const b2 = byteAt(i + 2);
    if ((b1 & 0xc0) != 0x80 || (b2 & 0xc0) != 0x80) return -1;
    const cp = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
    if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    return cp * 8 + 3;
  }
  if (b0 < 0xf5) {
    if (i + 3 >= end) return -1;
    const b1 = byteAt(i + 1);
    const b2 = byteAt(i + 2);
    const b3 = byteAt(i + 3);
    if ((b1 & 0xc0) != 0x80 || (b2 & 0xc0) != 0x80 || (b3 & 0xc0) != 0x80) return -1;
    const cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
    if (cp < 0x10000 || cp > 0x10ffff) return -1;
    return cp * 8 + 4;
  }
  return -1;
}
