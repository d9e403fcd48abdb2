// TS vs WASM body kernel: tokenize() time at 300 B, 1 KB, 8 KB, 64 KB and 1 MB of KubeVirt domain XML
// (<devices> children repeated, as bench/inputs.ts grows them), to choose the size from which
// tokenize()'s "auto" kernel uses WASM (WASM_KERNEL_MIN_BYTES_COLD / _WARM in src/xml/wasm.ts). The WASM
// figure includes copying the input into wasm memory and the token table back out. Measured
// warm (tinybench, same process) and cold (one call in a fresh process, which for WASM includes
// compiling the embedded module). "wasm-lent" is tokenizeLent(): the table as views onto the
// kernel's memory (what plan.ts's apply can use), so the kernel's own cost plus the prolog.
// Writes bench/results/crossover.json.
//
// Usage: node --import tsx bench/crossover.ts

import { Bench } from "tinybench";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import os from "node:os";
import { tokenize, tokenizeLent } from "../src/xml/tokenizer.ts";
import { WASM_KERNEL_MIN_BYTES_COLD, WASM_KERNEL_MIN_BYTES_WARM, releaseLentTable } from "../src/xml/wasm.ts";
import { execFileSync } from "node:child_process";
import { crossoverInputs } from "./crossover-inputs.ts";

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "results");
const inputs = crossoverInputs(readFileSync);

interface Row {
  input: string;
  bytes: number;
  kernel: "ts" | "wasm" | "wasm-lent";
  meanMicros: number;
  medianMicros: number;
  mbPerSecond: number;
}

// The first WASM call compiles and instantiates the embedded module; measured once, here.
const firstStart = performance.now();
tokenize(inputs[0].bytes, { kernel: "wasm" });
const firstCallMicros = Math.round((performance.now() - firstStart) * 1000);
console.log(`first WASM call (compile + instantiate + scan ${inputs[0].label}): ${firstCallMicros} µs`);

const rows: Row[] = [];
for (const input of inputs) {
  for (const kernel of ["ts", "wasm"] as const) {
    const check = tokenize(input.bytes, { kernel });
    if (!check.ok) throw new Error(`${input.label} ${kernel}: ${check.error.message}`);
  }
  const bench = new Bench({ time: input.bytes.length > 100_000 ? 1500 : 600, warmupTime: 200 });
  for (const kernel of ["ts", "wasm"] as const) {
    bench.add(kernel, () => {
      tokenize(input.bytes, { kernel });
    });
  }
  // What plan.ts's apply can get: the table lent as views onto the kernel's memory, no copy out.
  bench.add("wasm-lent", () => {
    tokenizeLent(input.bytes, { kernel: "wasm" });
    releaseLentTable();
  });
  await bench.run();
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== "completed") throw new Error(`${input.label} ${task.name}: ${result.state}`);
    const meanMs = result.latency.mean;
    const medianMs = result.latency.p50 ?? meanMs;
    rows.push({
      input: input.label,
      bytes: input.bytes.length,
      kernel: task.name as Row["kernel"],
      meanMicros: Math.round(meanMs * 1000 * 100) / 100,
      medianMicros: Math.round(medianMs * 1000 * 100) / 100,
      mbPerSecond: Math.round(input.bytes.length / 1e6 / (medianMs / 1000)),
    });
  }
}

console.table(rows);

// Cold: one call in a fresh process (median of 5), the way a hook sidecar or the CLI calls it.
const coldScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "crossover-cold.ts");
const cold: Array<{ input: string; bytes: number; kernel: "ts" | "wasm"; medianMicros: number }> = [];
for (const input of inputs) {
  for (const kernel of ["ts", "wasm"] as const) {
    const samples: number[] = [];
    for (let r = 0; r < 5; r++) {
      const out = execFileSync(process.execPath, ["--import", "tsx", coldScript, kernel, input.label], { encoding: "utf8" });
      samples.push(Number(out.trim()));
    }
    samples.sort((a, b) => a - b);
    cold.push({ input: input.label, bytes: input.bytes.length, kernel, medianMicros: samples[2] });
  }
}
console.table(cold);
const machine = {
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  node: process.version,
  v8: process.versions.v8,
};
mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  path.join(resultsDir, "crossover.json"),
  JSON.stringify({ date: new Date().toISOString(), machine, thresholds: { coldBytes: WASM_KERNEL_MIN_BYTES_COLD, warmBytes: WASM_KERNEL_MIN_BYTES_WARM }, firstCallMicros, warm: rows, cold }, null, 2) + "\n",
);
