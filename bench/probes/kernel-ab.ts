// The WASM kernel's scan() alone, several builds side by side: each argument is LABEL=FILE.wasm
// (build one with `npx asc assembly/scan.ts --enable simd -O3 --runtime stub --initialMemory 64
// --noAssert --use abort= --outFile FILE.wasm`, the flags of scripts/build.mjs). Every build gets
// the bench inputs (bench/inputs.ts) copied into its memory once, laid out as src/xml/wasm.ts
// lays them out (body from the root's '<', no prolog tokens), and its token table is checked
// against the first build's before timing. Rounds are interleaved and rotated, so the noise of
// a shared machine falls on all builds alike; each round is a batch of ~20 ms. Prints the
// median and the fastest round per build, µs per scan.
//
// --no-check skips the table comparison (for builds that leave work out, to see what it costs).
// --variant=short-values|no-attributes|no-space scans a reshaped input instead (see reshape()):
// the difference to the plain input is what those bytes and tokens cost.
// The stack area is 64 KiB (deep enough for the bench inputs at 16 bytes per open element), and
// the token area n/4 tokens (the loader's n/8 is too small for the no-space variant).
//
// Usage: node --import tsx bench/probes/kernel-ab.ts [--rounds=N] [--size=1MB|8KB|64KB] [--no-check]
//          [--variant=V] LABEL=FILE.wasm...

import { readFileSync } from "node:fs";
import { benchInputs } from "../inputs.ts";

interface Kernel {
  memory: WebAssembly.Memory;
  scan(...args: number[]): number;
  tokenCount(): number;
}

const INPUT = 65536;
const args = process.argv.slice(2);
let rounds = 30;
let sizes = ["8 KB", "1 MB"];
let check = true;
const builds: { label: string; kernel: Kernel }[] = [];
for (const arg of args) {
  if (arg.startsWith("--variant=")) continue;
  else if (arg.startsWith("--rounds=")) rounds = Number(arg.slice(9));
  else if (arg === "--no-check") check = false;
  else if (arg.startsWith("--size=")) sizes = [arg.slice(7).replace(/([0-9])([KM])/, "$1 $2")];
  else {
    const at = arg.indexOf("=");
    const module = new WebAssembly.Module(readFileSync(arg.slice(at + 1)));
    builds.push({ label: arg.slice(0, at), kernel: new WebAssembly.Instance(module, {}).exports as unknown as Kernel });
  }
}
if (builds.length === 0) {
  console.error("usage: node --import tsx bench/probes/kernel-ab.ts [--rounds=N] [--size=1MB] [--no-check] [--variant=V] LABEL=FILE.wasm...");
  process.exit(2);
}

// --variant=short-values|no-attributes|no-space: the same input with every attribute value cut
// to one byte, with no attributes, or with no whitespace between tags (what each costs).
const variant = args.find((a) => a.startsWith("--variant="))?.slice(10);
function reshape(bytes: Uint8Array): Uint8Array {
  if (variant === undefined) return bytes;
  let text = new TextDecoder().decode(bytes);
  const head = text.indexOf("<domain");
  let body = text.slice(head);
  if (variant === "short-values") body = body.replace(/="[^"]*"/g, '="v"');
  else if (variant === "no-attributes") body = body.replace(/(<[A-Za-z][^\s>/]*)[^>]*?(\/?>)/g, "$1$2");
  else if (variant === "no-space") body = body.replace(/>\s+</g, "><");
  return new TextEncoder().encode(text.slice(0, head) + body);
}

for (const input of benchInputs().filter((i) => sizes.includes(i.label)).map((i) => ({ ...i, bytes: reshape(i.bytes) }))) {
  const n = input.bytes.length;
  const from = new TextDecoder().decode(input.bytes).indexOf("<domain");
  const capacity = ((n >> 2) + 64 + 1023) & ~1023;
  const stackPtr = INPUT + ((n + 16 + 4095) & ~4095);
  const kindPtr = stackPtr + 65536;
  const startPtr = kindPtr + ((capacity + 15) & ~15);
  const endPtr = startPtr + 4 * capacity;
  const midPtr = endPtr + 4 * capacity;
  const linkPtr = midPtr + 4 * capacity;
  const refPtr = linkPtr + 4 * capacity;
  const run = (k: Kernel) =>
    k.scan(n, from, 4096, 1 << 30, 0, stackPtr, capacity, kindPtr, startPtr, endPtr, midPtr, linkPtr, 64, refPtr, refPtr + 256, refPtr + 512);
  let reference: Uint8Array | null = null;
  for (const { label, kernel } of builds) {
    if (kernel.memory.buffer.byteLength < refPtr + 1024) kernel.memory.grow(Math.ceil((refPtr + 1024 - kernel.memory.buffer.byteLength) / 65536));
    new Uint8Array(kernel.memory.buffer).set(input.bytes, INPUT);
    const code = run(kernel);
    if (code !== 0) throw new Error(`${label}: scan() returned ${code}`);
    const count = kernel.tokenCount();
    const mem = new Uint8Array(kernel.memory.buffer);
    const table = new Uint8Array(count * 17);
    table.set(mem.subarray(kindPtr, kindPtr + count), 0);
    for (const [p, k] of [[startPtr, 1], [endPtr, 5], [midPtr, 9], [linkPtr, 13]]) table.set(mem.subarray(p, p + 4 * count), count * k);
    if (reference === null) reference = table;
    else if (check && (reference.length !== table.length || !reference.every((b, i) => b === table[i]))) throw new Error(`${label}: token table differs from ${builds[0].label}'s`);
  }
  let calls = 1;
  while (true) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) run(builds[0].kernel);
    if (performance.now() - t0 > 20) break;
    calls *= 2;
  }
  const samples = builds.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let b = 0; b < builds.length; b++) {
      const which = (b + r) % builds.length;
      const k = builds[which].kernel;
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) run(k);
      samples[which].push(((performance.now() - t0) * 1000) / calls);
    }
  }
  for (let b = 0; b < builds.length; b++) {
    const s = samples[b].sort((x, y) => x - y);
    const median = s[s.length >> 1];
    console.log(`${input.label.padEnd(6)} ${n} B ${builds[b].kernel.tokenCount()} tokens ${builds[b].label.padEnd(12)} median ${median.toFixed(1).padStart(7)} µs  min ${s[0].toFixed(1).padStart(7)} µs  ${(n / median / 1000).toFixed(2)} GB/s`);
  }
}
