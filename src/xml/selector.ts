// Selectors: the XPath subset of DESIGN.md "Library API", parsed once (names and literal values
// encoded to UTF-8 bytes at compile time) and evaluated in one forward pass over a token table
// with a stack of step bitmasks, no DOM.
//
//   /domain/devices/interface        absolute child steps      *      any element
//   //name  /domain//alias           descendant steps (also mid-path)
//   qemu:commandline                 prefixed names, matched by namespace URI
//   [@a]  [@a='v']  [@a="v"]  [n]    attribute exists / equals, 1-based position among the
//                                    siblings that passed the step's name test and earlier
//                                    predicates
//   [alias/@name='ua-default']       child-value predicates: a relative child path, ending in
//   [model]  [name='x']  [text()='x'] an element (exists / its text equals), @attr or text()
//   [@a='v' and model]               `and` between conditions
//   .../@attr  .../text()            final steps: an attribute or an element's text
//
// Namespaces. A prefixed selector name `p:local` matches an element whose own prefix resolves
// (through the xmlns declarations in scope) to the same namespace URI as `p`; `p` is bound by
// the op's `namespaces` option first, then by the document's declarations in scope at the
// element, then by the well-known prefixes (qemu = http://libvirt.org/schemas/domain/qemu/1.0).
// An unprefixed selector name matches an element written without a prefix, whatever default
// namespace is in scope: `/domain/metadata/kubevirt` matches libvirt's
// `<kubevirt xmlns="http://kubevirt.io">` as its author sees it, and never a prefixed element
// such as `<qemu:commandline>`. To insist on a namespace, bind a prefix (`kv:kubevirt` with
// namespaces {kv: "http://kubevirt.io"} matches both `<kubevirt xmlns="http://kubevirt.io">` and
// `<k:kubevirt xmlns:k="http://kubevirt.io">`). Attribute names compare as written (qualified
// name bytes), since libvirt attributes carry no prefixes that vary between documents.
//
// Values compare after the document's character and predefined entity references are decoded.
// Text compared by [name='x'] / [text()='x'] is an element's own character data (its Text and
// CDATA children), not that of deeper descendants.

import type { TokenTable } from "./tokens.ts";

// TokenKind values as plain constants: a const enum imported from another module is a property
// read per use under transpilers that compile files one by one (tsx, esbuild without bundling).
// (The loops over every child, walk/walkPlain/findAttribute, write the kinds as literals: V8
// reloads a module-level const from the module context and checks it on every use in
// optimized code; literals saved ~1,100 of ~48,000 instructions per bench apply at 8 KB.)
const K_C_DATA = 5; // TokenKind.CData
const K_TEXT = 6; // TokenKind.Text
const K_START_TAG = 7; // TokenKind.StartTag
const K_EMPTY_TAG = 8; // TokenKind.EmptyTag
const K_ATTRIBUTE = 10; // TokenKind.Attribute
import { bytesEqual, decodeReferences, utf8 } from "./escape.ts";
import { lentChildCandidates } from "./wasm.ts";

export const WELL_KNOWN_NAMESPACES: Readonly<Record<string, string>> = Object.freeze({
  qemu: "http://libvirt.org/schemas/domain/qemu/1.0",
  xml: "http://www.w3.org/XML/1998/namespace",
});

/** The most steps a selector may have (step sets are 31-bit masks). */
export const MAX_STEPS = 30;

export interface NameTest {
  /** `*`: any element. */
  any: boolean;
  /** Prefix as written, or null. */
  prefix: string | null;
  /** Local name as UTF-8 bytes (for attributes: the whole qualified name). */
  local: Uint8Array;
  /** The name as written, for messages and for building elements. */
  text: string;
}

export interface Condition {
  /** Relative child steps before the final part; empty for `@a` / `text()` of the candidate. */
  steps: Step[];
  /** What the condition reads at the end of `steps`. */
  target: "element" | "attribute" | "text";
  attribute: NameTest | null;
  /** Literal to compare with (UTF-8), or null for an existence test. */
  value: Uint8Array | null;
  valueText: string | null;
}

