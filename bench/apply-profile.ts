// What plan.apply costs beyond tokenizing, and what compile costs: the numbers the patch
// engine's own optimisations are judged by (bench/run.ts compares whole patches with peers).
// Bundles src/ with esbuild as the package build does (without rebuilding the WASM kernel) into
// a temporary directory, so the figures are those of bundled code, then times on the bench
// inputs (8 KB, 64 KB, 1 MB): tokenize alone, plan.apply (plan compiled once), and compile.
// Figures are the fastest of 15 batches. "own" is plan.apply's work on a table tokenized once
// outside the loop (applyToTable); tokenize and apply are timed too, for reference, and the
// minor page faults per apply (~0.2 s of calls): at 1 MB the output buffer's fresh pages.
//
// Usage: node --import tsx bench/apply-profile.ts [--vs-txml] [--cpu-prof-loop SIZE]
//   --vs-txml              also time txml's parse + edit + stringify (bench/peers/txml.ts) and
//                          print the ratio, txml / domsplice (compiled plan, tokenize
//                          included), measured in the same run
//   --cpu-prof-loop SIZE   only loop applyToTable on that input ("8 KB", "64 KB", "1 MB"), or
//                          compile ("compile") for ~3 s (run under
//                          node --cpu-prof to see where apply's own time goes)

import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { benchInputs } from "./inputs.ts";
import { PATCH_OPS } from "./edits.ts";
import { txmlPatch } from "./peers/txml.ts";
import { nodeBundleOptions } from "../scripts/node-bundle.mjs";

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outdir = mkdtempSync(path.join(tmpdir(), "domsplice-apply-profile-"));
await build({
  absWorkingDir: repoRoot,
  stdin: {
    contents: `export * from "./src/index.ts"; export { applyToTable } from "./src/xml/plan.ts";`,
    resolveDir: repoRoot,
    sourcefile: "apply-profile-entry.ts",
    loader: "ts",
  },
  outfile: path.join(outdir, "index.js"),
  ...nodeBundleOptions,
});
process.on("exit", () => rmSync(outdir, { recursive: true, force: true }));
const lib: typeof import("../src/index.ts") & { applyToTable: typeof import("../src/xml/plan.ts").applyToTable } = await import(pathToFileURL(path.join(outdir, "index.js")).href);
const ops = PATCH_OPS as unknown as import("../src/index.ts").PatchOp[];

/**
 * Fastest batch's time per call in microseconds, over `batches` batches of ~`batchMs` each: on a
 * 2-core machine shared with other work the median moved by 2x between runs; the minimum is
 * the figure that repeats.
 */
function time(fn: () => unknown, batches = 15, batchMs = 20): number {
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    if (performance.now() - t0 >= batchMs / 4) break;
    n *= 2;
  }
  n *= 4;
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    samples.push(((performance.now() - t0) * 1000) / n);
  }
  samples.sort((a, b) => a - b);
  return samples[0];
}

const inputs = benchInputs();
const loopAt = process.argv.indexOf("--cpu-prof-loop");
if (loopAt >= 0) {
  const stop = performance.now() + 3000;
  if (process.argv[loopAt + 1] === "compile") {
    while (performance.now() < stop) lib.compile(ops);
    process.exit(0);
  }
  const input = inputs.find((i) => i.label === process.argv[loopAt + 1]) ?? inputs[0];
  const plan = lib.compile(ops);
  const tokens = lib.tokenize(input.bytes);
  if (!tokens.ok) throw new Error(tokens.error.message);
  while (performance.now() < stop) lib.applyToTable(plan, input.bytes, tokens.table);
  process.exit(0);
}

const fmt = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(3)} ms` : `${us.toFixed(1)} µs`);
console.log(`node ${process.version}`);
console.log(`compile: ${fmt(time(() => lib.compile(ops)))}`);
for (const input of inputs) {
  const plan = lib.compile(ops);
  const tokenize = time(() => lib.tokenize(input.bytes));
  const apply = time(() => plan.apply(input.bytes));
  const tokens = lib.tokenize(input.bytes);
  if (!tokens.ok) throw new Error(tokens.error.message);
  const own = time(() => lib.applyToTable(plan, input.bytes, tokens.table));
  // Minor page faults per apply (Node's process.resourceUsage): a fresh output buffer is new
  // memory, and how much of it the allocator takes from the kernel again (one fault per 4 KiB
  // page touched first) depends on when the GC frees earlier outputs, not on the plan.
  const faults0 = process.resourceUsage().minorPageFault;
  const calls = Math.max(20, Math.round(200_000 / Math.max(1, apply)));
  for (let i = 0; i < calls; i++) plan.apply(input.bytes);
  const faults = (process.resourceUsage().minorPageFault - faults0) / calls;
  let ratio = "";
  if (process.argv.includes("--vs-txml")) {
    const txml = time(() => txmlPatch(input.bytes), 7);
    ratio = `  txml ${fmt(txml).padStart(10)}  txml/apply ${(txml / apply).toFixed(1)}x`;
  }
  console.log(`${input.label.padEnd(6)} tokenize ${fmt(tokenize).padStart(10)}  apply ${fmt(apply).padStart(10)}  own ${fmt(own).padStart(10)}  faults/apply ${faults.toFixed(1).padStart(5)}${ratio}`);
}
