// Patch plans: compile() validates a patch document and parses its selectors and fragments
// once; plan.apply(input) tokenizes the input once and runs the operations in order, each on the
// effects of the ones before it, then writes the result in one forward pass that copies every
// untouched byte range of the input verbatim and splices new bytes between them.
//
// How later operations see earlier ones without re-tokenizing the document:
//   - removed elements are marked dead in the token table and never match again;
//   - set/removed attribute values and replaced text are kept per element and read by later
//     predicates and ops instead of the original bytes;
//   - inserted elements (add, replace's new element, what ensure creates) are small documents
//     of their own (tokenized inside a wrapper element), attached to their parent element, and
//     later selectors walk into them as children of that parent; later ops edit them in place
//     (so `ensure /domain/cpu` then `set /domain/cpu/@mode` works, as does `add` then `set` on
//     what was added).
// What is not tracked, and costs one extra tokenize of the intermediate output instead
// ("rebase"): a selector with a position predicate [n] after any earlier op of the plan that
// inserted or removed elements (sibling positions would have to count inserted and removed
// elements in document order).
//
// Costs (bench/probes/patch-breakdown.ts and apply-profile.ts; the bench patch on KubeVirt's
// domain, Node 20, 2-core EPYC VM, 2026-11-29, glibc's heap trimming off so that page faults do
// not swamp the figures): beyond tokenizing (WASM scan ~560 µs at 1 MB, copying the input into
// the kernel's memory ~22 µs, the loader ~3 µs), apply takes ~5 µs at 8 KB and ~165 µs at 1 MB.
// At 1 MB (CPU profile of applyToTable): the fresh 1 MB output ~85 µs, half of it calloc's
// zero-fill and half the ~186 piece copies (each set() of a subarray ~70 ns over the bytes it
// copies, ~13 µs in all); the remove op's walk ~42 µs (/domain/devices/interface/rom: the
// ~4,100 children of <devices>, each a chain of dependent loads through kind, link, start and
// the input; ~30 µs of it nextChildNamed's loop, ~30 µs of the walk since the kernel searches
// long runs of siblings, selector.ts walkPlain); the collector ~11 µs (mostly
// the collections the outputs' external memory triggers); the 180 removals' bookkeeping ~10 µs;
// splices and pieces ~5 µs; ensure, set and add ~5 µs. Outputs up to 16 KB are cut from a
// pooled buffer (outputBuffer): ~1 µs at 8 KB. Under glibc (Node), the outputs a collection
// frees together lie at the top of the heap and are trimmed back to the kernel, so later outputs
// fault their pages in again: 0-260 minor faults per 1 MB apply depending on the heap's
// history (~1-3 µs each on this VM), the main reason 1 MB figures vary between runs. The
// document's quote, needed when a fragment with attributes is written, is free when the table
// is lent from the WASM kernel (it counts '-quoted attributes as it scans), else a count over
// up to 1024 tokens (~0.5-1 µs at 8 KB). A whole plan.apply at 8 KB (tokenize included) is
// ~8.0 µs (npm run bench medians 7.93-8.32 µs, six runs 17:35-17:45 UTC on 2026-11-28), of
// which the WASM scan is ~4.6 and the loader around it ~0.3; at 1 MB ~0.74-0.79 ms.
// Writing a fresh output from the pieces was also tried as one kernel call (copying the input's
// ranges inside WASM memory, then one copy out): no faster at 64 KB or 1 MB, since the fresh
// buffer, not the ~190 piece copies, is the cost. Buffer.allocUnsafeSlow (no zero-fill; Node
// and Bun only) was measured too: no gain that showed through the page-fault noise at 1 MB, so
// the engine stays free of runtime-specific allocation. The portable ways to a filled buffer
// do not skip the zero-fill either (2026-11-29, 1 MB, fastest of 40 interleaved rounds):
// new Uint8Array(n) + set() 76 µs, Uint8Array#slice of a scratch buffer 83 µs (V8 allocates
// through the species constructor, zeroed, then copies), new Uint8Array(typedArray) 95 µs.
// compile() of ops seen before is ~2 µs (parsed selectors and fragments are cached by text).
//
// Style of what is written: see style.ts (quote, self-closing vs explicit end tags, indent,
// line ends). Elements that are added go on their own line with their siblings' indentation
// when the document is indented; a fragment written on one line is laid out like the
// document (children on their own lines); a fragment with its own line breaks keeps its layout,
// shifted to the insertion's indentation. `<x/>` in a fragment becomes `<x></x>` in documents
// that write empty elements that way (virt-launcher's Go output), and a fragment's attribute
// values take the document's quote character. Text, comments, CDATA and references inside a
// fragment are kept as written.

import type { Limits, TokenTable } from "./tokens.ts";

// TokenKind values as plain constants: a const enum imported from another module is a property
// read per use under transpilers that compile files one by one (tsx, esbuild without bundling).
const K_C_DATA = 5; // TokenKind.CData
const K_TEXT = 6; // TokenKind.Text
const K_START_TAG = 7; // TokenKind.StartTag
const K_EMPTY_TAG = 8; // TokenKind.EmptyTag
const K_END_TAG = 9; // TokenKind.EndTag
const K_ATTRIBUTE = 10; // TokenKind.Attribute
import { type XmlError } from "./errors.ts";
import { tokenize, tokenizeLent } from "./tokenizer.ts";
import { releaseLentTable } from "./wasm.ts";
import { textToUtf8, toUtf8 } from "./encoding.ts";
import { decodeReferences, escapeAttribute, escapeText, firstNonXmlChar, utf8 } from "./escape.ts";
import { isXmlFragment, type XmlFragment } from "./fragment.ts";
import { detectStyle, lineBreakBefore, lineEndsAfter, lineIndent, nextAfterAttributes, type DocumentStyle } from "./style.ts";
import {
  WELL_KNOWN_NAMESPACES,
  NeedsRebase,
  SelectorError,
  attributeValueBytes,
  evaluate,
  findAttribute,
  parseSelector,
  valueStart,
  type DocView,
  type Match,
  type Selector,
  type Step,
} from "./selector.ts";

// ---------------------------------------------------------------------------------------------
// The patch language

export type Position = "append" | "prepend" | "before" | "after";

interface OpBase {
  /** A selector (see selector.ts). */
  path: string;
  /** Prefix -> namespace URI bindings for prefixed names in `path`. */
  namespaces?: Record<string, string>;
}
export interface AddOp extends OpBase {
  op: "add";
  pos?: Position;
  xml: string | XmlFragment;
  optional?: boolean;
}
export interface ReplaceOp extends OpBase {
  op: "replace";
  /** The new element(s), when `path` selects elements. */
  xml?: string | XmlFragment;
  /** The new value, when `path` ends in @attr or text(). */
  value?: string;
  optional?: boolean;
}
export interface RemoveOp extends OpBase {
  op: "remove";
}
export interface SetOp extends OpBase {
  op: "set";
  value: string;
  optional?: boolean;
}
export interface EnsureOp extends OpBase {
  op: "ensure";
}
export type PatchOp = AddOp | ReplaceOp | RemoveOp | SetOp | EnsureOp;

export interface PatchOptions {
  limits?: Partial<Limits>;
  kernel?: "auto" | "ts" | "wasm";
}

/**
 * Why a patch could not apply. `code`: "invalid-op" (the op document), "bad-selector",
 * "bad-fragment" (xml not well-formed), "no-match", "not-applicable" (e.g. adding a sibling
 * to the root), "malformed-xml" (the input; line/column/offset say where).
 */
export class PatchError extends Error {
  readonly code: string;
  readonly opIndex?: number;
  readonly path?: string;
  readonly line?: number;
  readonly column?: number;
  readonly offset?: number;
  /** For bad-selector: 1-based column in the selector. */
  readonly selectorColumn?: number;
  /** For malformed-xml and bad-fragment: the tokenizer's error. */
  readonly xmlError?: XmlError;

