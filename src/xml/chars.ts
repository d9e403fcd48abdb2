// Character classes of XML 1.0 (5th edition) and UTF-8 decoding, shared by the prolog/DTD
// parser and the body scanner. ASCII goes through a 128-entry table (the hot case in libvirt
// XML); other code points through the spec's ranges. Mirrored in assembly/ for the WASM kernel.

/** Bit flags per ASCII byte. */
export const enum CharClass {
  NameStart = 1, // [A-Za-z_:]
  Name = 2, // NameStart + [-.0-9]
  Space = 4, // #x20 #x9 #xD #xA
  Invalid = 8, // C0 controls other than tab, LF, CR
}

/** Class flags for bytes 0..127 (indexed by byte value). */
export const ASCII_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(128);
  for (let c = 0; c < 0x20; c++) table[c] = CharClass.Invalid;
  table[0x09] = CharClass.Space;
  table[0x0a] = CharClass.Space;
  table[0x0d] = CharClass.Space;
  table[0x20] = CharClass.Space;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = CharClass.NameStart | CharClass.Name;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = CharClass.NameStart | CharClass.Name;
  table[0x5f] = CharClass.NameStart | CharClass.Name; // _
  table[0x3a] = CharClass.NameStart | CharClass.Name; // :
  for (let c = 0x30; c <= 0x39; c++) table[c] = CharClass.Name;
  table[0x2d] = CharClass.Name; // -
  table[0x2e] = CharClass.Name; // .
  return table;
})();

export function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x09 || byte === 0x0d;
}

/** XML 1.0 [2] Char. */
export function isXmlChar(cp: number): boolean {
  if (cp < 0x20) return cp === 0x09 || cp === 0x0a || cp === 0x0d;
  if (cp <= 0xd7ff) return true;
  if (cp < 0xe000) return false;
  if (cp <= 0xfffd) return true;
  return cp >= 0x10000 && cp <= 0x10ffff;
}

/** XML 1.0 5th edition [4] NameStartChar. */
export function isNameStartChar(cp: number): boolean {
  if (cp < 0x80) return (ASCII_CLASS[cp] & CharClass.NameStart) !== 0;
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
export function isNameChar(cp: number): boolean {
  if (cp < 0x80) return (ASCII_CLASS[cp] & CharClass.Name) !== 0;
  return (
    cp === 0xb7 ||
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x203f && cp <= 0x2040) ||
    isNameStartChar(cp)
  );
}

/**
 * Decodes the UTF-8 sequence at `i` (whose first byte is >= 0x80). Returns
 * `codePoint * 8 + length` (length 1..4), or -1 for an invalid, overlong, surrogate or
 * truncated sequence. Packing both in one number keeps the hot path allocation-free.
 */
export function decodeUtf8(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i];
  if (b0 < 0xc2) return -1; // continuation byte or overlong 2-byte lead
  if (b0 < 0xe0) {
    if (i + 1 >= end) return -1;
    const b1 = bytes[i + 1];
    if ((b1 & 0xc0) !== 0x80) return -1;
    return (((b0 & 0x1f) << 6) | (b1 & 0x3f)) * 8 + 2;
  }
  if (b0 < 0xf0) {
    if (i + 2 >= end) return -1;
    const b1 = bytes[i + 1];
    const b2 = bytes[i + 2];
    if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) return -1;
    const cp = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
    if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    return cp * 8 + 3;
  }
  if (b0 < 0xf5) {
    if (i + 3 >= end) return -1;
    const b1 = bytes[i + 1];
    const b2 = bytes[i + 2];
    const b3 = bytes[i + 3];
    if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return -1;
    const cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
    if (cp < 0x10000 || cp > 0x10ffff) return -1;
    return cp * 8 + 4;
  }
  return -1;
}
