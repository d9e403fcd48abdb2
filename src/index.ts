// domsplice, the library: lossless patching of XML (libvirt domain XML first) by splicing
// edits into the original bytes. See DESIGN.md "Library API" and README.md.
//
//   import { patch, compile, check, xml } from "domsplice";
//   patch(domainXml, [{ op: "set", path: "/domain/cpu/@mode", value: "host-passthrough" }]);

export { patch } from "./xml/patch.ts";
export { compile, PatchError } from "./xml/plan.ts";
export type { Plan, PatchOp, PatchOptions, AddOp, ReplaceOp, RemoveOp, SetOp, EnsureOp, Position } from "./xml/plan.ts";
export { check, type CheckResult } from "./xml/check.ts";
export { query, queryValue, DocumentReader, type QueryMatch, type QueryOptions } from "./xml/query.ts";
export { tokenize, type TokenizeOptions, type TokenizeResult } from "./xml/tokenizer.ts";
/**
 * releaseKernelMemory(): gives the WASM kernel's linear memory back to the runtime (its next
 * collection frees it); the next scan instantiates the kept compiled module anew. For
 * long-lived processes that scanned a large document once. Returns false, doing nothing, while
 * an internal lent table is in use. See src/xml/wasm.ts.
 */
export { releaseKernelMemory } from "./xml/wasm.ts";
export { xml, rawXml, isXmlFragment, type XmlFragment } from "./xml/fragment.ts";
export { escapeAttribute, escapeText } from "./xml/escape.ts";
export { parseSelector, SelectorError, type Selector } from "./xml/selector.ts";
export { TokenKind, DEFAULT_LIMITS, type TokenTable, type Limits } from "./xml/tokens.ts";
export { formatXmlError, type XmlError } from "./xml/errors.ts";
