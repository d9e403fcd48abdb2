// Escaping what domsplice writes and decoding what it compares. New attribute values and text
// are escaped for the place they land (the attribute's own quote character; whitespace in
// attribute values as character references, so attribute-value normalisation keeps it); values
// read from the document are decoded (character references and the five predefined entities)
// before a selector compares them, so [@name='a&b'] matches name="a&amp;b".

/**
 * Index of the first character of `value` that XML cannot hold at all, not even as a
 * character reference (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF; a lone
 * surrogate), or -1. Escaping such a value would write a document no parser accepts.
 */
export function firstNonXmlChar(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x20 && c < 0xd800) continue;
    if (c < 0x20) {
      if (c === 0x09 || c === 0x0a || c === 0x0d) continue;
      return i;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return i;
    }
    if ((c >= 0xdc00 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) return i;
  }
  return -1;
}

/** Throws a RangeError naming the first character XML cannot hold, if `value` has one. */
export function assertXmlChars(value: string, what: string): void {
  const at = firstNonXmlChar(value);
  if (at >= 0) {
    const code = value.charCodeAt(at).toString(16).toUpperCase().padStart(4, "0");
    throw new RangeError(`${what} has character U+${code} at index ${at}, which XML cannot hold (not even as a reference)`);
  }
}

/** Text content: & < > escaped, CR kept as a reference (a raw CR would be read as a newline). */
export function escapeText(value: string): string {
  assertXmlChars(value, "text");
  return escapeWith(value, TEXT_REFS);
}

/** An attribute value for a `quote` (34 `"` or 39 `'`) delimited attribute. */
export function escapeAttribute(value: string, quote: number): string {
  assertXmlChars(value, "attribute value");
  return escapeWith(value, quote === 0x27 ? APOS_ATTRIBUTE_REFS : QUOT_ATTRIBUTE_REFS);
}

// Which characters become which references, by place. In attribute values tab, LF and CR are
// references too, so attribute-value normalisation does not turn them into spaces; only the
// value's own quote character needs escaping. Tables indexed by char code, up to '>' (0x3e, the
// highest character escaped): a Map lookup per character was ~10 ns, ~0.2 µs for the 16
// characters of the bench patch's "host-passthrough", written on every apply.
const REF_LIMIT = 0x3f;
function refTable(entries: ReadonlyArray<[number, string]>): ReadonlyArray<string | null> {
  const table: (string | null)[] = new Array<string | null>(REF_LIMIT).fill(null);
  for (const [code, ref] of entries) table[code] = ref;
  return table;
}
const TEXT_ENTRIES: ReadonlyArray<[number, string]> = [
  [0x26, "&amp;"],
  [0x3c, "&lt;"],
  [0x3e, "&gt;"],
  [0x0d, "&#13;"],
];
const ATTRIBUTE_ENTRIES: ReadonlyArray<[number, string]> = [...TEXT_ENTRIES, [0x09, "&#9;"], [0x0a, "&#10;"]];
const TEXT_REFS = refTable(TEXT_ENTRIES);
const QUOT_ATTRIBUTE_REFS = refTable([...ATTRIBUTE_ENTRIES, [0x22, "&quot;"]]);
const APOS_ATTRIBUTE_REFS = refTable([...ATTRIBUTE_ENTRIES, [0x27, "&apos;"]]);

function escapeWith(value: string, refs: ReadonlyArray<string | null>): string {
  let out = "";
  let last = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= REF_LIMIT) continue;
    const ref = refs[c];
    if (ref === null) continue;
    out += value.slice(last, i) + ref;
    last = i + 1;
  }
  return last === 0 ? value : out + value.slice(last);
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The bytes [from, to) with character references and the five predefined entities replaced
 * by the characters they stand for. Returns the same bytes (a subarray) when there is no `&`,
 * the common case, so comparing plain values allocates nothing. Other entity references are
 * kept as written (domsplice never expands entities).
 */
export function decodeReferences(bytes: Uint8Array, from: number, to: number): Uint8Array {
  const amp = bytes.subarray(from, to).indexOf(0x26);
  if (amp < 0) return bytes.subarray(from, to);
  const text = decoder.decode(bytes.subarray(from, to));
  return encoder.encode(
    text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (whole, ref: string) => {
      if (ref === "amp") return "&";
      if (ref === "lt") return "<";
      if (ref === "gt") return ">";
      if (ref === "quot") return '"';
      if (ref === "apos") return "'";
      const code = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }),
  );
}

/** Whether bytes [from, to) equal `expected`. */
export function bytesEqual(bytes: Uint8Array, from: number, to: number, expected: Uint8Array): boolean {
  const n = expected.length;
  if (to - from !== n) return false;
  for (let i = 0; i < n; i++) if (bytes[from + i] !== expected[i]) return false;
  return true;
}

/**
 * `text` as UTF-8. Selector names and values are short and almost always ASCII, where copying
 * char codes beats TextEncoder's fixed cost per call by an order of magnitude.
 */
export function utf8(text: string): Uint8Array {
  const n = text.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(text);
    out[i] = c;
  }
  return out;
}