  constructor(
    code: string,
    message: string,
    where: { opIndex?: number; path?: string; line?: number; column?: number; offset?: number; selectorColumn?: number; xmlError?: XmlError } = {},
  ) {
    super(message);
    this.name = "PatchError";
    this.code = code;
    Object.assign(this, where);
  }
}

export interface Plan {
  readonly ops: readonly PatchOp[];
  /** Applies the plan; returns the same kind as `input` (string or bytes), a fresh buffer. */
  apply(input: Uint8Array, options?: PatchOptions): Uint8Array;
  apply(input: string, options?: PatchOptions): string;
  apply(input: Uint8Array | string, options?: PatchOptions): Uint8Array | string;
}

// ---------------------------------------------------------------------------------------------
// Compiling

// ignoreBOM: a string that starts with U+FEFF keeps it (patch(x, []) returns x exactly).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

const OP_FIELDS: Record<string, string[]> = {
  add: ["op", "path", "pos", "xml", "optional", "namespaces"],
  replace: ["op", "path", "xml", "value", "optional", "namespaces"],
  remove: ["op", "path", "namespaces"],
  set: ["op", "path", "value", "optional", "namespaces"],
  ensure: ["op", "path", "namespaces"],
};
const POSITIONS = ["append", "prepend", "before", "after"];

/** A fragment checked at compile time; its layout for a given document style is cached. */
class FragmentSource {
  readonly wrapped: Uint8Array;
  readonly table: TokenTable;
  private readonly layouts = new Map<string, LaidOutFragment>();
  /** Whether the layout reads the document's quote (attributes) and empty-element form (<x/>). */
  private readonly readsQuote: boolean;
  private readonly readsSelfClosing: boolean;

  constructor(wrapped: Uint8Array, table: TokenTable) {
    this.wrapped = wrapped;
    this.table = table;
    let attributes = false;
    let emptyTags = false;
    for (let i = 0; i < table.count; i++) {
      if (table.kind[i] === K_ATTRIBUTE) attributes = true;
      else if (table.kind[i] === K_EMPTY_TAG) emptyTags = true;
    }
    this.readsQuote = attributes;
    this.readsSelfClosing = emptyTags;
  }

  /** The fragment laid out for `indent` in `style`, wrapped (tokenized when first needed). */
  layout(indent: string | null, style: DocumentStyle): LaidOutFragment {
    // Every style field the layout reads (tagText re-quotes attribute values with style.quote),
    // and only those: the quote and empty-element form are counted over many tokens on first read.
    const selfClosing = this.readsSelfClosing ? style.selfClosing : false;
    const quote = this.readsQuote ? style.quote : 0;
    // The layout asked for last time, compared field by field: a sidecar patches documents of
    // one style, and building the key string and looking it up was ~0.15 µs per fragment.
    const last = this.lastLayout;
    if (last !== null && last.indent === indent && last.indentUnit === style.indentUnit && last.newline === style.newline && last.selfClosing === selfClosing && last.quote === quote) {
      return last.laidOut;
    }
    const key = `${indent}|${style.indentUnit}|${style.newline}|${this.readsSelfClosing ? selfClosing : ""}|${this.readsQuote ? quote : ""}`;
    let cached = this.layouts.get(key);
    if (cached === undefined) {
      const text = formatFragment(this.wrapped, this.table, indent, style);
      cached = { bytes: utf8(WRAP_OPEN + text + WRAP_CLOSE), table: null };
      if (this.layouts.size > 64) this.layouts.clear();
      this.layouts.set(key, cached);
    }
    this.lastLayout = { indent, indentUnit: style.indentUnit, newline: style.newline, selfClosing, quote, laidOut: cached };
    return cached;
  }

  private lastLayout: {
    indent: string | null;
    indentUnit: string | null;
    newline: string;
    selfClosing: boolean;
    quote: number;
    laidOut: LaidOutFragment;
  } | null = null;
}

const WRAP_OPEN = "<w>";
const WRAP_CLOSE = "</w>";

/**
 * A fragment's bytes as inserted. Its token table is built only when a later op walks into it
 * or edits it: most inserted fragments are just written out.
 */
interface LaidOutFragment {
  bytes: Uint8Array;
  table: TokenTable | null;
}

function tableOf(fragment: LaidOutFragment): TokenTable {
  if (fragment.table === null) {
    const result = tokenize(fragment.bytes);
    if (!result.ok) throw new Error(`domsplice: re-laid-out fragment is not well-formed (a bug): ${result.error.message}`);
    fragment.table = result.table;
  }
  return fragment.table;
}

