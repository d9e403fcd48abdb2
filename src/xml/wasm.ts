// Loader and bridge for the WASM body kernel (assembly/scan.ts): compiles the embedded module
// synchronously on first use, copies the input into linear memory, runs the scan and copies
// the token table and entity references back into the caller's TokenTableBuilder /
// EntityRefList, so both kernels have the same signature and the same effect (scanBody in
// scan.ts is the reference). The module bytes are embedded as base64 by scripts/build.mjs, so
// loading needs no file I/O and works the same under Node, Bun and Deno. releaseKernelMemory()
// gives the instance's linear memory back (it never shrinks otherwise), keeping the compiled
// module; src/hooks/memory.ts calls it once the sidecar is idle after a large call.

import { KERNEL_WASM_BASE64 } from "./kernel.wasm.generated.ts";
import type { EntityRefList, Limits, TokenTableBuilder } from "./tokens.ts";
import type { ScanError } from "./errors.ts";
import type { ScanResult } from "./scan.ts";

interface KernelExports {
  memory: WebAssembly.Memory;
  scan(
    n: number,
    from: number,
    maxDepth: number,
    maxTokens: number,
    base: number,
    stackPtr: number,
    tokenCapacity: number,
    kindPtr: number,
    startPtr: number,
    endPtr: number,
    midPtr: number,
    linkPtr: number,
    refCapacity: number,
    refStartPtr: number,
    refEndPtr: number,
    refAttrPtr: number,
  ): number;
  resultOffset(): number;
  resultAux(): number;
  tokenCount(): number;
  rootIndex(): number;
  refTotal(): number;
  pack(to: number): number;
  aposAttributes(): number;
  childCandidates(kindPtr: number, linkPtr: number, startPtr: number, from: number, to: number, first: number): number;
  walkOutPtr(): number;
  walkResume(): number;
}

/** Where the kernel expects the input (assembly/chars.ts INPUT): page 0 is its static data. */
const INPUT = 65536;
/**
 * Tables with fewer tokens leave the kernel packed into one ArrayBuffer, larger ones as five.
 * Copy-out cost measured per variant (scan excluded; AMD EPYC, Node 20.20.2, noisy 2-core box):
 * 8 KB (727 tokens) packed ~0.4 µs (2.3-2.8 µs through ArrayBuffer.slice), five buffers 5-7 µs;
 * 64 KB (5,557) packed ~12 µs, five ~15 µs; 1 MB (87,184) packed ~190 µs, five ~110 µs.
 */
const PACK_BELOW_TOKENS = 16384;
/** Bytes after the input that the kernel's 16-byte loads may touch. */
const PADDING = 16;
/** Bytes per open element on the kernel's stack (assembly/scan.ts STACK_ENTRY_SHIFT). */
const STACK_ENTRY_BYTES = 16;
const PAGE = 65536;
/** The kernel's "token area full" code (assembly/codes.ts NeedRoom). */
const NEED_ROOM = 100;

let kernel: KernelExports | null = null;
/**
 * The compiled module, kept when releaseKernelMemory() drops the instance: a new instance of it
 * costs no decoding or compiling, only its memory.
 */
let compiled: WebAssembly.Module | null = null;

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function loadKernel(): KernelExports {
  if (kernel === null) {
    compiled ??= new WebAssembly.Module(decodeBase64(KERNEL_WASM_BASE64) as Uint8Array<ArrayBuffer>);
    kernel = new WebAssembly.Instance(compiled, {}).exports as unknown as KernelExports;
  }
  return kernel;
}

function align16(x: number): number {
  return (x + 15) & ~15;
}

/**
 * Grows the kernel's memory to at least `bytes`. Linear memory never shrinks, so after a large
 * input the instance keeps that much reserved (untouched pages cost no physical memory).
 */
function ensureMemory(memory: WebAssembly.Memory, bytes: number): void {
  const have = memoryBuffer(memory).byteLength;
  if (bytes <= have) return;
  try {
    memory.grow(Math.ceil((bytes - have) / PAGE));
  } catch (cause) {
    throw new RangeError(`WASM kernel: cannot grow its memory to ${bytes} bytes; use kernel: "ts" for inputs this large`, { cause });
  }
}

