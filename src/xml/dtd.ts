// The document type declaration's internal subset, parsed only as far as well-formedness
// needs: every markup declaration is checked against the XML 1.0 (5th edition) grammar, and
// entity declarations are remembered (where their literal stands, internal or external,
// parsed or unparsed) so that the entity references the body scanner collected can be judged
// afterwards (checkEntityRefs). Entities are never expanded into the output; a replacement
// text is only built, privately, to judge whether it is well-formed where it is referenced.
//
// Not on the hot path (a DOCTYPE is rare in libvirt XML and small when present), so the
// parser is a plain recursive-descent one that throws a private PrologFailure at the first
// error; scanProlog (prolog.ts) turns that into an XmlError.

import { ScanError, scanErrorToXmlError, xmlError, type XmlError } from "./errors.ts";
import { decodeUtf8, isNameChar, isNameStartChar, isXmlChar } from "./chars.ts";
import { DEFAULT_LIMITS, EntityRefList, TokenTableBuilder } from "./tokens.ts";
import { scanBody } from "./scan.ts";

/** One entity declaration (the first one of a name binds; later ones are ignored, per 4.2). */
export interface EntityDecl {
  name: string;
  parameter: boolean;
  /** "internal": a literal value; "external": SYSTEM/PUBLIC, parsed; "unparsed": with NDATA. */
  kind: "internal" | "external" | "unparsed";
  /**
   * Where the literal stands: the input, or the replacement text of the parameter entity
   * whose expansion declared this one.
   */
  source: Uint8Array;
  /** Internal entities: the literal's content [valueStart, valueEnd) in `source` (without quotes). */
  valueStart: number;
  valueEnd: number;
  /** Offset of the `<!ENTITY` declaring it, in `source`. */
  declOffset: number;
}

/** What the prolog's DOCTYPE (and XML declaration) tell the entity check. */
export interface DtdInfo {
  /** The DOCTYPE's root element name. */
  rootName: string;
  /** Offset of `<!DOCTYPE`. */
  offset: number;
  generalEntities: Map<string, EntityDecl>;
  parameterEntities: Map<string, EntityDecl>;
  /** The DOCTYPE names an external subset (SYSTEM/PUBLIC), which is never read. */
  hasExternalSubset: boolean;
  /** The internal subset references a parameter entity (whose declarations may be unknown). */
  hasParameterEntityRefs: boolean;
  /** standalone="yes" in the XML declaration. */
  standalone: boolean;
  /**
   * Internal parameter entities whose replacement text has been parsed as declarations once;
   * later references to them only repeat declarations that are already bound, so they are not
   * parsed again (which keeps "billion laughs" built from parameter entities linear).
   */
  parsedParameterEntities: Set<string>;
  /**
   * Verdicts on entities referenced from attribute defaults, shared by all ATTLISTs so that a
   * large entity referenced from many defaults is judged once (a bad verdict ends the parse,
   * so only good ones are ever reused).
   */
  defaultValueVerdicts: Map<string, { code: string; message: string; via: string[] } | null>;
}

/** A well-formedness error found while parsing the prolog; turned into an XmlError at the boundary. */
export class PrologFailure {
  readonly offset: number;
  readonly code: string;
  readonly message: string;

  constructor(offset: number, code: string, message: string) {
    this.offset = offset;
    this.code = code;
    this.message = message;
  }
}

/** Whether undeclared general entities are well-formedness errors (WFC: Entity Declared). */
export function entitiesMustBeDeclared(dtd: DtdInfo | null): boolean {
  if (dtd === null) return true;
  if (dtd.standalone) return true;
  return !dtd.hasExternalSubset && !dtd.hasParameterEntityRefs;
}

// ---- lexical helpers shared with prolog.ts ----

const decoder = new TextDecoder();

export function text(bytes: Uint8Array, start: number, end: number): string {
  return decoder.decode(bytes.subarray(start, end));
}

export function isSpaceByte(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

export function skipSpace(bytes: Uint8Array, i: number, end: number): number {
  while (i < end && isSpaceByte(bytes[i])) i++;
  return i;
}

/**
 * Length of the character at `i` after checking it is valid UTF-8 and an XML Char; fails
 * (invalid-utf8 / invalid-char) otherwise. `i` must be < end.
 */
export function charLength(bytes: Uint8Array, i: number, end: number): number {
  const c = bytes[i];
  if (c < 0x80) {
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) throw invalidChar(bytes, i);
    return 1;
  }
  const decoded = decodeUtf8(bytes, i, end);
  if (decoded < 0) throw new PrologFailure(i, "invalid-utf8", "invalid UTF-8 byte sequence");
  if (!isXmlChar(decoded >> 3)) throw invalidChar(bytes, i);
  return decoded & 7;
}

function invalidChar(bytes: Uint8Array, i: number): PrologFailure {
  const c = bytes[i] < 0x80 ? bytes[i] : decodeUtf8(bytes, i, bytes.length) >> 3;
  return new PrologFailure(i, "invalid-char", `character U+${c.toString(16).toUpperCase().padStart(4, "0")} is not allowed in XML`);
}

/** Code point at `i` (or -1 at end / invalid UTF-8), packed as in decodeUtf8: cp * 8 + length. */
function codePointAt(bytes: Uint8Array, i: number, end: number): number {
  if (i >= end) return -1;
  const c = bytes[i];
  if (c < 0x80) return c * 8 + 1;
  return decodeUtf8(bytes, i, end);
}

