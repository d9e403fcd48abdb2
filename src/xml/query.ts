// Reading a document with the patch language's selectors: what a hook needs to decide what to
// patch (is there a <memoryBacking>? which access mode? what is this interface's alias?)
// without a DOM. Same selectors, same matching, same namespace rules as patch(); one tokenize.

import { tokenize } from "./tokenizer.ts";
import { evaluate, parseSelector, attributeValueBytes, elementTextBytes, type DocView, type Selector } from "./selector.ts";
import { formatXmlError } from "./errors.ts";
import { PatchError } from "./plan.ts";
import { TokenKind, type TokenTable } from "./tokens.ts";

export interface QueryOptions {
  /** Prefix -> namespace URI bindings for prefixed names in the selector (as in a patch op). */
  namespaces?: Record<string, string>;
}

/** One match: the element's source text, or the decoded value of the attribute / text it names. */
export interface QueryMatch {
  /**
   * For `.../@attr`: the attribute's value, references decoded. For `.../text()`: the element's
   * own character data. For an element: its source text, exactly as in the input.
   */
  readonly value: string;
  /** Byte range of the element in the input (for an attribute or text(), of its element). */
  readonly start: number;
  readonly end: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A document tokenized once, for several queries (a plugin asks a handful of questions of the
 * same domain; each query() of its own would tokenize again, ~15 µs at 8 KB).
 * Malformed XML throws PatchError("malformed-xml") naming line:column, as patch() does.
 */
export class DocumentReader {
  private readonly view: DocView;

  constructor(input: Uint8Array | string) {
    const bytes = typeof input === "string" ? encoder.encode(input) : input;
    const result = tokenize(bytes);
    if (!result.ok) {
      const { line, column, offset } = result.error;
      throw new PatchError("malformed-xml", `input is not well-formed XML: ${formatXmlError(result.error)}`, { line, column, offset, xmlError: result.error });
    }
    this.view = plainView(bytes, result.table);
  }

  /**
   * Every match of `path`, in document order. An attribute selector yields only the elements
   * that carry the attribute. A bad selector throws PatchError("bad-selector").
   */
  query(path: string, options: QueryOptions = {}): QueryMatch[] {
    let selector: Selector;
    try {
      selector = parseSelector(path, options.namespaces ?? {});
    } catch (error) {
      throw new PatchError("bad-selector", (error as Error).message, { path });
    }
    const view = this.view;
    const bytes = view.bytes;
    const out: QueryMatch[] = [];
    const { start, end, link, kind } = view.table;
    for (const match of evaluate(selector, view)) {
      const element = match.element;
      const elementEnd = end[kind[element] === TokenKind.StartTag ? link[element] : element];
      let value: string;
      if (selector.target === "attribute") {
        const attribute = attributeValueBytes(view, element, selector.attribute!.local);
        if (attribute === null) continue;
        value = decoder.decode(attribute);
      } else if (selector.target === "text") {
        value = decoder.decode(elementTextBytes(view, element));
      } else {
        value = decoder.decode(bytes.subarray(start[element], elementEnd));
      }
      out.push({ value, start: start[element], end: elementEnd });
    }
    return out;
  }

  /** The first match's value, or undefined when nothing matches. */
  value(path: string, options?: QueryOptions): string | undefined {
    return this.query(path, options)[0]?.value;
  }
}

/** Every match of `path` in the document (one query: see DocumentReader for several). */
export function query(input: Uint8Array | string, path: string, options: QueryOptions = {}): QueryMatch[] {
  return new DocumentReader(input).query(path, options);
}

/** The first match's value, or undefined when nothing matches. */
export function queryValue(input: Uint8Array | string, path: string, options?: QueryOptions): string | undefined {
  return query(input, path, options)[0]?.value;
}

/** A DocView of an unedited document: no overrides, no fragments. */
function plainView(bytes: Uint8Array, table: TokenTable): DocView {
  return {
    bytes,
    table,
    dead: null,
    attributeOverride: () => undefined,
    textOverride: () => undefined,
    childFragments: () => null,
    contentRange: () => [0, table.count],
  };
}