interface CompiledOp {
  index: number;
  op: PatchOp;
  selector: Selector;
  label: string;
  fragment: FragmentSource | null;
  value: string | null;
  pos: Position;
  optional: boolean;
  /**
   * Whether an ensure op comes later in the plan: only then does a remove record what it removed
   * per parent (Doc.removedChildren, where ensure re-creates). The bench's 180 removals at 1 MB
   * spent ~6-8 µs of ~115 µs of apply's own work on that record.
   */
  ensureFollows: boolean;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** Validates the ops and parses their selectors and fragments; throws PatchError. */
/** apply() without its tokenize: for bench/apply-profile.ts, which times the two apart. */
export function applyToTable(plan: Plan, bytes: Uint8Array, table: TokenTable): Uint8Array {
  return (plan as CompiledPlan).applyToTable(bytes, table);
}

export function compile(ops: readonly PatchOp[]): Plan {
  if (!Array.isArray(ops)) throw new PatchError("invalid-op", `a patch is an array of operations, not ${describe(ops)}`);
  const compiled = ops.map((op, index) => compileOp(op, index));
  let ensureFollows = false;
  for (let i = compiled.length - 1; i >= 0; i--) {
    compiled[i].ensureFollows = ensureFollows;
    if (compiled[i].op.op === "ensure") ensureFollows = true;
  }
  return new CompiledPlan(ops, compiled);
}

function compileOp(raw: unknown, index: number): CompiledOp {
  // Messages lead with the reason (the CLI prints them after "FILE:ops[i]: ") and end with the
  // op and its selector once they are known.
  let label = "";
  const invalid = (message: string, path?: string): never => {
    throw new PatchError("invalid-op", label === "" ? message : `${message} (in ${label})`, { opIndex: index, path });
  };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return invalid(`operation ${index} is ${describe(raw)}; expected an object with "op" and "path"`);
  const op = raw as Record<string, unknown>;
  const kind = op.op;
  if (typeof kind !== "string" || !(kind in OP_FIELDS)) return invalid(`unknown op ${JSON.stringify(kind)}; expected one of ${Object.keys(OP_FIELDS).join(", ")}`);
  const path = op.path;
  if (typeof path !== "string" || path === "") return invalid(`${kind}: "path" must be a non-empty selector string like /domain/devices`);
  label = `${kind} ${path}`;
  for (const key of Object.keys(op)) {
    if (op[key] !== undefined && !OP_FIELDS[kind].includes(key)) invalid(`"${kind}" does not take "${key}" (it takes ${OP_FIELDS[kind].slice(1).join(", ")})`, path);
  }
  const namespaces = op.namespaces;
  if (namespaces !== undefined) {
    if (namespaces === null || typeof namespaces !== "object" || Array.isArray(namespaces)) invalid(`"namespaces" must be an object of prefix: URI`, path);
    for (const [prefix, uri] of Object.entries(namespaces as object)) {
      if (typeof uri !== "string") invalid(`namespace for prefix "${prefix}" must be a URI string`, path);
    }
  }
  let selector: Selector;
  try {
    selector = namespaces === undefined ? cachedSelector(path) : parseSelector(path, namespaces as Record<string, string>);
  } catch (error) {
    if (!(error instanceof SelectorError)) throw error;
    throw new PatchError("bad-selector", `${kind}: ${error.message}`, { opIndex: index, path, selectorColumn: error.column });
  }
  const optional = op.optional;
  if (optional !== undefined && typeof optional !== "boolean") invalid(`"optional" must be true or false`, path);
  let value: string | null = null;
  if (op.value !== undefined) {
    if (typeof op.value === "number" || typeof op.value === "boolean") value = String(op.value);
    else if (typeof op.value === "string") value = op.value;
    else invalid(`"value" must be a string, not ${describe(op.value)}`, path);
    const bad = firstNonXmlChar(value!);
    if (bad >= 0) {
      const code = value!.charCodeAt(bad).toString(16).toUpperCase().padStart(4, "0");
      invalid(`"value" has character U+${code} at index ${bad}, which XML cannot hold (not even as a reference)`, path);
    }
  }
  let fragment: FragmentSource | null = null;
  if (op.xml !== undefined) {
    const text = isXmlFragment(op.xml) ? op.xml.text : op.xml;
    if (typeof text !== "string") return invalid(`"xml" must be a string or an xml\`\` fragment`, path);
    fragment = checkFragment(text, label, index, path);
  }
  const pos = (op.pos ?? "append") as Position;
  if (!POSITIONS.includes(pos)) invalid(`"pos" must be one of ${POSITIONS.join(", ")}, not ${JSON.stringify(op.pos)}`, path);
  const target = selector.target;
  const targetName = target === "attribute" ? "an attribute" : target === "text" ? "text()" : "elements";
  switch (kind) {
    case "add":
      if (fragment === null) invalid(`"add" needs "xml" (the fragment to add)`, path);
      if (target !== "element") invalid(`"add" needs a path to elements, not ${targetName} (use "set" for attributes)`, path);
      break;
    case "replace":
      if ((fragment === null) === (value === null)) invalid(`"replace" needs exactly one of "xml" (for elements) or "value" (for @attr or text())`, path);
      if (target === "element" && fragment === null) invalid(`the path selects elements, so "replace" needs "xml"`, path);
      if (target !== "element" && value === null) invalid(`the path selects ${targetName}, so "replace" needs "value"`, path);
      break;
    case "remove":
      if (target === "text") invalid(`"remove" takes elements or @attr (to empty text, replace text() with "")`, path);
      break;
    case "set":
      if (value === null) invalid(`"set" needs "value"`, path);
      if (target !== "attribute") invalid(`"set" needs a path ending in /@attribute (use "replace" for text() or elements)`, path);
      break;
    case "ensure":
      checkEnsurePath(selector, label, index, path);
      break;
  }
  return { index, op: op as unknown as PatchOp, selector, label, fragment, value, pos, optional: optional === true, ensureFollows: false };
}

/**
 * ensure creates what its path names, so every step must name one element. Predicates other than
 * [@attr='value'] (child values such as interface[alias/@name='ua-default'], [@attr] alone) do
 * not say what to create: they may narrow steps that exist, and applyEnsure refuses to create a
 * step that has one (uncreatableStep).
 */
function checkEnsurePath(selector: Selector, label: string, index: number, path: string): void {
  const fail = (reason: string): never => {
    throw new PatchError("invalid-op", `ensure ${reason} (in ${label})`, { opIndex: index, path });
  };
  if (selector.target !== "element") fail("creates elements; to create an attribute use \"set\"");
  for (const step of selector.steps) {
    if (step.descendant) fail("needs a path of child steps (no //)");
    if (step.name.any) fail("cannot create '*'; name the element");
    for (const predicate of step.predicates) {
      if (predicate.kind === "position") return fail("cannot create a position [n]; use [@attr='value'] predicates");
    }
  }
}

/** Whether ensure can create an element for `step`: each of its predicates is [@attr='value'], which becomes an attribute. */
function creatable(step: Step): boolean {
  for (const predicate of step.predicates) {
    if (predicate.kind !== "conditions") return false;
    for (const term of predicate.terms) if (term.steps.length > 0 || term.target !== "attribute" || term.value === null) return false;
  }
  return true;
}

// compile() caches: a hook sidecar calls patch() (compile + apply) with the same ops for every
// domain it sees, and compiling the bench patch was ~10 µs next to ~8 µs of apply at 8 KB, most
// of it tokenizing the fragment and parsing selectors. Both results are immutable (a
// FragmentSource's layout cache only grows), so plans share them. Bounded: cleared when full.
const CACHE_LIMIT = 256;
const selectorCache = new Map<string, Selector>();
const fragmentCache = new Map<string, FragmentSource>();

/** parseSelector for an op without `namespaces`, remembered by selector text. */
function cachedSelector(path: string): Selector {
  let selector = selectorCache.get(path);
  if (selector === undefined) {
    selector = parseSelector(path, {});
    if (selectorCache.size >= CACHE_LIMIT) selectorCache.clear();
    selectorCache.set(path, selector);
  }
  return selector;
}

function checkFragment(text: string, label: string, index: number, path: string): FragmentSource {
  const cached = fragmentCache.get(text);
  if (cached !== undefined) return cached;
  const source = tokenizeFragment(text, label, index, path);
  if (fragmentCache.size >= CACHE_LIMIT) fragmentCache.clear();
  fragmentCache.set(text, source);
  return source;
}

function tokenizeFragment(text: string, label: string, index: number, path: string): FragmentSource {
  const wrapped = utf8(WRAP_OPEN + text + WRAP_CLOSE);
  const result = tokenize(wrapped);
  if (!result.ok) {
    const e = result.error;
    const column = e.line === 1 ? e.column - WRAP_OPEN.length : e.column;
    // Places quoted inside the message count the wrapper too.
    const message = e.message.replace(/\bat 1:(\d+)/g, (_, c: string) => `at 1:${Number(c) - WRAP_OPEN.length}`);
    throw new PatchError("bad-fragment", `${label}: the xml fragment is not well-formed: ${e.line}:${column}: ${message}`, {
      opIndex: index,
      path,
      xmlError: e,
    });
  }
  return new FragmentSource(wrapped, result.table);
}

// ---------------------------------------------------------------------------------------------
// Laying out fragments

function isWhitespaceOnly(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}

function hasLineBreak(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] === 0x0a || bytes[i] === 0x0d) return true;
  return false;
}

/**
 * A start or empty tag as text, its attribute values re-quoted with the document's quote
 * character (a value holding that character gets it as a reference instead), and an empty tag
 * written as start + end tag when the document writes empty elements that way.
 */
function tagText(bytes: Uint8Array, table: TokenTable, tag: number, style: DocumentStyle): string {
  const { kind, start, end, mid, link, count } = table;
  let text = "";
  let cursor = start[tag];
  let quote = -1;
  for (let a = tag + 1; a < count && kind[a] === K_ATTRIBUTE && link[a] === tag; a++) {
    if (quote < 0) quote = style.quote;
    const own = bytes[end[a] - 1];
    if (own === quote) continue;
    const open = valueStart(bytes, mid[a], end[a]) - 1;
    const q = String.fromCharCode(quote);
    const value = decoder.decode(bytes.subarray(open + 1, end[a] - 1)).replaceAll(q, quote === 0x22 ? "&quot;" : "&apos;");
    text += decoder.decode(bytes.subarray(cursor, open)) + q + value + q;
    cursor = end[a];
  }
  if (kind[tag] === K_EMPTY_TAG && !style.selfClosing) {
    let stop = end[tag] - 2;
    while (stop > cursor && (bytes[stop - 1] === 0x20 || bytes[stop - 1] === 0x09 || bytes[stop - 1] === 0x0a || bytes[stop - 1] === 0x0d)) stop--;
    return `${text}${decoder.decode(bytes.subarray(cursor, stop))}></${decoder.decode(bytes.subarray(start[tag] + 1, mid[tag]))}>`;
  }
  return text + decoder.decode(bytes.subarray(cursor, end[tag]));
}