/** End of the XML Name at `i`, or `i` when none starts there. */
export function nameEnd(bytes: Uint8Array, i: number, end: number): number {
  let d = codePointAt(bytes, i, end);
  if (d < 0 || !isNameStartChar(d >> 3)) return i;
  i += d & 7;
  while (true) {
    d = codePointAt(bytes, i, end);
    if (d < 0 || !isNameChar(d >> 3)) return i;
    i += d & 7;
  }
}

/** End of the Nmtoken at `i`, or `i` when none starts there. */
function nmtokenEnd(bytes: Uint8Array, i: number, end: number): number {
  while (true) {
    const d = codePointAt(bytes, i, end);
    if (d < 0 || !isNameChar(d >> 3)) return i;
    i += d & 7;
  }
}

/** Describes the byte at `i` for messages: "'x'" or "end of input". */
export function found(bytes: Uint8Array, i: number, end: number): string {
  if (i >= end) return "end of input";
  const d = codePointAt(bytes, i, end);
  if (d < 0) return "an invalid byte";
  const cp = d >> 3;
  const code = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  if (cp < 0x20) return code;
  // Non-ASCII characters get their code point too: many look like a space or a letter.
  return cp < 0x80 ? `'${String.fromCodePoint(cp)}'` : `'${String.fromCodePoint(cp)}' (${code})`;
}

/**
 * A failure at `i` where `expected` was wanted; an invalid character or the end of input there
 * is reported as such instead, since that is the more useful message.
 */
export function expected(bytes: Uint8Array, i: number, end: number, what: string, code = "syntax-error"): PrologFailure {
  if (i >= end) return new PrologFailure(i, "unexpected-eof", `unexpected end of input: expected ${what}`);
  try {
    charLength(bytes, i, end);
  } catch (failure) {
    return failure as PrologFailure;
  }
  return new PrologFailure(i, code, `expected ${what}, found ${found(bytes, i, end)}`);
}

/** Requires at least one whitespace character at `i`; returns the offset after the run. */
export function requireSpace(bytes: Uint8Array, i: number, end: number, where: string): number {
  const j = skipSpace(bytes, i, end);
  if (j === i) throw expected(bytes, i, end, `whitespace ${where}`, "expected-whitespace");
  return j;
}

/** Requires an XML Name at `i`; returns its end. */
export function requireName(bytes: Uint8Array, i: number, end: number, what: string): number {
  const j = nameEnd(bytes, i, end);
  if (j === i) throw expected(bytes, i, end, what, "expected-name");
  return j;
}