// The kernel's memory buffer and a byte view of all of it, kept between scans: the `buffer`
// getter is a runtime call (~18 ns), and each view ~20 ns. Only a grow replaces the buffer
// (the kernel itself never grows its memory), and a grow detaches the old one.
let memoryCache: ArrayBuffer | null = null;
let memoryBytes = new Uint8Array(0);

function memoryBuffer(memory: WebAssembly.Memory): ArrayBuffer {
  if (memoryCache === null || memoryCache.byteLength === 0) {
    memoryCache = memory.buffer;
    memoryBytes = new Uint8Array(memoryCache);
  }
  return memoryCache;
}

/**
 * The lent views of the last lending scan and where they pointed: a lending scan with the same
 * layout (the same input size class) takes them again instead of five new views (~80 ns).
 * They are as long as the token area, which the TokenTable contract allows (readers stop at
 * `count`).
 */
let lentViews: { buffer: ArrayBuffer; kindPtr: number; capacity: number; kind: Uint8Array; start: Uint32Array; end: Uint32Array; mid: Uint32Array; link: Int32Array } | null = null;

/**
 * Whether the last lending scan's table (views onto the kernel's memory) is still in use. While
 * it is, the kernel must not run: another scan would overwrite it, and growing the memory
 * would detach its views. tokenize() then uses the TS kernel.
 */
let lent = false;
/** The input of the lent table, still in the kernel's memory while the loan lasts. */
let lentInput: Uint8Array | null = null;

export function wasmTableLent(): boolean {
  return lent;
}

/** Ends the loan of the last lent table: its arrays may be overwritten by the next WASM scan. */
export function releaseLentTable(): void {
  lent = false;
  lentInput = null;
}

/**
 * How many attribute values of `bytes` are quoted with ', when `bytes` is the input of the table
 * currently lent (the kernel counted them during the scan); -1 when it is not, and the caller
 * must look itself.
 */
export function lentSingleQuotedAttributes(bytes: Uint8Array): number {
  if (!lent || bytes !== lentInput || kernel === null) return -1;
  return kernel.aposAttributes();
}

/** What releaseKernelMemory() also resets (tokenizer.ts's lending table): views it may hold. */
const releaseListeners: Array<() => void> = [];

/**
 * For modules that keep objects which may hold views onto the kernel's memory between scans
 * (tokenizer.ts's reused lending table): `reset` is called by releaseKernelMemory() to drop them.
 */
export function onKernelMemoryRelease(reset: () => void): void {
  releaseListeners.push(reset);
}

/**
 * Gives the WASM kernel's linear memory back: drops the kernel's instance and every view onto
 * its memory kept here (the cached buffer and byte view, the lent views) and, through
 * onKernelMemoryRelease, tokenizer.ts's lending table, so nothing domsplice holds keeps the old
 * memory reachable and the runtime's next collection frees it. Linear memory never shrinks:
 * without this, the pages one large document touched (a 1 MB domain: ~2.4 MB of input and token
 * table) stay resident for the life of the process. The compiled module is kept, so the next
 * WASM scan only instantiates it again (a fresh, zeroed memory; no compilation).
 *
 * Safe at any time: before the kernel was ever loaded and when called twice it does nothing.
 * While a lent table is in use (tokenizeLent, until releaseLentTable()) it refuses and returns
 * false: that table's arrays are views onto this memory, and its holder still reads them. It
 * returns true otherwise. Only what domsplice itself holds is dropped; a caller that kept a
 * table from before (tokenize() copies its tables out, so none do) is not affected.
 */
export function releaseKernelMemory(): boolean {
  if (lent) return false;
  kernel = null;
  memoryCache = null;
  memoryBytes = new Uint8Array(0);
  lentViews = null;
  lentInput = null;
  for (const reset of releaseListeners) reset();
  return true;
}