/**
 * The fragment's text (without the wrapper) laid out for insertion at `indent` in a document
 * of `style`; see the file header. `indent` null: insert as written (inline position or a
 * compact document), only empty-element style applied.
 */
function formatFragment(bytes: Uint8Array, table: TokenTable, indent: string | null, style: DocumentStyle): string {
  const { kind, start, end, link, count } = table;
  const wrapperEnd = link[0];
  const raw = (from: number, to: number): string => {
    let out = "";
    for (let i = from; i < to; i++) {
      const k = kind[i];
      if (k === K_ATTRIBUTE) continue;
      if (k === K_EMPTY_TAG || k === K_START_TAG) out += tagText(bytes, table, i, style);
      else out += decoder.decode(bytes.subarray(start[i], end[i]));
    }
    return out;
  };
  if (indent === null || style.indentUnit === null) return raw(1, wrapperEnd);
  let laidOut = false;
  for (let i = 1; i < count; i++) {
    if (kind[i] === K_TEXT && isWhitespaceOnly(bytes, start[i], end[i]) && hasLineBreak(bytes, start[i], end[i])) {
      laidOut = true;
      break;
    }
  }
  const newline = style.newline;
  if (laidOut) {
    // Keep the author's layout, shifted to `indent`, with the document's line ends.
    let out = "";
    for (let i = 1; i < wrapperEnd; i++) {
      const k = kind[i];
      if (k === K_ATTRIBUTE) continue;
      if (k === K_TEXT && isWhitespaceOnly(bytes, start[i], end[i])) {
        out += decoder.decode(bytes.subarray(start[i], end[i])).replace(/\r\n|\n|\r/g, newline + indent);
      } else if (k === K_EMPTY_TAG || k === K_START_TAG) out += tagText(bytes, table, i, style);
      else out += decoder.decode(bytes.subarray(start[i], end[i]));
    }
    return out;
  }
  const unit = style.indentUnit;
  // One line: lay element-only content out like the document, one child per line.
  const layoutChildren = (from: number, to: number, depth: number): string | null => {
    for (let i = from; i < to; i++) {
      const k = kind[i];
      if (k === K_C_DATA || (k === K_TEXT && !isWhitespaceOnly(bytes, start[i], end[i]))) return null;
      if (k === K_START_TAG) i = link[i];
    }
    let out = "";
    let first = true;
    for (let i = from; i < to; i++) {
      const k = kind[i];
      if (k === K_TEXT || k === K_ATTRIBUTE) continue;
      if (!first || depth > 0) out += newline + indent + unit.repeat(depth);
      first = false;
      if (k === K_START_TAG) {
        const close = link[i];
        const inner = layoutChildren(nextAfterAttributes(table, i), close, depth + 1);
        const hasElements = inner !== null && hasChildElement(table, i, close);
        if (inner === null) out += raw(i, close + 1);
        else if (!hasElements) out += tagText(bytes, table, i, style) + raw(nextAfterAttributes(table, i), close + 1);
        else out += tagText(bytes, table, i, style) + inner + newline + indent + unit.repeat(depth) + decoder.decode(bytes.subarray(start[close], end[close]));
        i = close;
      } else if (k === K_EMPTY_TAG || k === K_START_TAG) out += tagText(bytes, table, i, style);
      else out += decoder.decode(bytes.subarray(start[i], end[i]));
    }
    return out;
  };
  return layoutChildren(1, wrapperEnd, 0) ?? raw(1, wrapperEnd);
}

