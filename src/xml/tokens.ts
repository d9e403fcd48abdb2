// The token table: the one data structure the tokenizers (TypeScript reference and WASM
// kernel) produce and the selector evaluator and patch planner read. Flat typed arrays,
// offsets into the original UTF-8 bytes, no string and no object per token.
//
// Layout (all offsets are byte offsets into the input; `end` is one past the last byte):
//   kind   what the token is (TokenKind)
//   start  first byte of the token
//   end    one past its last byte
//   mid    StartTag / EmptyTag / EndTag / Attribute / PI / Doctype: one past the end of the
//          name (element name, attribute name, PI target, DOCTYPE root name); 0 otherwise
//   link   StartTag: index of its EndTag; EndTag: index of its StartTag; EmptyTag: its own
//          index; Attribute: index of the tag token it belongs to; otherwise -1
//
// Order: document order by `start`. A tag's Attribute tokens follow it directly, in source
// order. Bytes between tokens that no token covers are: a UTF-8 BOM, and whitespace inside
// tags. Every other byte belongs to exactly one token, so concatenating the uncovered gaps
// and the tokens in order gives back the input.
//
// Token spans:
//   XmlDecl   `<?xml ... ?>` at the very start (after a BOM)
//   Doctype   `<!DOCTYPE ... >` including its internal subset
//   Comment   `<!-- ... -->`            content = [start + 4, end - 3)
//   PI        `<?target ... ?>`         target  = [start + 2, mid)
//   CData     `<![CDATA[ ... ]]>`       content = [start + 9, end - 3)
//   Text      a maximal run of character data and references (whitespace included),
//             inside the root element or between top-level markup
//   StartTag  `<name attrs>`            name = [start + 1, mid)
//   EmptyTag  `<name attrs/>`           name = [start + 1, mid)
//   EndTag    `</name >`                name = [start + 2, mid)
//   Attribute `name = "value"`          name = [start, mid); the value's quote is the byte at
//                                       end - 1, value = [opening quote + 1, end - 1)

export const enum TokenKind {
  XmlDecl = 1,
  Doctype = 2,
  Comment = 3,
  PI = 4,
  CData = 5,
  Text = 6,
  StartTag = 7,
  EmptyTag = 8,
  EndTag = 9,
  Attribute = 10,
}

export interface TokenTable {
  /** Number of tokens; the typed arrays may be longer. */
  count: number;
  kind: Uint8Array;
  start: Uint32Array;
  end: Uint32Array;
  mid: Uint32Array;
  link: Int32Array;
  /** Index of the root element's StartTag or EmptyTag token. */
  root: number;
}

/** Limits every tokenizer enforces; see README "Limits". */
export interface Limits {
  /** Largest input in bytes (default 64 MiB). */
  maxBytes: number;
  /** Deepest element nesting (default 1024). */
  maxDepth: number;
  /** Most tokens in one document (default 4,194,304). */
  maxTokens: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxDepth: 1024,
  maxTokens: 4 * 1024 * 1024,
});

/**
 * A growable token table. The tokenizers append through `push`; `finish` trims nothing and
 * returns the arrays as they are (consumers read only `count` entries).
 */
export class TokenTableBuilder implements TokenTable {
  count = 0;
  root = -1;
  kind: Uint8Array;
  start: Uint32Array;
  end: Uint32Array;
  mid: Uint32Array;
  link: Int32Array;

  constructor(capacity = 256) {
    this.kind = new Uint8Array(capacity);
    this.start = new Uint32Array(capacity);
    this.end = new Uint32Array(capacity);
    this.mid = new Uint32Array(capacity);
    this.link = new Int32Array(capacity);
  }

  /** Appends a token and returns its index. */
  push(kind: TokenKind, start: number, end: number, mid: number, link: number): number {
    const i = this.count;
    if (i === this.kind.length) this.reserve(Math.max(16, i * 2));
    this.kind[i] = kind;
    this.start[i] = start;
    this.end[i] = end;
    this.mid[i] = mid;
    this.link[i] = link;
    this.count = i + 1;
    return i;
  }

  /** Makes room for `capacity` tokens in all, keeping the ones already written. */
  reserve(capacity: number): void {
    if (this.kind.length >= capacity) return;
    const keep = this.count;
    const kind = new Uint8Array(capacity);
    kind.set(this.kind.subarray(0, keep));
    this.kind = kind;
    const start = new Uint32Array(capacity);
    start.set(this.start.subarray(0, keep));
    this.start = start;
    const end = new Uint32Array(capacity);
    end.set(this.end.subarray(0, keep));
    this.end = end;
    const mid = new Uint32Array(capacity);
    mid.set(this.mid.subarray(0, keep));
    this.mid = mid;
    const link = new Int32Array(capacity);
    link.set(this.link.subarray(0, keep));
    this.link = link;
  }
}

/**
 * General entity references found by the body scanners, other than the five predefined ones
 * and character references (which the scanners check themselves). Declared-ness and the
 * entity's replacement text are judged afterwards against the DTD (src/xml/dtd.ts), so both
 * scanners can stay DTD-free and still agree.
 */
export class EntityRefList {
  count = 0;
  /** Offset of the `&`. */
  start = new Uint32Array(16);
  /** One past the `;`. */
  end = new Uint32Array(16);
  /** 1 when the reference stands in an attribute value, 0 in content. */
  inAttribute = new Uint8Array(16);

  push(start: number, end: number, inAttribute: boolean): void {
    const i = this.count;
    if (i === this.start.length) {
      const s = new Uint32Array(i * 2);
      s.set(this.start);
      this.start = s;
      const e = new Uint32Array(i * 2);
      e.set(this.end);
      this.end = e;
      const a = new Uint8Array(i * 2);
      a.set(this.inAttribute);
      this.inAttribute = a;
    }
    this.start[i] = start;
    this.end[i] = end;
    this.inAttribute[i] = inAttribute ? 1 : 0;
    this.count = i + 1;
  }
}
