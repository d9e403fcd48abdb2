// Whole plan.apply of several source trees side by side: each argument is LABEL=DIR, a checkout
// of this repository (e.g. `git worktree add /tmp/before HEAD~1`; the WASM module is the one
// embedded in DIR/src/xml/kernel.wasm.generated.ts). Each tree's src/ is bundled with esbuild as
// the package build does and imported into this one process; every build's output is checked to
// be byte-identical to the first's, then rounds of ~20 ms batches per build are interleaved and
// rotated, so the noise of a shared machine falls on all alike. Prints the median and the
// fastest round per build (µs per apply) and the minor page faults per apply over all rounds.
//
// --part=own times applyToTable on a lent table (apply without its tokenize) instead.
//
// Page faults. A 1 MB output is a fresh 1 MB buffer; under glibc (Node) the outputs a collection
// frees together lie at the top of the heap and are trimmed back to the kernel, so the next
// outputs fault their pages in again: 0-260 minor faults per apply depending on the heap's
// history, which moves medians by hundreds of µs on this VM. To compare the engine's own work
// between builds, run the probe with the trimming off for all builds alike (a diagnostic, not
// how the bench runs): MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=268435456.
//
// Usage: node --import tsx bench/probes/apply-ab.ts [--rounds=N] [--size=1MB|64KB|8KB] [--part=own] LABEL=DIR...

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { benchInputs } from "../inputs.ts";
import { PATCH_OPS } from "../edits.ts";
import { bundleInternals, type Internals } from "./bundle-internals.ts";

const args = process.argv.slice(2);
let rounds = 30;
let sizes = ["1 MB"];
let part = "apply";
const builds: { label: string; lib: Internals }[] = [];
const outdir = mkdtempSync(path.join(tmpdir(), "domsplice-apply-ab-"));
process.on("exit", () => rmSync(outdir, { recursive: true, force: true }));
for (const arg of args) {
  if (arg.startsWith("--rounds=")) rounds = Number(arg.slice(9));
  else if (arg.startsWith("--size=")) sizes = arg.slice(7).split(",").map((s) => s.replace(/([0-9])([KM])/, "$1 $2"));
  else if (arg.startsWith("--part=")) part = arg.slice(7);
  else {
    const at = arg.indexOf("=");
    const label = arg.slice(0, at);
    builds.push({ label, lib: await bundleInternals(path.resolve(arg.slice(at + 1)), path.join(outdir, `${builds.length}.js`)) });
  }
}
if (builds.length === 0) {
  console.error("usage: node --import tsx bench/probes/apply-ab.ts [--rounds=N] [--size=1MB] [--part=own] LABEL=DIR...");
  process.exit(2);
}

for (const input of benchInputs().filter((i) => sizes.includes(i.label))) {
  const bytes = input.bytes;
  const plans = builds.map((b) => b.lib.compile(PATCH_OPS as unknown as Parameters<Internals["compile"]>[0]));
  const first = plans[0].apply(bytes);
  for (let b = 1; b < builds.length; b++) {
    const out = plans[b].apply(bytes);
    if (out.length !== first.length || !out.every((x, i) => x === first[i])) throw new Error(`${builds[b].label}: output differs from ${builds[0].label}'s`);
  }
  const batch = (b: number, calls: number): number => {
    const plan = plans[b];
    if (part === "own") {
      const lib = builds[b].lib;
      const r = lib.tokenizeLent(bytes);
      if (!r.ok) throw new Error(r.error.message);
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) lib.applyToTable(plan, bytes, r.table);
      const t = performance.now() - t0;
      lib.releaseLentTable();
      return t;
    }
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) plan.apply(bytes);
    return performance.now() - t0;
  };
  let calls = 1;
  while (batch(0, calls) < 20) calls *= 2;
  for (let b = 1; b < builds.length; b++) batch(b, calls);
  const samples = builds.map(() => [] as number[]);
  const faults = builds.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < builds.length; j++) {
      const b = (j + r) % builds.length;
      const f0 = process.resourceUsage().minorPageFault;
      samples[b].push((batch(b, calls) * 1000) / calls);
      faults[b] += process.resourceUsage().minorPageFault - f0;
    }
  }
  for (let b = 0; b < builds.length; b++) {
    const s = samples[b].sort((x, y) => x - y);
    console.log(
      `${input.label.padEnd(6)} ${part} ${builds[b].label.padEnd(12)} median ${s[s.length >> 1].toFixed(1).padStart(7)} µs  min ${s[0].toFixed(1).padStart(7)} µs  faults/call ${(faults[b] / (rounds * calls)).toFixed(1)}`,
    );
  }
}