function hasChildElement(table: TokenTable, element: number, close: number): boolean {
  for (let i = element + 1; i < close; i++) {
    const k = table.kind[i];
    if (k === K_START_TAG || k === K_EMPTY_TAG) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Documents with pending edits

/** Records piece source[from, to) (to -1: all of source) for Doc.emit; returns its length. */
function addPiece(sources: Uint8Array[], froms: number[], tos: number[], source: Uint8Array, from: number, to: number): number {
  const end = to < 0 ? source.length : to;
  if (end <= from) return 0;
  sources.push(source);
  froms.push(from);
  tos.push(end);
  return end - from;
}

/** New bytes at `offset` (a pure insertion) or in place of [offset, to). */
interface Splice {
  from: number;
  to: number;
  /** Ties at the same offset: lower first. */
  order: number;
  seq: number;
  text: string | null;
  doc: Doc | null;
  /** Written after `doc` (fragments only). */
  after: string;
}

interface Insertion {
  offset: number;
  seq: number;
  before: string;
  doc: Doc;
  after: string;
}

/** An EmptyTag that gained content: written as start tag, content, end tag. */
interface Expansion {
  insertions: Insertion[];
  /** Line break + indentation before the end tag, when its content goes on lines of its own. */
  closing: string;
}

// Output buffers. A fresh ArrayBuffer costs ~1.3-1.8 µs whatever its size up to tens of KB
// (allocation outside the heap, external-memory accounting, finalization at GC): more than
// copying an 8 KB domain into it (~0.3 µs). So outputs of up to OUTPUT_POOL_MAX bytes are cut
// from a shared OUTPUT_SLAB_BYTES buffer, as Node's Buffer pool does for small buffers (8 KB
// apply: the output step went from ~2 µs to ~0.6 µs, bench/apply-profile.ts). Each output is
// its own region, never written again, so results stay independent; but out.buffer is the
// shared slab (out.byteOffset may be > 0), and a slab lives while any output cut from it
// does (at most OUTPUT_SLAB_BYTES / OUTPUT_POOL_MAX = 4x the output's size).
const OUTPUT_SLAB_BYTES = 64 * 1024;
const OUTPUT_POOL_MAX = 16 * 1024;
let outputSlab = new ArrayBuffer(0);
let outputSlabUsed = 0;

/** A zeroed, unshared region of `n` bytes for an output (see above). */
function outputBuffer(n: number): Uint8Array {
  if (n > OUTPUT_POOL_MAX) return new Uint8Array(n);
  // A slab transferred away by a caller (postMessage of out.buffer) has byteLength 0 and is replaced.
  if (outputSlabUsed + n > outputSlab.byteLength) {
    outputSlab = new ArrayBuffer(OUTPUT_SLAB_BYTES);
    outputSlabUsed = 0;
  }
  const out = new Uint8Array(outputSlab, outputSlabUsed, n);
  // 8-aligned, so that a caller may view an output as wider typed arrays.
  outputSlabUsed = (outputSlabUsed + n + 7) & ~7;
  return out;
}

function spliceOrder(a: Splice, b: Splice): number {
  return a.from - b.from || a.order - b.order || a.seq - b.seq;
}

/**
 * Sorts splices by spliceOrder. They arrive nearly in order (each group collected in document
 * order: the bench patch's 180 removals at 1 MB, then a few insertions and attribute edits),
 * where an insertion sort is a compare per splice plus one shift per place an out-of-order
 * splice moves, and beats Array#sort's call overhead; once the shifts pass a budget linear in
 * the count, the rest is left to Array#sort (on a part-sorted array, still correct).
 */
function sortSplices(splices: Splice[]): void {
  const n = splices.length;
  let budget = 8 * n + 64;
  for (let i = 1; i < n; i++) {
    const splice = splices[i];
    let j = i - 1;
    if (spliceOrder(splices[j], splice) <= 0) continue;
    do {
      splices[j + 1] = splices[j];
      j--;
      budget--;
    } while (j >= 0 && spliceOrder(splices[j], splice) > 0);
    splices[j + 1] = splice;
    if (budget < 0) {
      splices.sort(spliceOrder);
      return;
    }
  }
}

const ORDER_ATTRIBUTE = 0;
const ORDER_INSERT = 1;
const ORDER_REMOVE = 2;

class Doc implements DocView {
  dead: Uint8Array | null = null;
  attributeEdits: Map<number, Map<string, string | null>> | null = null;
  textEdits: Map<number, string> | null = null;
  insertions: Insertion[] = [];
  removals: { from: number; to: number }[] = [];
  expansions: Map<number, Expansion> | null = null;
  fragments: Map<number, Doc[]> | null = null;
  /** Elements earlier ops removed, by parent element of this document (ensure re-creates there). */
  removedChildren: Map<number, { doc: Doc; element: number }[]> | null = null;
  /** Insertions or removals here or in a fragment below. */
  structural = false;

  private tokens: TokenTable | null;

  constructor(
    readonly bytes: Uint8Array,
    table: TokenTable | null,
    readonly plan: PlanRun,
    /** Whether this is a fragment inside a WRAP_OPEN/WRAP_CLOSE wrapper. */
    readonly wrapped: boolean,
    /** For fragments: the indentation of the line the fragment starts on. */
    readonly firstLineIndent: string | null,
    private readonly laidOut: LaidOutFragment | null = null,
  ) {
    this.tokens = table;
  }

  get table(): TokenTable {
    return this.tokens ?? (this.tokens = tableOf(this.laidOut!));
  }

  get floor(): number {
    return this.wrapped ? WRAP_OPEN.length : 0;
  }

  contentRange(): [number, number] {
    return this.wrapped ? [1, this.table.link[0]] : [0, this.table.count];
  }

  attributeOverride(tag: number, name: Uint8Array): string | null | undefined {
    const edits = this.attributeEdits?.get(tag);
    if (edits === undefined) return undefined;
    return edits.get(decoder.decode(name));
  }

  textOverride(element: number): string | undefined {
    return this.textEdits?.get(element);
  }

  childFragments(element: number): readonly DocView[] | null {
    return this.fragments?.get(element) ?? null;
  }

  /** Indentation of the line `offset` stands on, or null when other content precedes it. */
  indentAt(offset: number): string | null {
    const indent = lineIndent(this.bytes, offset, this.floor);
    if (indent === null || !this.wrapped) return indent;
    const lineStart = offset - indent.length;
    return lineStart === this.floor ? (this.firstLineIndent === null ? null : this.firstLineIndent + indent) : indent;
  }

  closeOf(element: number): number {
    return this.table.kind[element] === K_START_TAG ? this.table.link[element] : element;
  }

  markDead(element: number): void {
    if (this.dead === null) this.dead = this.plan.deadMarks(this.table.count);
    const stop = this.closeOf(element) + 1;
    // fill() has a fixed cost that a byte loop beats on the few tokens of a small element.
    if (stop - element <= 16) for (let i = element; i < stop; i++) this.dead[i] = 1;
    else this.dead.fill(1, element, stop);
  }

  setAttribute(tag: number, name: string, value: string | null): void {
    if (this.attributeEdits === null) this.attributeEdits = new Map();
    let edits = this.attributeEdits.get(tag);
    if (edits === undefined) this.attributeEdits.set(tag, (edits = new Map()));
    edits.set(name, value);
  }

  /**
   * The xmlns:prefix declarations on the root element as earlier ops of the plan left them
   * (`set /domain/@xmlns:qemu` then `ensure /domain/qemu:commandline` declares it once).
   */
  rootBindings(): Map<string, string> {
    const bindings = new Map<string, string>();
    const { kind, start, mid, end, link, count, root } = this.table;
    const bytes = this.bytes;
    for (let a = root + 1; a < count && kind[a] === K_ATTRIBUTE && link[a] === root; a++) {
      const name = decoder.decode(bytes.subarray(start[a], mid[a]));
      if (name.startsWith("xmlns:")) bindings.set(name.slice(6), decoder.decode(decodeReferences(bytes, valueStart(bytes, mid[a], end[a]), end[a] - 1)));
    }
    const edits = this.attributeEdits?.get(root);
    if (edits !== undefined) {
      for (const [name, value] of edits) {
        if (!name.startsWith("xmlns:")) continue;
        if (value === null) bindings.delete(name.slice(6));
        else bindings.set(name.slice(6), value);
      }
    }
    return bindings;
  }

  attachFragment(parent: number, fragment: Doc): void {
    if (this.fragments === null) this.fragments = new Map();
    const list = this.fragments.get(parent);
    if (list === undefined) this.fragments.set(parent, [fragment]);
    else list.push(fragment);
    this.structural = true;
  }

  /** The element's quote character: that of its first attribute, else the document's. */
  quoteOf(tag: number): number {
    const { kind, end, link, count } = this.table;
    if (tag + 1 < count && kind[tag + 1] === 10 /* Attribute */ && link[tag + 1] === tag) return this.bytes[end[tag + 1] - 1];
    return this.plan.style.quote;
  }

  /** Builds a fragment document for `source` laid out at `indent`. */
  fragmentDoc(source: FragmentSource, indent: string | null): Doc {
    const laidOut = source.layout(indent, this.plan.style);
    return new Doc(laidOut.bytes, laidOut.table, this.plan, true, indent, laidOut);
  }

  /**
   * The document with every pending edit applied (fragments: without the wrapper). Two passes:
   * the first resolves the splices into pieces (ranges of this document's bytes, and new bytes)
   * and sums their length, the second copies them into one buffer of exactly that size. No
   * closure and no chunk subarray per piece: under tsx (which bench/run.ts runs in) every
   * closure created per call costs a __name() call, ~9% of apply at 8 KB.
   */
  emit(): Uint8Array {
    if (this.removals.length === 0 && this.insertions.length === 0 && this.attributeEdits === null && this.textEdits === null && this.expansions === null) {
      // Untouched: a fragment is its own bytes inside the wrapper, shared, not copied.
      return this.wrapped ? this.bytes.subarray(WRAP_OPEN.length, this.bytes.length - WRAP_CLOSE.length) : this.bytes.slice();
    }
    const parts = this.collectSplices();
    const bytes = this.bytes;
    // Piece p is sources[p][froms[p], tos[p]).
    const sources: Uint8Array[] = [];
    const froms: number[] = [];
    const tos: number[] = [];
    let total = 0;
    let cursor = this.wrapped ? WRAP_OPEN.length : 0;
    const stop = this.wrapped ? bytes.length - WRAP_CLOSE.length : bytes.length;
    for (const splice of parts) {
      if (splice.from < cursor) {
        // Overlaps a range already written: an insertion or edit there belonged to what was
        // replaced; a deletion still removes whatever of its range is left.
        if (splice.to > cursor && splice.doc === null && splice.text === "") cursor = splice.to;
        continue;
      }
      total += addPiece(sources, froms, tos, bytes, cursor, splice.from);
      if (splice.doc !== null) {
        const content = splice.doc.emit();
        if (content.length > 0) {
          if (splice.text !== null && splice.text !== "") total += addPiece(sources, froms, tos, utf8(splice.text), 0, -1);
          total += addPiece(sources, froms, tos, content, 0, content.length);
          if (splice.after !== "") total += addPiece(sources, froms, tos, utf8(splice.after), 0, -1);
        }
      } else if (splice.text !== null && splice.text !== "") total += addPiece(sources, froms, tos, utf8(splice.text), 0, -1);
      cursor = splice.to;
    }
    total += addPiece(sources, froms, tos, bytes, cursor, stop);
    if (sources.length === 1 && sources[0] === bytes && !this.wrapped) return bytes.slice(froms[0], tos[0]);
    const out = outputBuffer(total);
    let at = 0;
    for (let p = 0; p < sources.length; p++) {
      const source = sources[p];
      const from = froms[p];
      const n = tos[p] - from;
      // set() with a subarray has a fixed cost (~0.1 µs) that a byte loop beats on short pieces.
      if (n <= 32) for (let i = 0; i < n; i++) out[at + i] = source[from + i];
      else out.set(n === source.length ? source : source.subarray(from, from + n), at);
      at += n;
    }
    return out;
  }

  private collectSplices(): Splice[] {
    const splices: Splice[] = [];
    const { kind, start, end, mid, link } = this.table;
    const bytes = this.bytes;
    const dead = this.dead;
    let seq = 0;
    for (const removal of this.removals) {
      splices.push({ from: removal.from, to: removal.to, order: ORDER_REMOVE, seq: seq++, text: "", doc: null, after: "" });
    }
    for (const insertion of this.insertions) {
      splices.push({ from: insertion.offset, to: insertion.offset, order: ORDER_INSERT, seq: insertion.seq, text: insertion.before, doc: insertion.doc, after: insertion.after });
    }
    if (this.attributeEdits !== null) {
      for (const [tag, edits] of this.attributeEdits) {
        if (dead !== null && dead[tag] === 1) continue;
        const quote = this.quoteOf(tag);
        let lastEnd = mid[tag];
        for (let a = tag + 1; a < this.table.count && kind[a] === 10 /* Attribute */ && link[a] === tag; a++) lastEnd = end[a];
        for (const [name, value] of edits) {
          const a = findAttribute(this, tag, utf8(name));
          if (a >= 0) {
            if (value === null) {
              const previousEnd = a - 1 === tag ? mid[tag] : end[a - 1];
              splices.push({ from: previousEnd, to: end[a], order: ORDER_ATTRIBUTE, seq: seq++, text: "", doc: null, after: "" });
            } else {
              const attributeQuote = bytes[end[a] - 1];
              splices.push({
                from: valueStart(bytes, mid[a], end[a]),
                to: end[a] - 1,
                order: ORDER_ATTRIBUTE,
                seq: seq++,
                text: escapeAttribute(value, attributeQuote),
                doc: null,
                after: "",
              });
            }
          } else if (value !== null) {
            const q = String.fromCharCode(quote);
            splices.push({ from: lastEnd, to: lastEnd, order: ORDER_ATTRIBUTE, seq: seq++, text: ` ${name}=${q}${escapeAttribute(value, quote)}${q}`, doc: null, after: "" });
          }
        }
      }
    }
    if (this.textEdits !== null) {
      for (const [element, value] of this.textEdits) {
        if ((dead !== null && dead[element] === 1) || kind[element] !== K_START_TAG) continue;
        const escaped = escapeText(value);
        let written = false;
        for (let i = element + 1; i < link[element]; i++) {
          const k = kind[i];
          if (k === K_START_TAG) {
            i = link[i];
            continue;
          }
          if (k !== K_TEXT && k !== K_C_DATA) continue;
          splices.push({ from: start[i], to: end[i], order: ORDER_INSERT, seq: seq++, text: written ? "" : escaped, doc: null, after: "" });
          written = true;
        }
        if (!written) splices.push({ from: end[element], to: end[element], order: ORDER_INSERT, seq: -1, text: escaped, doc: null, after: "" });
      }
    }
    if (this.expansions !== null || this.textEdits !== null) {
      const emptyTags = new Set<number>();
      if (this.expansions !== null) for (const tag of this.expansions.keys()) emptyTags.add(tag);
      if (this.textEdits !== null) for (const tag of this.textEdits.keys()) if (kind[tag] === K_EMPTY_TAG) emptyTags.add(tag);
      for (const tag of emptyTags) {
        if (dead !== null && dead[tag] === 1) continue;
        let from = end[tag] - 2;
        while (bytes[from - 1] === 0x20 || bytes[from - 1] === 0x09 || bytes[from - 1] === 0x0a || bytes[from - 1] === 0x0d) from--;
        const name = decoder.decode(bytes.subarray(start[tag] + 1, mid[tag]));
        const expansion = this.expansions?.get(tag);
        const text = this.textEdits?.get(tag);
        let content = text === undefined ? "" : escapeText(text);
        let any = text !== undefined && text !== "";
        if (expansion !== undefined) {
          for (const insertion of expansion.insertions) {
            const inner = insertion.doc.emit();
            if (inner.length === 0) continue;
            content += insertion.before + decoder.decode(inner) + insertion.after;
            any = true;
          }
        }
        const closing = expansion !== undefined && any && content !== escapeText(text ?? "") ? expansion.closing : "";
        splices.push({ from, to: end[tag], order: ORDER_INSERT, seq: seq++, text: `>${content}${closing}</${name}>`, doc: null, after: "" });
      }
    }
    sortSplices(splices);
    return splices;
  }
}

// ---------------------------------------------------------------------------------------------
// Applying

// Removal marks (Doc.dead) for the first document of a run that removes something, reused from
// one apply() to the next: allocating a fresh zeroed array per run cost ~0.6 µs at 8 KB (727
// tokens) and ~15 µs at 1 MB (87k tokens); zeroing the used part of this one costs 0.05 / 0.8 µs.
// apply() is synchronous and documents never outlive it, so one array serves every plan. Kept
// only up to DEAD_SCRATCH_LIMIT tokens (256 KB), so one huge input does not pin its size.
const DEAD_SCRATCH_LIMIT = 1 << 18;
let deadScratch = new Uint8Array(0);

/** State of one apply(): the document style, and a counter that orders insertions. */
class PlanRun {
  private styleCache: DocumentStyle | null = null;
  private deadScratchTaken = false;
  seq = 0;

  /** A zeroed array of removal marks for a document of `count` tokens (it may be longer). */
  deadMarks(count: number): Uint8Array {
    if (this.deadScratchTaken || count > DEAD_SCRATCH_LIMIT) return new Uint8Array(count);
    this.deadScratchTaken = true;
    if (deadScratch.length < count) deadScratch = new Uint8Array(Math.max(count, 1024));
    else deadScratch.fill(0, 0, count);
    return deadScratch;
  }

  constructor(
    /** The input as tokenized at the start (the style is read from it). */
    readonly bytes: Uint8Array,
    readonly table: TokenTable,
  ) {}

  get style(): DocumentStyle {
    if (this.styleCache === null) this.styleCache = detectStyle(this.bytes, this.table);
    return this.styleCache;
  }
}

class CompiledPlan implements Plan {
  constructor(
    readonly ops: readonly PatchOp[],
    private readonly compiled: CompiledOp[],
  ) {}

  apply(input: Uint8Array, options?: PatchOptions): Uint8Array;
  apply(input: string, options?: PatchOptions): string;
  apply(input: Uint8Array | string, options?: PatchOptions): Uint8Array | string;
  apply(input: Uint8Array | string, options?: PatchOptions): Uint8Array | string {
    if (typeof input === "string") return decoder.decode(this.applyUtf8(textToUtf8(input), options));
    if (!(input instanceof Uint8Array)) throw new PatchError("invalid-input", `patch input must be a Uint8Array or a string, not ${describe(input)}`);
    const converted = toUtf8(input);
    return converted.fromUtf8(this.applyUtf8(converted.utf8, options));
  }

  private applyUtf8(bytes: Uint8Array, options?: PatchOptions): Uint8Array {
    // The token table is borrowed from the WASM kernel's memory (no copy out: ~2 µs at 8 KB,
    // 130-190 µs at 1 MB); it is valid until releaseLentTable(), and nothing keeps it after
    // apply returns. Tokenize calls made meanwhile (fragments, rebase) run on the TS kernel.
    const result = tokenizeLent(bytes, options);
    if (!result.ok) {
      const e = result.error;
      throw new PatchError("malformed-xml", `the input is not well-formed XML: ${e.message}`, { line: e.line, column: e.column, offset: e.offset, xmlError: e });
    }
    try {
      return this.applyToTable(bytes, result.table, options);
    } finally {
      releaseLentTable();
    }
  }

  /** The edits on an input already tokenized (bench/apply-profile.ts times this alone). */
  applyToTable(bytes: Uint8Array, table: TokenTable, options?: PatchOptions): Uint8Array {
    if (this.compiled.length === 0) return bytes.slice();
    const run = new PlanRun(bytes, table);
    let base = new Doc(bytes, table, run, false, null);
    for (const op of this.compiled) {
      if (op.selector.hasPosition && anyStructural(base)) base = rebase(run, base, options);
      try {
        applyOp(run, base, op);
      } catch (error) {
        if (!(error instanceof NeedsRebase)) throw error;
        base = rebase(run, base, options);
        applyOp(run, base, op);
      }
    }
    return base.emit();
  }
}

function anyStructural(doc: Doc): boolean {
  return doc.structural || doc.removals.length > 0;
}

/** Writes out the pending edits and tokenizes the result: a fresh base without pending edits. */
function rebase(run: PlanRun, base: Doc, options?: PatchOptions): Doc {
  const bytes = base.emit();
  const result = tokenize(bytes, options);
  if (!result.ok) throw new Error(`domsplice: intermediate output is not well-formed (a bug): ${result.error.message}`);
  return new Doc(bytes, result.table, run, false, null);
}

function noMatch(op: CompiledOp, what = "no element matches"): PatchError {
  return new PatchError("no-match", `${op.label}: ${what} (add "optional": true to allow that)`, { opIndex: op.index, path: op.op.path });
}

function asDoc(view: DocView): Doc {
  return view as Doc;
}

function applyOp(run: PlanRun, base: Doc, op: CompiledOp): void {
  const kind = op.op.op;
  if (kind === "ensure") return applyEnsure(run, base, op);
  const matches = evaluate(op.selector, base);
  const target = op.selector.target;
  switch (kind) {
    case "add": {
      if (matches.length === 0) {
        if (op.optional) return;
        throw noMatch(op);
      }
      for (const m of matches) {
        const doc = asDoc(m.view);
        if ((op.pos === "before" || op.pos === "after") && m.parent < 0) {
          throw new PatchError("not-applicable", `${op.label}: cannot add ${op.pos} the root element (a document has one root)`, { opIndex: op.index, path: op.op.path });
        }
        if (op.pos === "append" || op.pos === "prepend") insertInto(run, doc, m.element, op.fragment!, op.pos === "prepend");
        else insertBeside(run, doc, m, op.fragment!, op.pos === "before");
      }
      return;
    }
    case "remove": {
      if (target === "attribute") {
        for (const m of matches) {
          if (attributeValueBytes(m.view, m.element, op.selector.attribute!.local) !== null) asDoc(m.view).setAttribute(m.element, op.selector.attribute!.text, null);
        }
        return;
      }
      for (const m of matches) {
        if (m.parent < 0) throw new PatchError("not-applicable", `${op.label}: cannot remove the root element`, { opIndex: op.index, path: op.op.path });
      }
      for (const m of matches) {
        if (!removeElement(asDoc(m.view), m.element) || !op.ensureFollows) continue;
        const parentDoc = asDoc(m.parentView);
        if (parentDoc.removedChildren === null) parentDoc.removedChildren = new Map();
        const list = parentDoc.removedChildren.get(m.parent);
        if (list === undefined) parentDoc.removedChildren.set(m.parent, [{ doc: asDoc(m.view), element: m.element }]);
        else list.push({ doc: asDoc(m.view), element: m.element });
      }
      return;
    }
    case "set": {
      if (matches.length === 0) {
        if (op.optional) return;
        throw noMatch(op);
      }
      for (const m of matches) asDoc(m.view).setAttribute(m.element, op.selector.attribute!.text, op.value!);
      return;
    }
    case "replace": {
      if (target === "attribute") {
        const present = matches.filter((m) => attributeValueBytes(m.view, m.element, op.selector.attribute!.local) !== null);
        if (present.length === 0) {
          if (op.optional) return;
          throw noMatch(op, matches.length === 0 ? "no element matches" : `no matching element has the attribute (use "set" to create it)`);
        }
        for (const m of present) asDoc(m.view).setAttribute(m.element, op.selector.attribute!.text, op.value!);
        return;
      }
      if (matches.length === 0) {
        if (op.optional) return;
        throw noMatch(op);
      }
      if (target === "text") {
        for (const m of matches) {
          const doc = asDoc(m.view);
          if (doc.textEdits === null) doc.textEdits = new Map();
          doc.textEdits.set(m.element, op.value!);
        }
        return;
      }
      for (const m of matches) {
        if (m.parent < 0 && !isSingleElement(op.fragment!)) {
          throw new PatchError("not-applicable", `${op.label}: the root element can only be replaced by exactly one element`, { opIndex: op.index, path: op.op.path });
        }
      }
      for (const m of matches) replaceElement(run, m, op.fragment!);
      return;
    }
  }
}

function isSingleElement(source: FragmentSource): boolean {
  const { kind, link, start, end } = source.table;
  let elements = 0;
  for (let i = 1; i < link[0]; i++) {
    const k = kind[i];
    if (k === K_START_TAG || k === K_EMPTY_TAG) {
      elements++;
      if (k === K_START_TAG) i = link[i];
    } else if (k === K_TEXT && !isWhitespaceOnly(source.wrapped, start[i], end[i])) return false;
    else if (k === K_C_DATA) return false;
  }
  return elements === 1;
}

/** append / prepend `source` as children of `element`. */
function insertInto(run: PlanRun, doc: Doc, element: number, source: FragmentSource, prepend: boolean): void {
  const style = run.style;
  const { kind, start, end, link } = doc.table;
  const bytes = doc.bytes;
  const parentIndent = doc.indentAt(start[element]);
  const layout = style.indentUnit !== null && parentIndent !== null;
  let childIndent: string | null = null;
  if (layout) {
    const firstChild = firstChildElement(doc, element);
    childIndent = (firstChild >= 0 ? doc.indentAt(start[firstChild]) : null) ?? parentIndent + style.indentUnit!;
  }
  const newline = style.newline;
  const seq = run.seq++;
  if (kind[element] === K_EMPTY_TAG) {
    const fragment = doc.fragmentDoc(source, childIndent);
    doc.attachFragment(element, fragment);
    if (doc.expansions === null) doc.expansions = new Map();
    let expansion = doc.expansions.get(element);
    if (expansion === undefined) doc.expansions.set(element, (expansion = { insertions: [], closing: layout ? newline + parentIndent : "" }));
    const insertion: Insertion = { offset: end[element], seq, before: layout ? newline + childIndent : "", doc: fragment, after: "" };
    if (prepend) expansion.insertions.unshift(insertion);
    else expansion.insertions.push(insertion);
    return;
  }
  const close = link[element];
  const first = nextAfterAttributes(doc.table, element);
  const empty = first === close;
  let offset: number;
  let before = "";
  let after = "";
  if (prepend) {
    offset = end[element];
    if (layout && (empty || isLineBreakWhitespace(bytes, doc.table, first))) {
      before = newline + childIndent;
      if (empty) after = newline + parentIndent;
    }
  } else {
    const last = close - 1;
    offset = start[close];
    if (layout) {
      if (empty) {
        before = newline + childIndent;
        after = newline + parentIndent;
      } else if (isLineBreakWhitespace(bytes, doc.table, last)) {
        offset = start[last];
        before = newline + childIndent;
      }
    }
  }
  // An inline position (text before the end tag, or a compact document): no line breaks, and
  // the fragment as written.
  const fragment = doc.fragmentDoc(source, before === "" ? null : childIndent);
  doc.attachFragment(element, fragment);
  doc.insertions.push({ offset, seq: prepend ? -1 - seq : seq, before, doc: fragment, after });
}

function isLineBreakWhitespace(bytes: Uint8Array, table: TokenTable, token: number): boolean {
  const { kind, start, end } = table;
  return kind[token] === K_TEXT && isWhitespaceOnly(bytes, start[token], end[token]) && hasLineBreak(bytes, start[token], end[token]);
}

function firstChildElement(doc: Doc, element: number): number {
  const { kind, link } = doc.table;
  if (kind[element] !== 7 /* StartTag */) return -1;
  for (let i = element + 1; i < link[element]; i++) {
    const k = kind[i];
    if (k === 7 /* StartTag */ || k === 8 /* EmptyTag */) {
      if (doc.dead === null || doc.dead[i] !== 1) return i;
      if (k === 7 /* StartTag */) i = link[i];
    }
  }
  return -1;
}

/** before / after `m.element`, a sibling. */
function insertBeside(run: PlanRun, doc: Doc, m: Match, source: FragmentSource, before: boolean): void {
  const style = run.style;
  const { start, end } = doc.table;
  const bytes = doc.bytes;
  const element = m.element;
  const close = doc.closeOf(element);
  const indent = doc.indentAt(start[element]);
  const lineBreak = lineBreakBefore(bytes, start[element], doc.floor);
  const layout = style.indentUnit !== null && indent !== null;
  const fragment = doc.fragmentDoc(source, layout ? indent : null);
  // Later selectors find the new sibling under the same parent.
  asDoc(m.parentView).attachFragment(m.parent, fragment);
  const seq = run.seq++;
  const newline = layout ? style.newline + indent : "";
  if (!before) {
    doc.insertions.push({ offset: end[close], seq, before: newline, doc: fragment, after: "" });
  } else if (lineBreak >= 0 || !layout) {
    doc.insertions.push({ offset: layout ? lineBreak : start[element], seq, before: newline, doc: fragment, after: "" });
  } else {
    // The first line of an inserted fragment: its line break lies outside this document.
    doc.insertions.push({ offset: start[element], seq, before: "", doc: fragment, after: newline });
  }
}

function replaceElement(run: PlanRun, m: Match, source: FragmentSource): void {
  const doc = asDoc(m.view);
  const element = m.element;
  const { start, end } = doc.table;
  const close = doc.closeOf(element);
  const indent = run.style.indentUnit !== null ? doc.indentAt(start[element]) : null;
  const fragment = doc.fragmentDoc(source, indent);
  doc.markDead(element);
  doc.removals.push({ from: start[element], to: end[close] });
  doc.structural = true;
  // Later selectors find the replacement where the old element was: under the same parent.
  if (m.parent >= 0) asDoc(m.parentView).attachFragment(m.parent, fragment);
  doc.insertions.push({ offset: start[element], seq: run.seq++, before: "", doc: fragment, after: "" });
}

/** Removes an element with the line it stands on; false when an earlier op already removed it. */
function removeElement(doc: Doc, element: number): boolean {
  if (doc.dead !== null && doc.dead[element] === 1) return false;
  const { start, end } = doc.table;
  const close = doc.closeOf(element);
  const bytes = doc.bytes;
  doc.markDead(element);
  doc.structural = true;
  const lineBreak = lineBreakBefore(bytes, start[element], doc.floor);
  const stop = end[close];
  const from = lineBreak >= 0 && lineEndsAfter(bytes, stop, bytes.length) ? lineBreak : start[element];
  doc.removals.push({ from, to: stop });
  return true;
}

/**
 * ensure: when nothing matches the whole path, create what is missing below the deepest
 * element that matches a prefix of it (the first such in document order); when something
 * matches, do nothing (DESIGN.md: "does nothing when the path exists"). Creating under every
 * prefix match instead would not be idempotent (`ensure a/b` then `ensure a[@t='x']` would
 * grow a <b> in the second <a> on the next run).
 */
function applyEnsure(run: PlanRun, base: Doc, op: CompiledOp): void {
  const steps = op.selector.steps;
  const last = steps.length - 1;
  const matches = evaluate(op.selector, base, true);
  let deepest: Match | null = null;
  let depth = -1;
  for (const m of matches) {
    if ((m.steps & (1 << last)) !== 0) return;
    for (let j = last - 1; j > depth; j--) {
      if ((m.steps & (1 << j)) !== 0) {
        deepest = m;
        depth = j;
        break;
      }
    }
  }
  if (deepest === null) return; // not even the root matches: a document has one root
  for (let j = depth + 1; j <= last; j++) {
    if (!creatable(steps[j])) {
      throw new PatchError(
        "not-applicable",
        `${op.label}: no <${steps[j].name.text}> (step ${j + 1}) matches its predicates, and ensure cannot create one from them: only [@attr='value'] predicates say what to create (they become attributes); make it exist first, e.g. with add`,
        { opIndex: op.index, path: op.op.path },
      );
    }
  }
  const m = deepest;
  const source = chainFragment(run, base, op.selector, depth + 1);
  // Where an earlier op of this plan removed an element of that name, re-create it in its
  // place rather than at the end, so that remove + ensure stays idempotent.
  const name = steps[depth + 1].name.text;
  const removed = asDoc(m.view).removedChildren?.get(m.element)?.find((r) => elementName(r.doc, r.element) === name);
  if (removed !== undefined) {
    insertBeside(run, removed.doc, { view: removed.doc, element: removed.element, parentView: m.view, parent: m.element, steps: 0 }, source, true);
  } else {
    insertInto(run, asDoc(m.view), m.element, source, false);
  }
}

function elementName(doc: Doc, element: number): string {
  return decoder.decode(doc.bytes.subarray(doc.table.start[element] + 1, doc.table.mid[element]));
}

/** The elements of steps [from..] nested, with predicate attributes, as a fragment. */
function chainFragment(run: PlanRun, base: Doc, selector: Selector, from: number): FragmentSource {
  const style = run.style;
  const quote = String.fromCharCode(style.quote);
  const tags: string[] = [];
  // A created prefixed element declares its prefix unless the root already binds it to the
  // same URI (libvirt's xmlns:qemu on <domain>); without it the output would not be
  // namespace-well-formed.
  const declared = new Set<string>();
  let rootBindings: Map<string, string> | null = null;
  for (let j = from; j < selector.steps.length; j++) {
    const step = selector.steps[j];
    let tag = step.name.text;
    const prefix = step.name.prefix;
    if (prefix !== null && !declared.has(prefix)) {
      rootBindings ??= base.rootBindings();
      const uri = selector.namespaces[prefix] ?? rootBindings.get(prefix) ?? WELL_KNOWN_NAMESPACES[prefix];
      if (uri !== undefined && rootBindings.get(prefix) !== uri) tag += ` xmlns:${prefix}=${quote}${escapeAttribute(uri, style.quote)}${quote}`;
      declared.add(prefix);
    }
    for (const predicate of step.predicates) {
      if (predicate.kind !== "conditions") continue;
      for (const term of predicate.terms) tag += ` ${term.attribute!.text}=${quote}${escapeAttribute(term.valueText!, style.quote)}${quote}`;
    }
    tags.push(tag);
  }
  let text = "";
  for (let j = selector.steps.length - 1; j >= from; j--) {
    const tag = tags[j - from];
    const name = selector.steps[j].name.text;
    if (text === "") text = style.selfClosing ? `<${tag}/>` : `<${tag}></${name}>`;
    else text = `<${tag}>${text}</${name}>`;
  }
  const wrapped = utf8(WRAP_OPEN + text + WRAP_CLOSE);
  const result = tokenize(wrapped);
  if (!result.ok) throw new PatchError("invalid-op", `ensure ${selector.source}: cannot create ${text}: ${result.error.message}`, { path: selector.source });
  return new FragmentSource(wrapped, result.table);
}
