// tokenize(): UTF-8 bytes in, a token table (tokens.ts) or the first well-formedness error out.
// The prolog (XML declaration, DOCTYPE and what precedes the root) is parsed by prolog.ts; the
// root element and what follows it by a body kernel (the TypeScript reference scan.ts, or the
// WASM kernel); entity references the body kernel collected are then judged against the DTD.
// Whichever error comes first in the document is the one reported.

import { DEFAULT_LIMITS, EntityRefList, TokenTableBuilder, type Limits, type TokenTable } from "./tokens.ts";
import { ScanError, scanErrorToXmlError, type XmlError } from "./errors.ts";
import { scanBody, type ScanResult } from "./scan.ts";
import { scanBodyWasm, preferWasmKernel, releaseLentTable, wasmTableLent, onKernelMemoryRelease } from "./wasm.ts";
import { scanProlog } from "./prolog.ts";
import { checkEntityRefs } from "./dtd.ts";

export interface TokenizeOptions {
  /** Overrides of DEFAULT_LIMITS (maxBytes, maxDepth, maxTokens). */
  limits?: Partial<Limits>;
  /**
   * Which body kernel runs: "ts" the TypeScript reference, "wasm" the WASM kernel, "auto"
   * (default) the faster for the input size. While an internal caller holds a lent table
   * (tokenizeLent), "wasm" and "auto" run the TS kernel.
   */
  kernel?: "auto" | "ts" | "wasm";
}

export type TokenizeResult = { ok: true; table: TokenTable } | { ok: false; error: XmlError };

/** Limits with every field present: DEFAULT_LIMITS overridden by the caller's. */
export function resolveLimits(limits?: Partial<Limits>): Limits {
  if (limits === undefined) return DEFAULT_LIMITS;
  return {
    maxBytes: limits?.maxBytes ?? DEFAULT_LIMITS.maxBytes,
    maxDepth: limits?.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxTokens: limits?.maxTokens ?? DEFAULT_LIMITS.maxTokens,
  };
}

export function tokenize(input: Uint8Array, options?: TokenizeOptions): TokenizeResult {
  return tokenizeWith(input, options, false);
}

/**
 * tokenize() for internal callers that read the table and are done with it before they need
 * another WASM scan (plan.ts's apply). When the WASM kernel runs, the table's arrays are views
 * onto the kernel's memory instead of copies (saves ~2 µs of ~9 at 8 KB and ~130-190 µs of
 * ~1,000 at 1 MB: bench/crossover.ts "wasm-lent" rows, AMD EPYC, Node 20.20.2). Until releaseLentTable() (wasm.ts) is
 * called, every tokenize(), lending or not, uses the TS kernel, so nothing can overwrite the
 * lent arrays (nested tokenize calls for fragments included). Call releaseLentTable() in a
 * `finally` once the table is no longer read; calling it when nothing is lent is harmless.
 */
export function tokenizeLent(input: Uint8Array, options?: TokenizeOptions): TokenizeResult {
  return tokenizeWith(input, options, true);
}

function tokenizeWith(input: Uint8Array, options: TokenizeOptions | undefined, lend: boolean): TokenizeResult {
  const limits = resolveLimits(options?.limits);
  const kernel = options?.kernel ?? "auto";
  const n = input.length;
  if (n > limits.maxBytes) {
    return {
      ok: false,
      error: {
        code: "too-large",
        message: `input is ${n} bytes, larger than the limit of ${limits.maxBytes} bytes (limits.maxBytes)`,
        line: 1,
        column: 1,
        offset: 0,
      },
    };
  }
  // While a lent table (tokenizeLent) is in use, the WASM kernel must not run.
  const useWasm = !wasmTableLent() && (kernel === "wasm" || (kernel === "auto" && preferWasmKernel(n)));
  // libvirt domain XML averages one token per 12-20 bytes; sizing for that avoids regrowing in
  // the TS kernel. The WASM loader replaces the arrays with its own (copied out, or lent), so
  // the table only has to hold the prolog's few tokens.
  const scratch = useWasm && lend;
  const table = scratch ? lendScratchTable() : new TokenTableBuilder(useWasm ? 8 : Math.max(64, n >> 3));
  const prolog = scanProlog(input, table, limits);
  if ("code" in prolog) return { ok: false, error: prolog };
  let refs: EntityRefList;
  if (scratch) {
    // The prolog may have grown the arrays: keep the grown ones for the next loan.
    keepPrologArrays(table);
    refs = lendRefs;
    refs.count = 0;
  } else refs = new EntityRefList();

  // ---- body kernel dispatch: the one call site the WASM kernel replaces ----
  let scan: ScanResult;
  if (useWasm) {
    scan = scanBodyWasm(input, prolog.bodyStart, table, refs, limits, lend);
  } else {
    scan = scanBody(input, prolog.bodyStart, table, refs, limits);
  }
  // ---- end of kernel dispatch ----

  const scanFailed = scan.error !== ScanError.None;
  const refError = checkEntityRefs(input, refs, prolog.dtd, scanFailed ? scan.offset : n + 1);
  // A table that is not returned is not lent.
  if (lend && (scanFailed || refError !== null)) releaseLentTable();
  if (refError !== null) return { ok: false, error: refError };
  if (scanFailed) return { ok: false, error: scanErrorToXmlError(input, scan.error, scan.offset, scan.aux) };
  return { ok: true, table };
}

// The lending path's table and reference list are module-level and reused: only one table is
// lent at a time (while it is, tokenize runs the TS kernel with fresh objects), and the caller
// drops it when it releases the loan. The eight typed arrays a fresh builder and list allocate
// were ~0.3 µs of an 8 KB apply. The table's arrays become views onto the kernel's memory for
// the loan; the prolog's own small arrays are kept here and put back for the next loan.
// After a loan ends the table's arrays still are those views, so releaseKernelMemory() (wasm.ts)
// has all of this made anew (resetLending): otherwise they would keep the dropped memory alive.
let lendTable = new TokenTableBuilder(8);
let prologKind = lendTable.kind;
let prologStart = lendTable.start;
let prologEnd = lendTable.end;
let prologMid = lendTable.mid;
let prologLink = lendTable.link;
let lendRefs = new EntityRefList();

function resetLending(): void {
  lendTable = new TokenTableBuilder(8);
  keepPrologArrays(lendTable);
  // Its arrays are copies, never views, but may have grown for a document with many references.
  lendRefs = new EntityRefList();
}
onKernelMemoryRelease(resetLending);

function lendScratchTable(): TokenTableBuilder {
  const table = lendTable;
  table.count = 0;
  table.root = -1;
  table.kind = prologKind;
  table.start = prologStart;
  table.end = prologEnd;
  table.mid = prologMid;
  table.link = prologLink;
  return table;
}

function keepPrologArrays(table: TokenTableBuilder): void {
  prologKind = table.kind;
  prologStart = table.start;
  prologEnd = table.end;
  prologMid = table.mid;
  prologLink = table.link;
}