export type Predicate = { kind: "position"; n: number } | { kind: "conditions"; terms: Condition[] };

export interface Step {
  descendant: boolean;
  name: NameTest;
  predicates: Predicate[];
}

export interface Selector {
  source: string;
  steps: Step[];
  /** What a match is: the element, one of its attributes, or its text. */
  target: "element" | "attribute" | "text";
  attribute: NameTest | null;
  /** Some step has a [n] predicate (positions are not tracked across earlier edits). */
  hasPosition: boolean;
  /** Some name has a prefix (the evaluator then tracks xmlns declarations). */
  hasPrefix: boolean;
  /** Prefix bindings the op supplied. */
  namespaces: Readonly<Record<string, string>>;
}

/** A selector that does not parse: `column` is 1-based within the selector text. */
export class SelectorError extends Error {
  constructor(
    readonly selector: string,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`bad selector "${selector}" at column ${column}: ${reason}`);
  }
}


// ---------------------------------------------------------------------------------------------
// Parsing

/** Parses a selector; throws SelectorError naming the column. */
export function parseSelector(source: string, namespaces: Readonly<Record<string, string>> = {}): Selector {
  const parser = new SelectorParser(source);
  return parser.parse(namespaces);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Characters that end a name in a selector: whitespace and / [ ] @ = ( ) ' " * , | ! < > */
function isDelimiter(c: number): boolean {
  return isSpace(c) || c === 0x2f || c === 0x5b || c === 0x5d || c === 0x40 || c === 0x3d || c === 0x28 || c === 0x29 || c === 0x27 || c === 0x22 || c === 0x2a || c === 0x2c || c === 0x7c || c === 0x21 || c === 0x3c || c === 0x3e;
}

class SelectorParser {
  pos = 0;
  hasPosition = false;
  hasPrefix = false;
  constructor(readonly source: string) {}

  fail(reason: string, at = this.pos): never {
    throw new SelectorError(this.source, at + 1, reason);
  }

  peek(): string {
    return this.source[this.pos] ?? "";
  }

  skipSpace(): void {
    while (this.pos < this.source.length && isSpace(this.source.charCodeAt(this.pos))) this.pos++;
  }

  parse(namespaces: Readonly<Record<string, string>>): Selector {
    const s = this.source;
    if (s.length === 0) this.fail("empty selector");
    if (s[0] !== "/") this.fail("a selector starts with / (absolute path, e.g. /domain/devices)");
    const steps: Step[] = [];
    let target: Selector["target"] = "element";
    let attribute: NameTest | null = null;
    while (this.pos < s.length) {
      if (s[this.pos] !== "/") this.fail(`expected / or [ but found '${s[this.pos]}'`);
      this.pos++;
      let descendant = false;
      if (s[this.pos] === "/") {
        descendant = true;
        this.pos++;
      }
      if (s[this.pos] === "@") {
        if (descendant) this.fail("//@attr is not supported; name the element: //element/@attr");
        if (steps.length === 0) this.fail("an attribute step needs an element before it");
        this.pos++;
        attribute = this.name(true);
        target = "attribute";
        if (this.pos < s.length) this.fail("@attr must be the last step");
        break;
      }
      if (s.startsWith("text()", this.pos)) {
        if (descendant || steps.length === 0) this.fail("text() must follow an element step");
        this.pos += 6;
        target = "text";
        if (this.pos < s.length) this.fail("text() must be the last step");
        break;
      }
      steps.push(this.step(descendant));
      if (steps.length > MAX_STEPS) this.fail(`more than ${MAX_STEPS} steps`);
    }
    if (steps.length === 0) this.fail("no element step");
    return { source: s, steps, target, attribute, hasPosition: this.hasPosition, hasPrefix: this.hasPrefix, namespaces };
  }

  step(descendant: boolean): Step {
    const name = this.name(false);
    const predicates: Predicate[] = [];
    while (this.peek() === "[") {
      this.pos++;
      predicates.push(this.predicate());
    }
    return { descendant, name, predicates };
  }

  name(isAttribute: boolean): NameTest {
    const s = this.source;
    const start = this.pos;
    if (!isAttribute && s[this.pos] === "*") {
      this.pos++;
      return { any: true, prefix: null, local: new Uint8Array(0), text: "*" };
    }
    while (this.pos < s.length && !isDelimiter(s.charCodeAt(this.pos))) this.pos++;
    const text = s.slice(start, this.pos);
    if (text === "") this.fail(this.pos < s.length ? `expected a name but found '${s[this.pos]}'` : "expected a name at the end");
    if (/^[-.0-9]/.test(text)) this.fail(`'${text}' is not a name (names cannot start with a digit, '-' or '.')`, start);
    const colon = text.indexOf(":");
    if (colon !== text.lastIndexOf(":") || colon === 0 || colon === text.length - 1) this.fail(`'${text}' is not a valid qualified name`, start);
    if (isAttribute) return { any: false, prefix: null, local: utf8(text), text };
    if (colon > 0) {
      this.hasPrefix = true;
      return { any: false, prefix: text.slice(0, colon), local: utf8(text.slice(colon + 1)), text };
    }
    return { any: false, prefix: null, local: utf8(text), text };
  }

  predicate(): Predicate {
    this.skipSpace();
    const s = this.source;
    if (/[0-9]/.test(this.peek())) {
      const start = this.pos;
      while (/[0-9]/.test(this.peek())) this.pos++;
      const n = Number(s.slice(start, this.pos));
      if (n < 1) this.fail("positions start at 1", start);
      this.skipSpace();
      if (this.peek() !== "]") this.fail("expected ] after the position");
      this.pos++;
      this.hasPosition = true;
      return { kind: "position", n };
    }
    const terms: Condition[] = [this.condition()];
    for (;;) {
      this.skipSpace();
      if (this.peek() === "]") {
        this.pos++;
        return { kind: "conditions", terms };
      }
      if (s.startsWith("and", this.pos) && /[\s'"@]/.test(s[this.pos + 3] ?? "")) {
        this.pos += 3;
        terms.push(this.condition());
        continue;
      }
      if (s.startsWith("or", this.pos)) this.fail("'or' is not supported (use two operations)");
      this.fail(this.pos < s.length ? `expected 'and' or ] but found '${s[this.pos]}'` : "unclosed [");
    }
  }

  condition(): Condition {
    this.skipSpace();
    const s = this.source;
    const steps: Step[] = [];
    let target: Condition["target"] = "element";
    let attribute: NameTest | null = null;
    for (;;) {
      if (this.peek() === "@") {
        this.pos++;
        attribute = this.name(true);
        target = "attribute";
        break;
      }
      if (s.startsWith("text()", this.pos)) {
        this.pos += 6;
        target = "text";
        break;
      }
      if (this.peek() === "/") this.fail("paths inside [ ] are relative (no leading / or //)");
      steps.push(this.step(false));
      if (this.peek() !== "/") break;
      this.pos++;
      if (this.peek() === "/") this.fail("// is not supported inside [ ]");
    }
    this.skipSpace();
    if (this.peek() === "!") this.fail("'!=' is not supported");
    if (this.peek() !== "=") return { steps, target, attribute, value: null, valueText: null };
    this.pos++;
    this.skipSpace();
    const quote = this.peek();
    if (quote !== "'" && quote !== '"') this.fail("expected a quoted value ('v' or \"v\")");
    const close = s.indexOf(quote, this.pos + 1);
    if (close < 0) this.fail("unclosed quoted value");
    const valueText = s.slice(this.pos + 1, close);
    this.pos = close + 1;
    return { steps, target, attribute, value: utf8(valueText), valueText };
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/**
 * What the evaluator reads: a token table plus the effects of earlier operations of the same
 * plan that have not been written out yet (the plan's documents implement this).
 */
export interface DocView {
  bytes: Uint8Array;
  table: TokenTable;
  /** Token index -> 1 when an earlier op removed it (or null when nothing was removed). */
  dead: Uint8Array | null;
  /** An earlier op's value for attribute `name` of tag `tag`: a string, null (removed) or undefined (untouched). */
  attributeOverride(tag: number, name: Uint8Array): string | null | undefined;
  /** Text an earlier op gave element `element`, or undefined. */
  textOverride(element: number): string | undefined;
  /** Documents (fragments) earlier ops inserted as children of `element`, or null. */
  childFragments(element: number): readonly DocView[] | null;
  /** First and last+1 token of a fragment's content (inside its wrapper), for fragment views. */
  contentRange(): [from: number, to: number];
}

export interface Match {
  view: DocView;
  element: number;
  /** The parent element (in `parentView`), or -1 for the root. */
  parentView: DocView;
  parent: number;
  /** Which steps the element matched (bit j = step j). */
  steps: number;
}

/** Evaluation needs a fresh token table (thrown when [n] meets edits the plan cannot track). */
export class NeedsRebase extends Error {}

interface Scope {
  prefixes: string[];
  uris: string[];
}

const decoder = new TextDecoder();

/**
 * Every element the selector's element steps match, in document order within each document.
 * With `everyStep`, also elements that matched only a prefix of the steps (for `ensure`).
 */
export function evaluate(selector: Selector, view: DocView, everyStep = false): Match[] {
  const out: Match[] = [];
  const steps = selector.steps;
  let descendantMask = 0;
  for (let j = 0; j < steps.length; j++) if (steps[j].descendant) descendantMask |= 1 << j;
  const evaluator = new Evaluator(selector, descendantMask, (1 << steps.length) - 1, everyStep, out);
  const [from, to] = view.contentRange();
  evaluator.walk(view, -1, view, from, to, 1);
  return out;
}

class Evaluator {
  scope: Scope | null;
  lastBit: number;
  /**
   * Per step: its name's bytes when walkPlain can test it (a plain child step: a name without
   * prefix or predicates, no //, no xmlns tracking), else null.
   */
  plainNames: (Uint8Array | null)[];
  constructor(
    readonly selector: Selector,
    readonly descendantMask: number,
    readonly allMask: number,
    readonly everyStep: boolean,
    readonly out: Match[],
  ) {
    this.scope = selector.hasPrefix ? { prefixes: [], uris: [] } : null;
    this.lastBit = 1 << (selector.steps.length - 1);
    this.plainNames = selector.steps.map((step) =>
      this.scope === null && !step.descendant && !step.name.any && step.name.prefix === null && step.predicates.length === 0 ? step.name.local : null,
    );
  }

  /** Visits the elements among tokens [from, to) of `view` (children of `parent`) that `want` steps may match. */
  walk(parentView: DocView, parent: number, view: DocView, from: number, to: number, want: number): void {
    const { kind, link, start } = view.table;
    const bytes = view.bytes;
    const dead = view.dead;
    const steps = this.selector.steps;
    const counters = this.selector.hasPosition ? new Int32Array(steps.length) : null;
    // The common level: one step wanted, a plain name (the child steps of /domain/devices/
    // interface/rom). Elements whose first name byte differs are skipped right away, without
    // the general step test; on the 1 MB bench input that halved the ~150 µs this walk took.
    // Not for a // step: the elements it skips must still be walked into.
    const single = (want & (want - 1)) === 0 && want !== 0 && (want & this.descendantMask) === 0;
    const only = single ? steps[31 - Math.clz32(want)] : null;
    const first = only !== null && !only.name.any && only.name.prefix === null ? only.name.local[0] : -1;
    if (single && this.plainNames[31 - Math.clz32(want)] !== null) {
      this.walkPlain(parentView, parent, view, from, to, want, this.plainNames[31 - Math.clz32(want)]!);
      return;
    }
    for (let i = from; i < to; ) {
      const k = kind[i];
      if (k !== 7 /* StartTag */ && k !== 8 /* EmptyTag */) {
        i++;
        continue;
      }
      const close = k === 7 /* StartTag */ ? link[i] : i;
      if ((dead !== null && dead[i] === 1) || (first >= 0 && bytes[start[i] + 1] !== first)) {
        i = close + 1;
        continue;
      }
      const scopeDepth = this.scope === null ? 0 : this.pushScope(view, i);
      let matched = 0;
      for (let j = 0, bits = want; bits !== 0; j++, bits >>>= 1) {
        if ((bits & 1) === 0) continue;
        if (this.stepMatches(steps[j], j, view, i, counters)) matched |= 1 << j;
      }
      if (matched !== 0 && ((matched & this.lastBit) !== 0 || this.everyStep)) {
        this.out.push({ view, element: i, parentView, parent, steps: matched });
      }
      const childWant = ((matched << 1) & this.allMask) | (want & this.descendantMask);
      if (childWant !== 0) {
        if (k === 7 /* StartTag */) this.walk(view, i, view, i + 1, close, childWant);
        const fragments = view.childFragments(i);
        if (fragments !== null) {
          for (const fragment of fragments) {
            const [a, b] = fragment.contentRange();
            this.walk(view, i, fragment, a, b, childWant);
          }
        }
      }
      if (this.scope !== null) this.popScope(scopeDepth);
      i = close + 1;
    }
  }

  /**
   * walk() for the most common level: one plain child step wanted (a name without prefix or
   * predicates: each step of /domain/devices/interface/rom). Only elements of that name are
   * matched and walked into, so the loop is a name test per child, no step-mask bookkeeping.
   * The four selectors of the bench patch on the 8 KB domain visit 170 tokens; evaluating them
   * took ~1.0 µs through the general loop, against ~0.2 µs for the bare loops over the same
   * children (bench: walk was ~28% of apply's own time).
   */
  walkPlain(parentView: DocView, parent: number, view: DocView, from: number, to: number, want: number, name: Uint8Array): void {
    const table = view.table;
    const kind = table.kind;
    const link = table.link;
    const start = table.start;
    const bytes = view.bytes;
    const dead = view.dead;
    const first = name[0];
    const last = want === this.lastBit;
    const childWant = (want << 1) & this.allMask;
    // The next step's name when it is plain too: walked into directly, without walk()'s setup.
    const childName = childWant !== 0 ? this.plainNames[31 - Math.clz32(childWant)] : null;
    // A long run of siblings (the ~4,100 children of <devices> at 1 MB, over 16,384 tokens)
    // over a table lent from the WASM kernel: the elements whose name starts with `first` are
    // found by the kernel in one call (its loop is ~2x the speed of nextChildNamed's here, where
    // the arrays are not constants), then tested here one by one. Shorter runs (a 64 KB domain's
    // <devices>, ~5,000 tokens) gain less than the call costs.
    const candidates = to - from > 16384 ? lentChildCandidates(kind, link, start, bytes, from, to, first) : null;
    let next = 0;
    for (let i = from; ; ) {
      if (candidates !== null) {
        if (next === candidates.length) break;
        i = candidates[next++];
      } else {
        i = nextChildNamed(kind, link, start, bytes, i, to, first);
        if (i >= to) break;
      }
      const k = kind[i];
      const close = k === 7 /* StartTag */ ? link[i] : i;
      if ((dead !== null && dead[i] === 1) || !namedAt(bytes, start[i] + 1, name)) {
        i = close + 1;
        continue;
      }
      if (last || this.everyStep) this.out.push({ view, element: i, parentView, parent, steps: want });
      if (childWant !== 0) {
        if (k === 7 /* StartTag */) {
          if (childName === null) this.walk(view, i, view, i + 1, close, childWant);
          else if (childWant === this.lastBit && !this.everyStep) {
            // The last step, plain (the <rom> children of each of the 180 <interface> elements
            // at 1 MB): its loop here, without a call and walkPlain's setup per parent.
            const childFirst = childName[0];
            for (let c = i + 1; ; ) {
              c = nextChildNamed(kind, link, start, bytes, c, close, childFirst);
              if (c >= close) break;
              const ck = kind[c];
              if ((dead === null || dead[c] !== 1) && namedAt(bytes, start[c] + 1, childName)) this.out.push({ view, element: c, parentView: view, parent: i, steps: childWant });
              c = (ck === 7 /* StartTag */ ? link[c] : c) + 1;
            }
          } else this.walkPlain(view, i, view, i + 1, close, childWant, childName);
        }
        const fragments = view.childFragments(i);
        if (fragments !== null) {
          for (const fragment of fragments) {
            const [a, b] = fragment.contentRange();
            this.walk(view, i, fragment, a, b, childWant);
          }
        }
      }
      i = close + 1;
    }
  }

  pushScope(view: DocView, tag: number): number {
    const scope = this.scope!;
    const depth = scope.prefixes.length;
    const { kind, start, mid, end, link, count } = view.table;
    const bytes = view.bytes;
    for (let a = tag + 1; a < count && kind[a] === K_ATTRIBUTE && link[a] === tag; a++) {
      const s = start[a];
      // xmlns or xmlns:p
      if (bytes[s] !== 0x78 || bytes[s + 1] !== 0x6d || bytes[s + 2] !== 0x6c || bytes[s + 3] !== 0x6e || bytes[s + 4] !== 0x73) continue;
      const nameEnd = mid[a];
      let prefix: string;
      if (nameEnd === s + 5) prefix = "";
      else if (bytes[s + 5] === 0x3a) prefix = decoder.decode(bytes.subarray(s + 6, nameEnd));
      else continue;
      const override = view.attributeOverride(tag, bytes.subarray(s, nameEnd));
      const uri = override !== undefined ? override : attributeValueText(bytes, end[a]  , a, view);
      scope.prefixes.push(prefix);
      scope.uris.push(uri ?? "");
    }
    return depth;
  }

  popScope(depth: number): void {
    this.scope!.prefixes.length = depth;
    this.scope!.uris.length = depth;
  }

  resolve(prefix: string): string | undefined {
    const scope = this.scope!;
    for (let i = scope.prefixes.length - 1; i >= 0; i--) if (scope.prefixes[i] === prefix) return scope.uris[i];
    return WELL_KNOWN_NAMESPACES[prefix];
  }

  nameMatches(test: NameTest, view: DocView, tag: number): boolean {
    if (test.any) return true;
    const bytes = view.bytes;
    const nameStart = view.table.start[tag] + 1;
    // An unprefixed name is compared without reading `mid`: the byte after a tag's name is
    // whitespace, > or /. Walking /domain/devices/interface/rom over the 1 MB bench input
    // visits ~4,000 elements scattered over 2.4 MB of input and token arrays, and is bound by
    // cache misses (~150 µs); one array fewer per element is one miss fewer.
    if (test.prefix === null) return namedAt(bytes, nameStart, test.local);
    const nameEnd = view.table.mid[tag];
    const localLength = test.local.length;
    const colon = nameEnd - localLength - 1;
    let elementUri: string | undefined;
    if (nameEnd - nameStart === localLength) {
      // Unprefixed element: its namespace is the default namespace in scope (or none).
      if (!bytesEqual(bytes, nameStart, nameEnd, test.local)) return false;
      elementUri = this.resolve("") ?? "";
    } else {
      if (colon <= nameStart || bytes[colon] !== 0x3a || !bytesEqual(bytes, colon + 1, nameEnd, test.local)) return false;
      elementUri = this.resolve(decoder.decode(bytes.subarray(nameStart, colon)));
    }
    const selectorUri = this.selector.namespaces[test.prefix] ?? this.resolve(test.prefix);
    return elementUri !== undefined && elementUri !== "" && elementUri === selectorUri;
  }

  stepMatches(step: Step, j: number, view: DocView, tag: number, counters: Int32Array | null): boolean {
    if (!this.nameMatches(step.name, view, tag)) return false;
    for (const predicate of step.predicates) {
      if (predicate.kind === "position") {
        if (++counters![j] !== predicate.n) return false;
      } else {
        for (const term of predicate.terms) if (!this.conditionHolds(term, view, tag)) return false;
      }
    }
    return true;
  }

  conditionHolds(condition: Condition, view: DocView, element: number): boolean {
    return this.relativeHolds(condition, 0, view, element);
  }

  /** Whether some child path from `element` through condition.steps[s..] satisfies the condition. */
  relativeHolds(condition: Condition, s: number, view: DocView, element: number): boolean {
    if (s === condition.steps.length) return finalHolds(condition, view, element);
    const step = condition.steps[s];
    const counters = hasPositionPredicate(step) ? new Int32Array(1) : null;
    if (view.table.kind[element] === K_START_TAG && this.childHolds(condition, s, view, element + 1, view.table.link[element], counters)) return true;
    const fragments = view.childFragments(element);
    if (fragments !== null) {
      if (counters !== null) throw new NeedsRebase();
      for (const fragment of fragments) {
        const range = fragment.contentRange();
        if (this.childHolds(condition, s, fragment, range[0], range[1], counters)) return true;
      }
    }
    return false;
  }

  /** Whether an element among tokens [from, to) of `view` matches condition.steps[s] and the rest of the path holds from it. */
  childHolds(condition: Condition, s: number, view: DocView, from: number, to: number, counters: Int32Array | null): boolean {
    const step = condition.steps[s];
    const { kind, link } = view.table;
    const dead = view.dead;
    for (let i = from; i < to; ) {
      const k = kind[i];
      if (k !== K_START_TAG && k !== K_EMPTY_TAG) {
        i++;
        continue;
      }
      const close = k === K_START_TAG ? link[i] : i;
      if (dead === null || dead[i] !== 1) {
        if (this.stepMatches(step, 0, view, i, counters) && this.relativeHolds(condition, s + 1, view, i)) return true;
      }
      i = close + 1;
    }
    return false;
  }
}

function hasPositionPredicate(step: Step): boolean {
  for (const predicate of step.predicates) if (predicate.kind === "position") return true;
  return false;
}

/**
 * The first element among sibling tokens [from, to) whose name starts with byte `first` (each
 * other element skipped with its subtree), or `to`. walkPlain's scan over the children of a
 * level, a function of its own: with only these few arrays live, V8 keeps them in registers.
 * Over the ~4,100 children of <devices> in the 1 MB bench input, a test name no child has:
 * ~39 µs as a loop inside walkPlain, ~29 µs through this (bundled, Node 20, 2026-11-28).
 */
function nextChildNamed(kind: Uint8Array, link: Int32Array, start: Uint32Array, bytes: Uint8Array, from: number, to: number, first: number): number {
  let i = from;
  while (i < to) {
    let k = kind[i];
    // Indentation text before the next element, the common case: stepped over without a round.
    if (k === 6 /* Text */) {
      if (++i >= to) break;
      k = kind[i];
    }
    if (k === 7 /* StartTag */) {
      if (bytes[start[i] + 1] === first) return i;
      i = link[i] + 1;
    } else if (k === 8 /* EmptyTag */) {
      if (bytes[start[i] + 1] === first) return i;
      i++;
    } else i++;
  }
  return to;
}

/** Whether the tag name starting at `nameStart` is exactly `name`. */
function namedAt(bytes: Uint8Array, nameStart: number, name: Uint8Array): boolean {
  const n = name.length;
  for (let i = 0; i < n; i++) if (bytes[nameStart + i] !== name[i]) return false;
  const c = bytes[nameStart + n];
  return c === 0x3e || c === 0x2f || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function finalHolds(condition: Condition, view: DocView, element: number): boolean {
  if (condition.target === "attribute") {
    const name = condition.attribute!.local;
    if (view.attributeOverride(element, name) === undefined) {
      const a = findAttribute(view, element, name);
      if (a < 0) return false;
      if (condition.value === null) return true;
      const end = view.table.end[a];
      return rawValueEquals(view.bytes, valueStart(view.bytes, view.table.mid[a], end), end - 1, condition.value);
    }
    const value = attributeValueBytes(view, element, name);
    if (value === null) return false;
    return condition.value === null || bytesEqual(value, 0, value.length, condition.value);
  }
  if (condition.value === null && condition.target === "element") return true;
  const text = elementTextBytes(view, element);
  if (condition.value === null) return text.length > 0;
  return bytesEqual(text, 0, text.length, condition.value);
}

/**
 * Whether value bytes [from, to), references decoded, equal `expected`. Compared in place up to
 * the first `&` (bytes before it decode to themselves, and decoding never lengthens a value),
 * decoded only from there: a [@a='v'] test runs once per candidate element, and a decoded copy
 * per test was the largest part of predicate-heavy patches after the walk itself.
 */
function rawValueEquals(bytes: Uint8Array, from: number, to: number, expected: Uint8Array): boolean {
  const n = expected.length;
  const length = to - from;
  if (length < n) return false;
  for (let i = 0; i < length; i++) {
    const c = bytes[from + i];
    if (c === 0x26) {
      const value = decodeReferences(bytes, from, to);
      return bytesEqual(value, 0, value.length, expected);
    }
    if (i >= n || c !== expected[i]) return false;
  }
  return length === n;
}

/** The decoded value of attribute `name` of tag `tag`, after earlier ops' edits, or null. */
export function attributeValueBytes(view: DocView, tag: number, name: Uint8Array): Uint8Array | null {
  const override = view.attributeOverride(tag, name);
  if (override !== undefined) return override === null ? null : utf8(override);
  const a = findAttribute(view, tag, name);
  if (a < 0) return null;
  const end = view.table.end[a];
  return decodeReferences(view.bytes, valueStart(view.bytes, view.table.mid[a], end), end - 1);
}

function attributeValueText(bytes: Uint8Array, end: number, a: number, view: DocView): string {
  return decoder.decode(decodeReferences(bytes, valueStart(bytes, view.table.mid[a], end), end - 1));
}

/** Offset of the first value byte of an attribute token whose name ends at `nameEnd`. */
export function valueStart(bytes: Uint8Array, nameEnd: number, end: number): number {
  const quote = bytes[end - 1];
  let p = nameEnd;
  while (bytes[p] !== quote) p++;
  return p + 1;
}

/** Index of the Attribute token `name` of tag `tag` in the table (ignoring edits), or -1. */
export function findAttribute(view: DocView, tag: number, name: Uint8Array): number {
  const { kind, start, mid, link, count } = view.table;
  for (let a = tag + 1; a < count && kind[a] === 10 /* Attribute */ && link[a] === tag; a++) {
    if (bytesEqual(view.bytes, start[a], mid[a], name)) return a;
  }
  return -1;
}

/** An element's own character data (Text and CDATA children, references decoded), after edits. */
export function elementTextBytes(view: DocView, element: number): Uint8Array {
  const override = view.textOverride(element);
  if (override !== undefined) return utf8(override);
  const { kind, start, end, link } = view.table;
  if (kind[element] !== K_START_TAG) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  const dead = view.dead;
  for (let i = element + 1; i < link[element]; i++) {
    const k = kind[i];
    if (k === K_START_TAG) {
      i = link[i];
      continue;
    }
    if (dead !== null && dead[i] === 1) continue;
    if (k === K_TEXT) parts.push(decodeReferences(view.bytes, start[i], end[i]));
    else if (k === K_C_DATA) parts.push(view.bytes.subarray(start[i] + 9, end[i] - 3));
  }
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}