/** Whether the ASCII string `word` stands at `i`. */
export function startsWith(bytes: Uint8Array, i: number, end: number, word: string): boolean {
  if (i + word.length > end) return false;
  for (let k = 0; k < word.length; k++) {
    if (bytes[i + k] !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** The `-->`-terminated comment at `i` (its '<'); returns the offset after it. */
export function parseComment(bytes: Uint8Array, i: number, end: number): number {
  let p = i + 4;
  while (true) {
    if (p >= end) throw new PrologFailure(end, "unexpected-eof", "unexpected end of input inside a comment (missing '-->')");
    if (bytes[p] === 0x2d && p + 1 < end && bytes[p + 1] === 0x2d) {
      if (p + 2 < end && bytes[p + 2] === 0x3e) return p + 3;
      throw new PrologFailure(p, "double-hyphen-in-comment", "'--' is not allowed inside a comment");
    }
    p += charLength(bytes, p, end);
  }
}

/**
 * The processing instruction at `i` (its '<'); returns [target end, offset after '?>'].
 * Targets matching [Xx][Mm][Ll] are reserved.
 */
export function parsePI(bytes: Uint8Array, i: number, end: number): [number, number] {
  const targetStart = i + 2;
  const targetEnd = requireName(bytes, targetStart, end, "a processing instruction target after '<?'");
  if (targetEnd - targetStart === 3 && (bytes[targetStart] | 0x20) === 0x78 && (bytes[targetStart + 1] | 0x20) === 0x6d && (bytes[targetStart + 2] | 0x20) === 0x6c) {
    const message = bytes[targetStart] === 0x78 && bytes[targetStart + 1] === 0x6d && bytes[targetStart + 2] === 0x6c
      ? "an XML declaration is only allowed at the very start of the document"
      : "processing instruction targets matching 'xml' in any case are reserved";
    throw new PrologFailure(i, "reserved-pi-target", message);
  }
  let p = targetEnd;
  if (startsWith(bytes, p, end, "?>")) return [targetEnd, p + 2];
  if (p >= end || !isSpaceByte(bytes[p])) throw expected(bytes, p, end, "whitespace or '?>' after the processing instruction target", "expected-whitespace");
  while (true) {
    if (p >= end) throw new PrologFailure(end, "unexpected-eof", "unexpected end of input inside a processing instruction (missing '?>')");
    if (bytes[p] === 0x3f && p + 1 < end && bytes[p + 1] === 0x3e) return [targetEnd, p + 2];
    p += charLength(bytes, p, end);
  }
}

// ---- character references ----

/**
 * The character reference at `i` (its '&', followed by '#'); returns [code point, offset after
 * ';']. Fails on bad syntax or a reference to a character XML does not allow.
 */
function parseCharRef(bytes: Uint8Array, i: number, end: number): [number, number] {
  let j = i + 2;
  let value = 0;
  let digits = 0;
  if (j < end && bytes[j] === 0x78) {
    j++;
    while (j < end) {
      const c = bytes[j];
      const h = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (h < 0) break;
      value = Math.min(value * 16 + h, 0x110000);
      digits++;
      j++;
    }
  } else {
    while (j < end && bytes[j] >= 0x30 && bytes[j] <= 0x39) {
      value = Math.min(value * 10 + (bytes[j] - 0x30), 0x110000);
      digits++;
      j++;
    }
  }
  if (digits === 0 || j >= end || bytes[j] !== 0x3b) {
    throw new PrologFailure(i, "bad-reference", "malformed character reference: expected &#digits; or &#xhex;");
  }
  if (!isXmlChar(value)) throw new PrologFailure(i, "invalid-char-ref", "character reference to a character not allowed in XML");
  return [value, j + 1];
}

function utf8Length(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

function writeUtf8(out: Uint8Array, at: number, cp: number): number {
  if (cp < 0x80) {
    out[at] = cp;
    return at + 1;
  }
  if (cp < 0x800) {
    out[at] = 0xc0 | (cp >> 6);
    out[at + 1] = 0x80 | (cp & 0x3f);
    return at + 2;
  }
  if (cp < 0x10000) {
    out[at] = 0xe0 | (cp >> 12);
    out[at + 1] = 0x80 | ((cp >> 6) & 0x3f);
    out[at + 2] = 0x80 | (cp & 0x3f);
    return at + 3;
  }
  out[at] = 0xf0 | (cp >> 18);
  out[at + 1] = 0x80 | ((cp >> 12) & 0x3f);
  out[at + 2] = 0x80 | ((cp >> 6) & 0x3f);
  out[at + 3] = 0x80 | (cp & 0x3f);
  return at + 4;
}

// ---- the internal subset ----

/**
 * Parses an internal subset starting at `i` (just after '[') up to its closing ']'; fills
 * `dtd` and returns the offset of the ']'. Throws PrologFailure.
 */
export function parseInternalSubset(bytes: Uint8Array, i: number, end: number, dtd: DtdInfo): number {
  let p = i;
  while (true) {
    p = skipSpace(bytes, p, end);
    if (p >= end) throw new PrologFailure(end, "unexpected-eof", "unexpected end of input inside the DOCTYPE's internal subset (missing ']>')");
    const c = bytes[p];
    if (c === 0x5d) return p;
    if (c === 0x25) {
      p = parsePEReference(bytes, p, end, dtd);
      continue;
    }
    if (c !== 0x3c) throw expected(bytes, p, end, "a markup declaration, a parameter-entity reference or ']' in the internal subset", "syntax-error");
    if (startsWith(bytes, p, end, "<!--")) {
      p = parseComment(bytes, p, end);
    } else if (startsWith(bytes, p, end, "<?")) {
      p = parsePI(bytes, p, end)[1];
    } else if (startsWith(bytes, p, end, "<!ELEMENT") || startsWith(bytes, p, end, "<!ATTLIST") || startsWith(bytes, p, end, "<!ENTITY") || startsWith(bytes, p, end, "<!NOTATION")) {
      p = parseMarkupDecl(bytes, p, end, dtd);
    } else if (startsWith(bytes, p, end, "<![")) {
      throw new PrologFailure(p, "conditional-section-in-internal-subset", "conditional sections (<![INCLUDE[ / <![IGNORE[) are only allowed in an external subset");
    } else {
      throw new PrologFailure(p, "syntax-error", "expected <!ELEMENT, <!ATTLIST, <!ENTITY, <!NOTATION, a comment or a processing instruction in the internal subset");
    }
  }
}

/**
 * One ELEMENT / ATTLIST / ENTITY / NOTATION declaration. A syntax error that lands on a '%'
 * is reported as what it is: a parameter-entity reference inside a declaration, which the
 * internal subset does not allow (WFC: PEs in Internal Subset).
 */
function parseMarkupDecl(bytes: Uint8Array, p: number, end: number, dtd: DtdInfo): number {
  try {
    if (bytes[p + 2] === 0x45 && bytes[p + 3] === 0x4c) return parseElementDecl(bytes, p, end);
    if (bytes[p + 2] === 0x41) return parseAttlistDecl(bytes, p, end, dtd);
    if (bytes[p + 2] === 0x45) return parseEntityDecl(bytes, p, end, dtd);
    return parseNotationDecl(bytes, p, end);
  } catch (failure) {
    if (failure instanceof PrologFailure && failure.offset < end && bytes[failure.offset] === 0x25 && (failure.code === "syntax-error" || failure.code.startsWith("expected-"))) {
      throw new PrologFailure(failure.offset, "pe-reference-in-internal-subset", "parameter-entity references are not allowed inside markup declarations in the internal subset, only between them");
    }
    throw failure;
  }
}

/** A parameter-entity reference between declarations (DeclSep); returns the offset after ';'. */
function parsePEReference(bytes: Uint8Array, p: number, end: number, dtd: DtdInfo): number {
  const nameStart = p + 1;
  const nEnd = requireName(bytes, nameStart, end, "a parameter entity name after '%'");
  if (nEnd >= end || bytes[nEnd] !== 0x3b) throw expected(bytes, nEnd, end, "';' to end the parameter-entity reference");
  const name = text(bytes, nameStart, nEnd);
  const decl = dtd.parameterEntities.get(name);
  if (decl === undefined && (dtd.standalone || (!dtd.hasExternalSubset && !dtd.hasParameterEntityRefs))) {
    throw new PrologFailure(p, "undeclared-entity", `parameter entity '%${name};' is referenced but not declared before`);
  }
  dtd.hasParameterEntityRefs = true;
  if (decl !== undefined && decl.kind === "internal") checkPEReplacement(bytes, p, decl, dtd);
  return nEnd + 1;
}

/**
 * An internal parameter entity referenced between declarations must hold whole markup
 * declarations (WFC: PE Between Declarations); its replacement text is parsed as an
 * internal subset of its own, into the same DTD, with errors reported at the reference.
 * (Its literal cannot hold a '%' but `&#37;` can put a reference into the replacement text,
 * hence the recursion check.)
 */
function checkPEReplacement(bytes: Uint8Array, at: number, decl: EntityDecl, dtd: DtdInfo): void {
  if (openParameterEntities.includes(decl.name)) {
    throw new PrologFailure(at, "recursive-entity", `parameter entity '%${decl.name};' refers to itself (${[...openParameterEntities, decl.name].map((n) => `%${n};`).join(" -> ")})`);
  }
  if (dtd.parsedParameterEntities.has(decl.name)) return;
  if (openParameterEntities.length >= MAX_NESTING) throw tooDeep(at);
  const replacement = replacementText(decl);
  const wrapped = new Uint8Array(replacement.length + 1);
  wrapped.set(replacement);
  wrapped[replacement.length] = 0x5d; // ']' ends the nested subset
  openParameterEntities.push(decl.name);
  try {
    const stop = parseInternalSubset(wrapped, 0, wrapped.length, dtd);
    if (stop !== replacement.length) throw new PrologFailure(stop, "syntax-error", "unexpected ']'");
  } catch (failure) {
    if (!(failure instanceof PrologFailure)) throw failure;
    if (failure.code === "recursive-entity" || failure.code === "too-deep") throw new PrologFailure(at, failure.code, failure.message);
    throw new PrologFailure(at, "bad-parameter-entity", `the replacement text of parameter entity '%${decl.name};' is not a sequence of markup declarations: ${failure.message}`);
  } finally {
    openParameterEntities.pop();
  }
  dtd.parsedParameterEntities.add(decl.name);
}

/** Parameter entities being parsed between declarations, innermost last. */
const openParameterEntities: string[] = [];

/**
 * Deepest nesting of content-model groups, parameter entities or general entities the parser
 * follows; deeper input is rejected instead of exhausting the call stack.
 */
export const MAX_NESTING = 256;

function tooDeep(at: number): PrologFailure {
  return new PrologFailure(at, "too-deep", `nesting deeper than ${MAX_NESTING} levels in the DTD or its entities`);
}

/** `<!ELEMENT Name contentspec>`; returns the offset after '>'. */
function parseElementDecl(bytes: Uint8Array, i: number, end: number): number {
  let p = requireSpace(bytes, i + 9, end, "after '<!ELEMENT'");
  p = requireName(bytes, p, end, "an element name in <!ELEMENT");
  p = requireSpace(bytes, p, end, "after the element name in <!ELEMENT");
  if (startsWith(bytes, p, end, "EMPTY")) p += 5;
  else if (startsWith(bytes, p, end, "ANY")) p += 3;
  else if (p < end && bytes[p] === 0x28) p = parseContentModel(bytes, p, end);
  else throw expected(bytes, p, end, "EMPTY, ANY or '(' (a content model) in <!ELEMENT");
  p = skipSpace(bytes, p, end);
  if (p >= end || bytes[p] !== 0x3e) throw expected(bytes, p, end, "'>' to end <!ELEMENT");
  return p + 1;
}

/** A content model starting at '(' (Mixed or children); returns the offset after it. */
function parseContentModel(bytes: Uint8Array, open: number, end: number): number {
  let p = skipSpace(bytes, open + 1, end);
  if (startsWith(bytes, p, end, "#PCDATA")) {
    p = skipSpace(bytes, p + 7, end);
    let names = 0;
    while (p < end && bytes[p] === 0x7c) {
      p = skipSpace(bytes, p + 1, end);
      p = requireName(bytes, p, end, "an element name in a mixed content model");
      p = skipSpace(bytes, p, end);
      names++;
    }
    if (p >= end || bytes[p] !== 0x29) throw expected(bytes, p, end, "'|' or ')' in a mixed content model");
    p++;
    if (p < end && bytes[p] === 0x2a) return p + 1;
    if (names > 0) throw expected(bytes, p, end, "')*' to end a mixed content model that names elements");
    return p;
  }
  return parseChildrenGroup(bytes, open, end, 0);
}

/** A choice or seq group starting at '(' with its optional occurrence; returns the offset after. */
function parseChildrenGroup(bytes: Uint8Array, open: number, end: number, depth: number): number {
  if (depth >= MAX_NESTING) throw tooDeep(open);
  let p = skipSpace(bytes, open + 1, end);
  let separator = 0;
  while (true) {
    if (p < end && bytes[p] === 0x28) p = parseChildrenGroup(bytes, p, end, depth + 1);
    else {
      if (startsWith(bytes, p, end, "#PCDATA")) throw new PrologFailure(p, "syntax-error", "#PCDATA must come first in a mixed content model, alone in its group");
      p = requireName(bytes, p, end, "an element name or '(' in a content model");
      p = occurrence(bytes, p, end);
    }
    p = skipSpace(bytes, p, end);
    if (p >= end) throw expected(bytes, p, end, "')' in a content model");
    const c = bytes[p];
    if (c === 0x29) return occurrence(bytes, p + 1, end);
    if (c === 0x7c || c === 0x2c) {
      if (separator !== 0 && c !== separator) throw new PrologFailure(p, "syntax-error", "a content model group must not mix '|' and ','");
      separator = c;
      p = skipSpace(bytes, p + 1, end);
      continue;
    }
    throw expected(bytes, p, end, "'|', ',' or ')' in a content model");
  }
}

function occurrence(bytes: Uint8Array, p: number, end: number): number {
  if (p < end && (bytes[p] === 0x3f || bytes[p] === 0x2a || bytes[p] === 0x2b)) return p + 1;
  return p;
}

const ATTRIBUTE_TYPES = new Set(["CDATA", "ID", "IDREF", "IDREFS", "ENTITY", "ENTITIES", "NMTOKEN", "NMTOKENS"]);

/** `<!ATTLIST Name AttDef*>`; returns the offset after '>'. */
function parseAttlistDecl(bytes: Uint8Array, i: number, end: number, dtd: DtdInfo): number {
  let p = requireSpace(bytes, i + 9, end, "after '<!ATTLIST'");
  p = requireName(bytes, p, end, "an element name in <!ATTLIST");
  while (true) {
    const beforeSpace = p;
    p = skipSpace(bytes, p, end);
    if (p < end && bytes[p] === 0x3e) return p + 1;
    if (p === beforeSpace) throw expected(bytes, p, end, "whitespace or '>' in <!ATTLIST", "expected-whitespace");
    p = requireName(bytes, p, end, "an attribute name or '>' in <!ATTLIST");
    p = requireSpace(bytes, p, end, "after the attribute name in <!ATTLIST");
    // AttType
    if (p < end && bytes[p] === 0x28) {
      p = parseEnumeration(bytes, p, end, false);
    } else {
      const typeEnd = nameEnd(bytes, p, end);
      const type = text(bytes, p, typeEnd);
      if (type === "NOTATION") {
        p = requireSpace(bytes, typeEnd, end, "after NOTATION in <!ATTLIST");
        if (p >= end || bytes[p] !== 0x28) throw expected(bytes, p, end, "'(' after NOTATION");
        p = parseEnumeration(bytes, p, end, true);
      } else if (ATTRIBUTE_TYPES.has(type)) {
        p = typeEnd;
      } else {
        throw new PrologFailure(p, "syntax-error", `expected an attribute type (CDATA, ID, IDREF, IDREFS, ENTITY, ENTITIES, NMTOKEN, NMTOKENS, NOTATION or an enumeration), found ${typeEnd > p ? `'${type}'` : found(bytes, p, end)}`);
      }
    }
    p = requireSpace(bytes, p, end, "before the attribute default in <!ATTLIST");
    // DefaultDecl
    if (p < end && bytes[p] === 0x23) {
      const keywordEnd = nameEnd(bytes, p + 1, end);
      const keyword = text(bytes, p + 1, keywordEnd);
      if (keyword === "REQUIRED" || keyword === "IMPLIED") {
        p = keywordEnd;
        continue;
      }
      if (keyword !== "FIXED") throw new PrologFailure(p, "syntax-error", `expected #REQUIRED, #IMPLIED or #FIXED, found '#${keyword}'`);
      p = requireSpace(bytes, keywordEnd, end, "after #FIXED");
    }
    p = parseDefaultValue(bytes, p, end, dtd);
  }
}

/** `( a | b | c )` of Nmtokens (or Names after NOTATION); returns the offset after ')'. */
function parseEnumeration(bytes: Uint8Array, open: number, end: number, names: boolean): number {
  let p = skipSpace(bytes, open + 1, end);
  while (true) {
    const tokenEnd = names ? nameEnd(bytes, p, end) : nmtokenEnd(bytes, p, end);
    if (tokenEnd === p) throw expected(bytes, p, end, names ? "a notation name in the enumeration" : "a name token in the enumeration", "expected-name");
    p = skipSpace(bytes, tokenEnd, end);
    if (p < end && bytes[p] === 0x29) return p + 1;
    if (p >= end || bytes[p] !== 0x7c) throw expected(bytes, p, end, "'|' or ')' in the enumeration");
    p = skipSpace(bytes, p + 1, end);
  }
}

/** A default AttValue: quoted, no '<', references well-formed and (where judged) declared. */
function parseDefaultValue(bytes: Uint8Array, p: number, end: number, dtd: DtdInfo): number {
  if (p >= end || (bytes[p] !== 0x22 && bytes[p] !== 0x27)) throw expected(bytes, p, end, "a quoted default value, #REQUIRED, #IMPLIED or #FIXED", "expected-quote");
  const quote = bytes[p];
  p++;
  while (true) {
    if (p >= end) throw new PrologFailure(end, "unexpected-eof", "unexpected end of input inside an attribute default value");
    const c = bytes[p];
    if (c === quote) return p + 1;
    if (c === 0x3c) throw new PrologFailure(p, "lt-in-attribute-value", "'<' is not allowed in an attribute value (write &lt;)");
    if (c === 0x26) {
      if (p + 1 < end && bytes[p + 1] === 0x23) {
        p = parseCharRef(bytes, p, end)[1];
        continue;
      }
      const nStart = p + 1;
      const nEnd = nameEnd(bytes, nStart, end);
      if (nEnd === nStart || nEnd >= end || bytes[nEnd] !== 0x3b) {
        throw new PrologFailure(p, "bad-reference", "malformed reference: '&' must start &name; or &#n; (write &amp;)");
      }
      const name = text(bytes, nStart, nEnd);
      if (!PREDEFINED.has(name)) {
        const error = judgeEntity(dtd, name, true, [], dtd.defaultValueVerdicts);
        if (error !== null) throw new PrologFailure(p, error.code, describe(error));
      }
      p = nEnd + 1;
      continue;
    }
    p += charLength(bytes, p, end);
  }
}

/** `<!ENTITY [% ] Name EntityDef>`; returns the offset after '>'. */
function parseEntityDecl(bytes: Uint8Array, i: number, end: number, dtd: DtdInfo): number {
  let p = requireSpace(bytes, i + 8, end, "after '<!ENTITY'");
  let parameter = false;
  if (p < end && bytes[p] === 0x25) {
    parameter = true;
    p = requireSpace(bytes, p + 1, end, "after '%' in a parameter entity declaration");
  }
  const nameStart = p;
  p = requireName(bytes, p, end, "an entity name in <!ENTITY");
  const name = text(bytes, nameStart, p);
  if (name.includes(":")) {
    // Namespaces in XML forbid colons in entity names; XML 1.0 allows them. Accepted.
  }
  p = requireSpace(bytes, p, end, "after the entity name in <!ENTITY");
  const decl: EntityDecl = { name, parameter, kind: "internal", source: bytes, valueStart: 0, valueEnd: 0, declOffset: i };
  if (p < end && (bytes[p] === 0x22 || bytes[p] === 0x27)) {
    decl.valueStart = p + 1;
    p = parseEntityValue(bytes, p, end);
    decl.valueEnd = p - 1;
  } else if (startsWith(bytes, p, end, "SYSTEM") || startsWith(bytes, p, end, "PUBLIC")) {
    p = parseExternalId(bytes, p, end, false);
    decl.kind = "external";
    const afterId = p;
    p = skipSpace(bytes, p, end);
    if (startsWith(bytes, p, end, "NDATA")) {
      if (parameter) throw new PrologFailure(p, "syntax-error", "NDATA is not allowed in a parameter entity declaration");
      if (p === afterId) throw expected(bytes, p, end, "whitespace before NDATA", "expected-whitespace");
      p = requireSpace(bytes, p + 5, end, "after NDATA");
      p = requireName(bytes, p, end, "a notation name after NDATA");
      decl.kind = "unparsed";
    }
  } else {
    throw expected(bytes, p, end, "a quoted entity value, SYSTEM or PUBLIC in <!ENTITY");
  }
  p = skipSpace(bytes, p, end);
  if (p >= end || bytes[p] !== 0x3e) throw expected(bytes, p, end, "'>' to end <!ENTITY");
  const map = parameter ? dtd.parameterEntities : dtd.generalEntities;
  if (!map.has(name)) map.set(name, decl);
  return p + 1;
}

/**
 * An EntityValue literal at `p` (its quote): characters, well-formed references; parameter
 * entity references are not allowed inside declarations of the internal subset (WFC: PEs in
 * Internal Subset). Returns the offset after the closing quote.
 */
function parseEntityValue(bytes: Uint8Array, p: number, end: number): number {
  const quote = bytes[p];
  p++;
  while (true) {
    if (p >= end) throw new PrologFailure(end, "unexpected-eof", "unexpected end of input inside an entity value");
    const c = bytes[p];
    if (c === quote) return p + 1;
    if (c === 0x25) {
      throw new PrologFailure(p, "pe-reference-in-internal-subset", "parameter-entity references are not allowed inside markup declarations in the internal subset (write &#37; for a literal '%')");
    }
    if (c === 0x26) {
      if (p + 1 < end && bytes[p + 1] === 0x23) {
        p = parseCharRef(bytes, p, end)[1];
        continue;
      }
      const nEnd = nameEnd(bytes, p + 1, end);
      if (nEnd === p + 1 || nEnd >= end || bytes[nEnd] !== 0x3b) {
        throw new PrologFailure(p, "bad-reference", "malformed reference in an entity value: '&' must start &name; or &#n; (write &#38;#38; for a literal '&')");
      }
      p = nEnd + 1;
      continue;
    }
    p += charLength(bytes, p, end);
  }
}

const PUBID_PUNCTUATION = "-'()+,./:=?;!*#@$_%";

function isPubidChar(c: number): boolean {
  if (c === 0x20 || c === 0x0d || c === 0x0a) return true;
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return c < 0x80 && PUBID_PUNCTUATION.includes(String.fromCharCode(c));
}

/**
 * `SYSTEM SystemLiteral` or `PUBLIC PubidLiteral SystemLiteral` at `p`; with `publicIdOnly`
 * (NOTATION) the system literal after PUBLIC may be left out. Returns the offset after it.
 */
export function parseExternalId(bytes: Uint8Array, p: number, end: number, publicIdOnly: boolean): number {
  if (startsWith(bytes, p, end, "SYSTEM")) {
    p = requireSpace(bytes, p + 6, end, "after SYSTEM");
    return parseSystemLiteral(bytes, p, end);
  }
  if (!startsWith(bytes, p, end, "PUBLIC")) throw expected(bytes, p, end, "SYSTEM or PUBLIC");
  p = requireSpace(bytes, p + 6, end, "after PUBLIC");
  if (p >= end || (bytes[p] !== 0x22 && bytes[p] !== 0x27)) throw expected(bytes, p, end, "a quoted public identifier", "expected-quote");
  const quote = bytes[p];
  p++;
  while (true) {
    if (p >= end) throw new PrologFailure(end, "unexpected-eof", "unexpected end of input inside a public identifier");
    const c = bytes[p];
    if (c === quote) break;
    if (!isPubidChar(c)) throw new PrologFailure(p, "invalid-pubid-char", `${found(bytes, p, end)} is not allowed in a public identifier`);
    p++;
  }
  p++;
  const afterPubid = p;
  p = skipSpace(bytes, p, end);
  if (p < end && (bytes[p] === 0x22 || bytes[p] === 0x27)) {
    if (p === afterPubid) throw expected(bytes, p, end, "whitespace between the public and the system identifier", "expected-whitespace");
    return parseSystemLiteral(bytes, p, end);
  }
  if (publicIdOnly) return afterPubid;
  throw expected(bytes, p, end, "a quoted system identifier after the public identifier", "expected-quote");
}

function parseSystemLiteral(bytes: Uint8Array, p: number, end: number): number {
  if (p >= end || (bytes[p] !== 0x22 && bytes[p] !== 0x27)) throw expected(bytes, p, end, "a quoted system identifier", "expected-quote");
  const quote = bytes[p];
  p++;
  while (true) {
    if (p >= end) throw new PrologFailure(end, "unexpected-eof", "unexpected end of input inside a system identifier");
    if (bytes[p] === quote) return p + 1;
    p += charLength(bytes, p, end);
  }
}

/** `<!NOTATION Name (ExternalID | PublicID)>`; returns the offset after '>'. */
function parseNotationDecl(bytes: Uint8Array, i: number, end: number): number {
  let p = requireSpace(bytes, i + 10, end, "after '<!NOTATION'");
  p = requireName(bytes, p, end, "a notation name in <!NOTATION");
  p = requireSpace(bytes, p, end, "after the notation name");
  p = parseExternalId(bytes, p, end, true);
  p = skipSpace(bytes, p, end);
  if (p >= end || bytes[p] !== 0x3e) throw expected(bytes, p, end, "'>' to end <!NOTATION");
  return p + 1;
}

// ---- judging entity references ----

const PREDEFINED = new Set(["amp", "lt", "gt", "apos", "quot"]);

/** The replacement text of an internal entity: its literal with character references expanded. */
function replacementText(decl: EntityDecl): Uint8Array {
  const bytes = decl.source;
  const start = decl.valueStart;
  const end = decl.valueEnd;
  let length = 0;
  for (let p = start; p < end; ) {
    if (bytes[p] === 0x26 && bytes[p + 1] === 0x23) {
      const [cp, next] = parseCharRef(bytes, p, end);
      length += utf8Length(cp);
      p = next;
    } else {
      length++;
      p++;
    }
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (let p = start; p < end; ) {
    if (bytes[p] === 0x26 && bytes[p + 1] === 0x23) {
      const [cp, next] = parseCharRef(bytes, p, end);
      at = writeUtf8(out, at, cp);
      p = next;
    } else {
      out[at++] = bytes[p++];
    }
  }
  return out;
}

interface Judgement {
  code: string;
  message: string;
  /** The entities the offending one was reached through, outermost first. */
  via: string[];
}

const OPEN_TAG = new TextEncoder().encode("<x>");
const CLOSE_TAG = new TextEncoder().encode("</x>");
const SCAN_LIMITS = { ...DEFAULT_LIMITS };

/**
 * Whether a reference to general entity `name` is well-formed in content (or in an attribute
 * value), following nested references; null when it is. `open` holds the entities being
 * expanded (WFC: No Recursion); `verdicts` caches results per "name|context".
 */
function judgeEntity(dtd: DtdInfo | null, name: string, inAttribute: boolean, open: string[], verdicts: Map<string, Judgement | null>): Judgement | null {
  const key = (inAttribute ? "a|" : "c|") + name;
  if (open.includes(name)) {
    return { code: "recursive-entity", message: `entity '${name}' refers to itself (${[...open, name].map((n) => `&${n};`).join(" -> ")})`, via: [] };
  }
  const cached = verdicts.get(key);
  if (cached !== undefined) return cached;
  if (open.length >= MAX_NESTING) {
    return { code: "too-deep", message: `entity references nested deeper than ${MAX_NESTING} levels` , via: [] };
  }
  const decl = dtd?.generalEntities.get(name);
  let verdict: Judgement | null = null;
  if (decl === undefined) {
    if (entitiesMustBeDeclared(dtd)) {
      verdict = {
        code: "undeclared-entity",
        message: dtd === null
          ? `entity '&${name};' is not declared (there is no DTD; only &amp; &lt; &gt; &apos; &quot; are predefined)`
          : `entity '&${name};' is not declared in the DTD`,
        via: [],
      };
    }
  } else if (decl.kind === "unparsed") {
    verdict = { code: "unparsed-entity-reference", message: `entity '&${name};' is an unparsed (NDATA) entity and cannot be referenced`, via: [] };
  } else if (decl.kind === "external") {
    if (inAttribute) verdict = { code: "external-entity-in-attribute", message: `external entity '&${name};' cannot be referenced in an attribute value`, via: [] };
  } else {
    const replacement = replacementText(decl);
    verdict = inAttribute
      ? judgeAttributeReplacement(dtd, name, replacement, open, verdicts)
      : judgeContentReplacement(dtd, name, replacement, open, verdicts);
  }
  verdicts.set(key, verdict);
  return verdict;
}

function judgeAttributeReplacement(dtd: DtdInfo | null, name: string, replacement: Uint8Array, open: string[], verdicts: Map<string, Judgement | null>): Judgement | null {
  const n = replacement.length;
  for (let p = 0; p < n; p++) {
    const c = replacement[p];
    if (c === 0x3c) {
      return { code: "lt-in-attribute-value", message: `entity '&${name};' is referenced in an attribute value and its replacement text contains '<'` , via: [] };
    }
    if (c !== 0x26) continue;
    if (p + 1 < n && replacement[p + 1] === 0x23) {
      try {
        p = parseCharRef(replacement, p, n)[1] - 1;
      } catch (failure) {
        return { code: "bad-entity-replacement", message: `the replacement text of entity '&${name};' has a malformed reference: ${(failure as PrologFailure).message}` , via: [] };
      }
      continue;
    }
    const nEnd = nameEnd(replacement, p + 1, n);
    if (nEnd === p + 1 || nEnd >= n || replacement[nEnd] !== 0x3b) {
      return { code: "bad-entity-replacement", message: `the replacement text of entity '&${name};' has a malformed reference ('&' must start &name; or &#n;)` , via: [] };
    }
    const inner = text(replacement, p + 1, nEnd);
    if (!PREDEFINED.has(inner)) {
      const verdict = judgeEntity(dtd, inner, true, [...open, name], verdicts);
      if (verdict !== null) return nested(name, verdict);
    }
    p = nEnd;
  }
  return null;
}

function judgeContentReplacement(dtd: DtdInfo | null, name: string, replacement: Uint8Array, open: string[], verdicts: Map<string, Judgement | null>): Judgement | null {
  const wrapped = new Uint8Array(OPEN_TAG.length + replacement.length + CLOSE_TAG.length);
  wrapped.set(OPEN_TAG);
  wrapped.set(replacement, OPEN_TAG.length);
  wrapped.set(CLOSE_TAG, OPEN_TAG.length + replacement.length);
  const refs = new EntityRefList();
  const result = scanBody(wrapped, 0, new TokenTableBuilder(16), refs, SCAN_LIMITS);
  if (result.error !== ScanError.None) {
    const error = scanErrorToXmlError(wrapped, result.error, result.offset, result.aux);
    const message = result.error === ScanError.ContentAfterRoot || result.error === ScanError.MismatchedEndTag || result.error === ScanError.UnclosedElement
      ? "its elements are not balanced"
      : error.message;
    return { code: "bad-entity-replacement", message: `the replacement text of entity '&${name};' is not well-formed content: ${message}` , via: [] };
  }
  for (let k = 0; k < refs.count; k++) {
    const inner = text(wrapped, refs.start[k] + 1, refs.end[k] - 1);
    const verdict = judgeEntity(dtd, inner, refs.inAttribute[k] === 1, [...open, name], verdicts);
    if (verdict !== null) return nested(name, verdict);
  }
  return null;
}

function nested(name: string, verdict: Judgement): Judgement {
  if (verdict.code === "recursive-entity") return verdict; // its message already shows the cycle
  return { code: verdict.code, message: verdict.message, via: [name, ...verdict.via] };
}

function describe(verdict: Judgement): string {
  if (verdict.via.length === 0) return verdict.message;
  const names = verdict.via.map((n) => `&${n};`);
  const path = names.length <= 6 ? names.join(" -> ") : [...names.slice(0, 3), "...", ...names.slice(-2)].join(" -> ");
  return `${verdict.message} (reached through ${path})`;
}

/**
 * Judges the general entity references the body scanner collected (those starting before
 * `before`) against the DTD; returns the first error in document order, or null.
 */
export function checkEntityRefs(bytes: Uint8Array, refs: EntityRefList, dtd: DtdInfo | null, before: number): XmlError | null {
  if (refs.count === 0) return null;
  const verdicts = new Map<string, Judgement | null>();
  for (let k = 0; k < refs.count; k++) {
    const start = refs.start[k];
    if (start >= before) break;
    const name = text(bytes, start + 1, refs.end[k] - 1);
    const verdict = judgeEntity(dtd, name, refs.inAttribute[k] === 1, [], verdicts);
    if (verdict !== null) return xmlError(bytes, start, verdict.code, describe(verdict));
  }
  return null;
}