/**
 * The kernel instance's memory, or null when no instance is loaded (for tests and diagnostics:
 * holding it keeps the memory alive).
 */
export function wasmKernelMemory(): WebAssembly.Memory | null {
  return kernel === null ? null : kernel.memory;
}

/**
 * For selector.ts's walk over a lent table: the elements among sibling tokens [from, to) whose
 * name starts with byte `first` (each other element skipped with its subtree), found by the
 * kernel, as token indices in a fresh array; null when `kind` is not the lent table's kind
 * array or `bytes` not its input (the caller then walks itself). A plain array, not a typed
 * one: a new ArrayBuffer per call (~1 µs with its accounting) cost more than the search saves
 * on a 64 KB document.
 */
export function lentChildCandidates(kind: Uint8Array, link: Int32Array, start: Uint32Array, bytes: Uint8Array, from: number, to: number, first: number): number[] | null {
  if (!lent || bytes !== lentInput || kernel === null || lentViews === null || kind !== lentViews.kind) return null;
  const k = kernel;
  const buffer = memoryBuffer(k.memory);
  const out: number[] = [];
  // The kernel has room for 1,024 at a time: a call per room.
  for (let next = from; next < to; next = k.walkResume()) {
    const found = k.childCandidates(kind.byteOffset, link.byteOffset, start.byteOffset, next, to, first);
    const words = new Int32Array(buffer, k.walkOutPtr(), found);
    for (let c = 0; c < found; c++) out.push(words[c]);
  }
  return out;
}

/** "auto" never picks WASM above this size: wasm32 memory ends at 4 GiB, input and table included. */
export const WASM_KERNEL_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The WASM counterpart of scanBody (scan.ts): same arguments, same tokens appended to `table`,
 * same references appended to `refs`, same result.
 */
