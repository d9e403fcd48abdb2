// Input encodings. The scanners read UTF-8 only; a document that starts with a UTF-16 byte
// order mark is transcoded to BOM-less UTF-8 first, and results are transcoded back to the same
// UTF-16 form (with its BOM), so a patch stays lossless whatever the input was. Everything
// else passes through untouched and is judged by the scanners (invalid UTF-8, or an encoding
// declaration the bytes do not match, is a clear error there).
//
// Lossless even for broken input: a lone surrogate becomes its 3-byte generalised UTF-8 form
// (ED A0..BF xx, which the scanners reject as invalid UTF-8 at its place) and a dangling odd
// byte becomes 0xFF, so errors point at the right character.

export interface Utf8Input {
  /** The document as UTF-8 (the input itself when it already was). */
  utf8: Uint8Array;
  /** Turns a UTF-8 result back into the input's encoding. */
  fromUtf8(out: Uint8Array): Uint8Array;
}

/** Where a UTF-8 buffer came from, when not from UTF-8 bytes: UTF-16 input, or a JS string. */
export type SourceEncoding = "utf-16le" | "utf-16be" | "text";

// Which UTF-8 buffers came from something else, so the prolog can check the encoding
// declaration against the real encoding (and skip the check for text the caller already
// decoded); a WeakMap keeps the toUtf8 signature and frees with the buffer.
const transcoded = new WeakMap<Uint8Array, SourceEncoding>();

/** What `utf8` was made from by toUtf8 or textToUtf8, or null when it is the caller's own bytes. */
export function transcodedFrom(utf8: Uint8Array): SourceEncoding | null {
  return transcoded.get(utf8) ?? null;
}

const encoder = new TextEncoder();

/**
 * A document given as a string, as UTF-8. The string is already decoded text, so whatever
 * encoding its XML declaration names is not held against it.
 */
export function textToUtf8(text: string): Uint8Array {
  const utf8 = encoder.encode(text);
  transcoded.set(utf8, "text");
  return utf8;
}

const identity = (out: Uint8Array): Uint8Array => out;

export function toUtf8(input: Uint8Array): Utf8Input {
  if (input.length >= 2) {
    if (input[0] === 0xff && input[1] === 0xfe) return fromUtf16(input, true);
    if (input[0] === 0xfe && input[1] === 0xff) return fromUtf16(input, false);
  }
  return { utf8: input, fromUtf8: identity };
}

function fromUtf16(input: Uint8Array, littleEndian: boolean): Utf8Input {
  const units = (input.length - 2) >> 1;
  const odd = (input.length & 1) === 1;
  // At most 3 UTF-8 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units).
  const out = new Uint8Array(units * 3 + (odd ? 1 : 0));
  const lo = littleEndian ? 0 : 1;
  const hi = littleEndian ? 1 : 0;
  let at = 0;
  for (let k = 0; k < units; k++) {
    const p = 2 + 2 * k;
    let cp = input[p + lo] | (input[p + hi] << 8);
    if (cp >= 0xd800 && cp <= 0xdbff && k + 1 < units) {
      const q = p + 2;
      const next = input[q + lo] | (input[q + hi] << 8);
      if (next >= 0xdc00 && next <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
        k++;
      }
    }
    if (cp < 0x80) {
      out[at++] = cp;
    } else if (cp < 0x800) {
      out[at++] = 0xc0 | (cp >> 6);
      out[at++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      out[at++] = 0xe0 | (cp >> 12);
      out[at++] = 0x80 | ((cp >> 6) & 0x3f);
      out[at++] = 0x80 | (cp & 0x3f);
    } else {
      out[at++] = 0xf0 | (cp >> 18);
      out[at++] = 0x80 | ((cp >> 12) & 0x3f);
      out[at++] = 0x80 | ((cp >> 6) & 0x3f);
      out[at++] = 0x80 | (cp & 0x3f);
    }
  }
  if (odd) out[at++] = 0xff;
  const utf8 = out.slice(0, at);
  const source: SourceEncoding = littleEndian ? "utf-16le" : "utf-16be";
  transcoded.set(utf8, source);
  const oddByte = odd ? input[input.length - 1] : 0;
  return { utf8, fromUtf8: (result) => toUtf16(result, littleEndian, oddByte) };
}

/** UTF-8 (including the generalised surrogate and 0xFF forms fromUtf16 makes) to UTF-16 with a BOM. */
function toUtf16(utf8: Uint8Array, littleEndian: boolean, oddByte: number): Uint8Array {
  const out = new Uint8Array(2 + utf8.length * 2 + 2);
  const lo = littleEndian ? 0 : 1;
  const hi = littleEndian ? 1 : 0;
  out[lo] = 0xff;
  out[hi] = 0xfe;
  let at = 2;
  const put = (unit: number) => {
    out[at + lo] = unit & 0xff;
    out[at + hi] = unit >> 8;
    at += 2;
  };
  const n = utf8.length;
  for (let i = 0; i < n; ) {
    const b0 = utf8[i];
    if (b0 < 0x80) {
      put(b0);
      i++;
    } else if (b0 >= 0xf0 && b0 < 0xf8 && i + 3 < n) {
      const cp = ((b0 & 0x07) << 18) | ((utf8[i + 1] & 0x3f) << 12) | ((utf8[i + 2] & 0x3f) << 6) | (utf8[i + 3] & 0x3f);
      const v = cp - 0x10000;
      put(0xd800 + (v >> 10));
      put(0xdc00 + (v & 0x3ff));
      i += 4;
    } else if (b0 >= 0xe0 && b0 < 0xf0 && i + 2 < n) {
      put(((b0 & 0x0f) << 12) | ((utf8[i + 1] & 0x3f) << 6) | (utf8[i + 2] & 0x3f));
      i += 3;
    } else if (b0 >= 0xc0 && b0 < 0xe0 && i + 1 < n) {
      put(((b0 & 0x1f) << 6) | (utf8[i + 1] & 0x3f));
      i += 2;
    } else if (b0 === 0xff && i === n - 1) {
      // The dangling odd byte of the input, given back as it was.
      out[at++] = oddByte;
      i++;
    } else {
      // Not produced by fromUtf16; U+FFFD keeps the output decodable.
      put(0xfffd);
      i++;
    }
  }
  return out.slice(0, at);
}
