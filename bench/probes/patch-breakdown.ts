// Where a whole plan.apply goes at one input size: the parts timed side by side, rounds
// interleaved and rotated (so the noise of a shared machine falls on all alike), each round a
// batch of ~20 ms per part. Bundles src/ with esbuild as bench/apply-profile.ts does (no WASM
// rebuild), with the internals the parts need exported.
//
//   apply         plan.apply(bytes), the bench patch (bench/edits.ts), plan compiled once
//   tokenizeLent  tokenizeLent + releaseLentTable: what apply pays before its own work
//   scan          the kernel's scan() alone (its own instance, wasm.ts's layout, input copied once)
//   copy-in       copying the input into a WASM memory (what the loader does per call)
//   own           applyToTable on a lent table (apply's own work, emit included)
//   own:OPS       the same with only some of the bench ops (ensure+set, add, remove, none)
//   alloc         new Uint8Array(output size): allocation, zero-fill (pages faulted when fresh)
//   alloc+copy    the same, then the input copied into it in one set()//
// Page faults. A 1 MB output is a fresh 1 MB buffer; under glibc (Node) the outputs a collection
// frees together lie at the top of the heap and are trimmed back to the kernel, so the next
// outputs fault their pages in again: 0-260 minor faults per apply depending on the heap's
// history, which moves medians by hundreds of µs on this VM. To compare the engine's own work
// between builds, run the probe with the trimming off for all builds alike (a diagnostic, not
// how the bench runs): MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=268435456.
//
// Usage: node --import tsx bench/probes/patch-breakdown.ts [--size=1MB|64KB|8KB] [--rounds=N] [PART...]
//        node --cpu-prof --import tsx bench/probes/patch-breakdown.ts [--size=...] --loop=PART

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { benchInputs } from "../inputs.ts";
import { PATCH_OPS } from "../edits.ts";
import { bundleInternals } from "./bundle-internals.ts";
import { KERNEL_WASM_BASE64 } from "../../src/xml/kernel.wasm.generated.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const outdir = mkdtempSync(path.join(tmpdir(), "domsplice-breakdown-"));
if (process.env.KEEP_BUNDLE === undefined) process.on("exit", () => rmSync(outdir, { recursive: true, force: true }));
else console.log(`bundle: ${outdir}/index.js`);
const lib = await bundleInternals(repoRoot, path.join(outdir, "index.js"));
type Op = import("../../src/index.ts").PatchOp;
const ops = PATCH_OPS as unknown as Op[];

const args = process.argv.slice(2);
let rounds = 30;
let size = "1 MB";
const only: string[] = [];
for (const arg of args) {
  if (arg.startsWith("--rounds=")) rounds = Number(arg.slice(9));
  else if (arg.startsWith("--size=")) size = arg.slice(7).replace(/([0-9])([KM])/, "$1 $2");
  else if (!arg.startsWith("--")) only.push(arg);
}
const input = benchInputs().find((i) => i.label === size)!;
const bytes = input.bytes;
const n = bytes.length;
const plan = lib.compile(ops);
const out = plan.apply(bytes);

// The kernel alone, laid out as wasm.ts lays it out for this input (no prolog tokens before).
interface Kernel {
  memory: WebAssembly.Memory;
  scan(...args: number[]): number;
}
const module = new WebAssembly.Module(Buffer.from(KERNEL_WASM_BASE64, "base64"));
const k = new WebAssembly.Instance(module, {}).exports as unknown as Kernel;
const from = new TextDecoder().decode(bytes).indexOf("<domain");
const capacity = ((n >> 3) + 64 + 1023) & ~1023;
const stackPtr = 65536 + ((n + 16 + 4095) & ~4095);
const kindPtr = stackPtr + 16 * 1100;
const startPtr = kindPtr + ((capacity + 15) & ~15);
const refPtr = startPtr + 16 * capacity;
k.memory.grow(Math.ceil((refPtr + 1024) / 65536));
const memory = new Uint8Array(k.memory.buffer);
memory.set(bytes, 65536);
const scan = () =>
  k.scan(n, from, 1024, 1 << 22, 0, stackPtr, capacity, kindPtr, startPtr, startPtr + 4 * capacity, startPtr + 8 * capacity, startPtr + 12 * capacity, 64, refPtr, refPtr + 256, refPtr + 512);
if (scan() !== 0) throw new Error("scan failed");

const subsets: Record<string, Op[]> = {
  "own:ensure+set": ops.slice(0, 2),
  "own:add": ops.slice(2, 3),
  "own:remove": ops.slice(3, 4),
};
const subsetPlans = Object.fromEntries(Object.entries(subsets).map(([label, o]) => [label, lib.compile(o)]));
// applyToTable with no ops returns bytes.slice(): the untouched output's floor.
let sink = 0;
const parts: Record<string, () => void> = {
  apply: () => {
    sink += plan.apply(bytes).length;
  },
  tokenizeLent: () => {
    const r = lib.tokenizeLent(bytes);
    lib.releaseLentTable();
    sink += r.ok ? 1 : 0;
  },
  scan: () => {
    sink += scan();
  },
  "copy-in": () => {
    memory.set(bytes, 65536);
  },
  own: () => {},
  ...Object.fromEntries(Object.keys(subsets).map((label) => [label, () => {}])),
  alloc: () => {
    sink += new Uint8Array(out.length).length;
  },
  "alloc+copy": () => {
    const o = new Uint8Array(out.length);
    o.set(bytes.subarray(0, Math.min(n, out.length)));
    sink += o[0];
  },
};
// The "own" parts run on a lent table taken at the start of their batch.
const lentParts = new Set(["own", ...Object.keys(subsets)]);
function runBatch(label: string, calls: number): number {
  if (lentParts.has(label)) {
    const r = lib.tokenizeLent(bytes);
    if (!r.ok) throw new Error(r.error.message);
    const p = label === "own" ? plan : subsetPlans[label];
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) sink += lib.applyToTable(p, bytes, r.table).length;
    const t = performance.now() - t0;
    lib.releaseLentTable();
    return t;
  }
  const fn = parts[label];
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) fn();
  return performance.now() - t0;
}

// --loop=PART: only run that part for ~3 s (under node --cpu-prof, to see where it goes).
const loop = args.find((a) => a.startsWith("--loop="))?.slice(7);
if (loop !== undefined) {
  const stop = performance.now() + 3000;
  while (performance.now() < stop) runBatch(loop, 16);
  process.exit(0);
}
const labels = only.length > 0 ? only : Object.keys(parts);
const calls = new Map<string, number>();
for (const label of labels) {
  let c = 1;
  while (runBatch(label, c) < 20) c *= 2;
  calls.set(label, c);
}
const samples = labels.map(() => [] as number[]);
for (let r = 0; r < rounds; r++) {
  for (let b = 0; b < labels.length; b++) {
    const which = (b + r) % labels.length;
    const c = calls.get(labels[which])!;
    samples[which].push((runBatch(labels[which], c) * 1000) / c);
  }
}
console.log(`${size} (${n} B, output ${out.length} B), ${rounds} rounds, µs per call`);
for (let b = 0; b < labels.length; b++) {
  const s = samples[b].sort((x, y) => x - y);
  console.log(`${labels[b].padEnd(16)} median ${s[s.length >> 1].toFixed(1).padStart(8)}  min ${s[0].toFixed(1).padStart(8)}`);
}
if (sink === 0.5) console.log(sink);