export function scanBodyWasm(
  bytes: Uint8Array,
  from: number,
  table: TokenTableBuilder,
  refs: EntityRefList,
  limits: Limits,
  lend = false,
): ScanResult {
  if (lent) throw new Error("WASM kernel: a lent token table is still in use (releaseLentTable() first)");
  const k = loadKernel();
  const n = bytes.length;
  const base = table.count;
  // libvirt XML has one token per 10-20 bytes; n/8 rarely needs a second run, and pages the
  // kernel never writes cost no physical memory.
  // Rounded up to a multiple of 1024, and the input's area below to 4 KiB, so that inputs of
  // about the same size get the same layout (and the lent views of the one before).
  let tokenCapacity = Math.max(1, Math.min(limits.maxTokens - base, ((n >> 3) + 64 + 1023) & ~1023));
  const inputArea = (n + PADDING + 4095) & ~4095;
  let refCapacity = 64;
  let copied = false;
  while (true) {
    // Each token array holds the prolog's `base` tokens, then the kernel's; the kernel is
    // given the address of entry `base`.
    const capacity = base + tokenCapacity;
    let at = INPUT + inputArea;
    const stackPtr = at;
    at = align16(at + STACK_ENTRY_BYTES * (Math.min(limits.maxDepth, Math.floor(inputArea / 3) + 1) + 1));
    const kindPtr = at;
    at = align16(at + capacity);
    const startPtr = at;
    at += 4 * capacity;
    const endPtr = at;
    at += 4 * capacity;
    const midPtr = at;
    at += 4 * capacity;
    const linkPtr = at;
    at += 4 * capacity;
    const refStartPtr = at;
    at += 4 * refCapacity;
    const refEndPtr = at;
    at += 4 * refCapacity;
    const refAttrPtr = at;
    at += refCapacity;
    ensureMemory(k.memory, at);
    if (!copied) {
      memoryBuffer(k.memory);
      memoryBytes.set(bytes, INPUT);
      copied = true;
    }
    if (base > 0) {
      const buffer = memoryBuffer(k.memory);
      new Uint8Array(buffer, kindPtr, base).set(table.kind.subarray(0, base));
      new Uint32Array(buffer, startPtr, base).set(table.start.subarray(0, base));
      new Uint32Array(buffer, endPtr, base).set(table.end.subarray(0, base));
      new Uint32Array(buffer, midPtr, base).set(table.mid.subarray(0, base));
      new Int32Array(buffer, linkPtr, base).set(table.link.subarray(0, base));
    }
    const code = k.scan(
      n,
      from,
      limits.maxDepth,
      limits.maxTokens,
      base,
      stackPtr,
      tokenCapacity,
      kindPtr + base,
      startPtr + 4 * base,
      endPtr + 4 * base,
      midPtr + 4 * base,
      linkPtr + 4 * base,
      refCapacity,
      refStartPtr,
      refEndPtr,
      refAttrPtr,
    );
    const refTotal = k.refTotal();
    if (code === NEED_ROOM || refTotal > refCapacity) {
      if (code === NEED_ROOM) tokenCapacity = Math.min(limits.maxTokens - base, tokenCapacity * 4);
      if (refTotal > refCapacity) refCapacity = refTotal;
      continue;
    }
    if (refTotal > 0) {
      const buffer = memoryBuffer(k.memory);
      const refStart = new Uint32Array(buffer, refStartPtr, refTotal);
      const refEnd = new Uint32Array(buffer, refEndPtr, refTotal);
      const refAttr = new Uint8Array(buffer, refAttrPtr, refTotal);
      for (let r = 0; r < refTotal; r++) refs.push(refStart[r], refEnd[r], refAttr[r] === 1);
    }
    const total = k.tokenCount();
    if (lend) {
      // Views onto the kernel's own arrays: no copy, and no allocation when the layout is
      // that of the last lending scan.
      const buffer = memoryBuffer(k.memory);
      let views = lentViews;
      if (views === null || views.buffer !== buffer || views.kindPtr !== kindPtr || views.capacity !== capacity) {
        views = lentViews = {
          buffer,
          kindPtr,
          capacity,
          kind: new Uint8Array(buffer, kindPtr, capacity),
          start: new Uint32Array(buffer, startPtr, capacity),
          end: new Uint32Array(buffer, endPtr, capacity),
          mid: new Uint32Array(buffer, midPtr, capacity),
          link: new Int32Array(buffer, linkPtr, capacity),
        };
      }
      table.kind = views.kind;
      table.start = views.start;
      table.end = views.end;
      table.mid = views.mid;
      table.link = views.link;
      table.count = total;
      const root = k.rootIndex();
      if (root >= 0) table.root = root;
      lent = true;
      lentInput = bytes;
      return { error: code as ScanError, offset: k.resultOffset(), aux: k.resultAux() };
    }
    if (total < PACK_BELOW_TOKENS) {
      // One block out: the kernel packs the arrays together in place and one
      // ArrayBuffer.slice copies them. Each ArrayBuffer costs ~1 µs (allocation, external
      // memory accounting, sweeping), more than packing a small table.
      const size = k.pack(kindPtr);
      // new + set rather than ArrayBuffer.slice, which goes through the runtime (species
      // constructor lookup): ~0.4 µs against ~2.3 µs for an 8 KB document's 12 KB table.
      const packed = new Uint8Array(size);
      memoryBuffer(k.memory);
      packed.set(memoryBytes.subarray(kindPtr, kindPtr + size));
      const block = packed.buffer;
      const words = (total + 3) & ~3;
      table.kind = new Uint8Array(block, 0, total);
      table.start = new Uint32Array(block, words, total);
      table.end = new Uint32Array(block, words + 4 * total, total);
      table.mid = new Uint32Array(block, words + 8 * total, total);
      table.link = new Int32Array(block, words + 12 * total, total);
    } else {
      // Large tables: one slice per array (no zero-filling, no pack, whose memmove costs more
      // than the four extra allocations here).
      const buffer = memoryBuffer(k.memory);
      table.kind = new Uint8Array(buffer.slice(kindPtr, kindPtr + total));
      table.start = new Uint32Array(buffer.slice(startPtr, startPtr + 4 * total));
      table.end = new Uint32Array(buffer.slice(endPtr, endPtr + 4 * total));
      table.mid = new Uint32Array(buffer.slice(midPtr, midPtr + 4 * total));
      table.link = new Int32Array(buffer.slice(linkPtr, linkPtr + 4 * total));
    }
    table.count = total;
    const root = k.rootIndex();
    if (root >= 0) table.root = root;
    return { error: code as ScanError, offset: k.resultOffset(), aux: k.resultAux() };
  }
}

// tokenize()'s "auto" kernel, chosen by measurement (bench/crossover.ts, results in
// bench/results/crossover.json; AMD EPYC, 2 cores shared with other work, Node 20.20.2,
// tokenize() of KubeVirt domain XML, median µs):
//
//   input    warm (same process): TS   WASM      cold (one call, fresh process): TS   WASM
//   300 B                         4.4    1.7                                    818   2049
//   1 KB                          4.6    2.4                                    976   2511
//   8 KB                         27.7    8.6                                   2150   4478
//   64 KB                       201     59                                     4452   3011
//   1 MB                       3171    908                                    17873   8566
//
// Warm, since the table leaves the kernel as one packed block (small tables) and stop bytes
// are told apart by their SIMD masks, WASM is ahead from about 64 bytes (dist bundle, medians:
// 10 B TS 0.77 / WASM 0.99 µs, 82 B 1.3-1.5 / 1.0-1.2, 151 B 1.5-3.2 / 1.2). Cold, its first
// call pays 2-3 ms (decoding and compiling the module, first runs unoptimized), which the
// faster scan repays from about 30 KB (the earlier runs: 26, 34 and 31 KB, linear fit between
// 8 KB and 64 KB). So: WASM from 32 KiB until the module is loaded, and from 64 bytes once it is.
// A process that only ever sees small documents (a hook sidecar: ~8 KB per call) would then
// never load it, though warm WASM saves ~2.4 ns per byte (8 KB: 27.7 -> 8.6 µs) and the extra
// cost of its first call (~2.3 ms over TS's at 8 KB) is repaid after ~1 MB: so once the TS
// kernel has scanned 1 MiB in all, the module is loaded too.

/** "auto" uses WASM for inputs of at least this many bytes while the module is not loaded yet. */
export const WASM_KERNEL_MIN_BYTES_COLD = 32 * 1024;
/** ... and from this many bytes once it is. */
export const WASM_KERNEL_MIN_BYTES_WARM = 64;
/** ... and for any input once the TS kernel has scanned this many bytes in all. */
export const WASM_KERNEL_LOAD_AFTER_BYTES = 1024 * 1024;

let bytesScannedByTs = 0;

let unavailable = false;

/**
 * Whether the WASM module has been loaded (an instance of it is ready) in this process (for
 * tests and diagnostics). False again after releaseKernelMemory(), until the next WASM scan.
 */
export function wasmKernelLoaded(): boolean {
  return kernel !== null;
}

/**
 * Whether tokenize()'s "auto" kernel should use WASM for an input of `n` bytes. Loads the
 * module when the answer is yes; a runtime without WebAssembly SIMD gets the TS kernel.
 */
export function preferWasmKernel(n: number): boolean {
  if (n > WASM_KERNEL_MAX_BYTES) return false;
  if (kernel !== null) return n >= WASM_KERNEL_MIN_BYTES_WARM;
  if (unavailable) return false;
  // Compiled but released (releaseKernelMemory): a new instance costs no compilation, so the
  // module counts as loaded; without this, a sidecar would scan its small documents with the TS
  // kernel after every release until it had scanned 1 MiB again.
  if (compiled !== null) {
    if (n < WASM_KERNEL_MIN_BYTES_WARM) return false;
    try {
      loadKernel();
      return true;
    } catch {
      return false;
    }
  }
  if (n < WASM_KERNEL_MIN_BYTES_COLD && bytesScannedByTs < WASM_KERNEL_LOAD_AFTER_BYTES) {
    bytesScannedByTs += n;
    return false;
  }
  try {
    loadKernel();
    return true;
  } catch {
    unavailable = true;
    return false;
  }
}
