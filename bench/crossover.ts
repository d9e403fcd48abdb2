// TS vs WASM body kernel: tokenize() time at 1 KB, 8 KB, 64 KB and 1 MB of KubeVirt domain XML
// (<devices> children repeated, as bench/inputs.ts grows them), to choose the size from which
// tokenize()'s "auto" kernel uses WASM (WASM_KERNEL_MIN_BYTES in src/xml/wasm.ts). The WASM
// figure includes copying the input into wasm memory and the token table back out.
// Writes bench/results/crossover.json.
//
// Usage: node --import tsx bench/crossover.ts

import { Bench } from "tinybench";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import os from "node:os";
import { tokenize } from "../src/xml/tokenizer.ts";
import { WASM_KERNEL_MIN_BYTES } from "../src/xml/wasm.ts";
import { DOMAIN_XML_PATH, growDevices } from "./inputs.ts";

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "results");
const base = readFileSync(DOMAIN_XML_PATH, "utf8");
const encoder = new TextEncoder();

/** About 1 KB: the domain's first <devices> child (its interface) in a minimal domain. */
function smallDomain(): string {
  const open = base.indexOf("<devices>") + "<devices>".length;
  const firstChildEnd = base.indexOf("</interface>", open) + "</interface>".length;
  const child = base.slice(open, firstChildEnd);
  let devices = "";
  while (devices.length + child.length < 900) devices += child;
  return `<domain type="kvm" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">\n  <name>vm</name>\n  <devices>${devices}\n  </devices>\n</domain>\n`;
}

const inputs = [
  { label: "1 KB", bytes: encoder.encode(smallDomain()) },
  { label: "8 KB", bytes: encoder.encode(base) },
  { label: "64 KB", bytes: encoder.encode(growDevices(base, 64 * 1024)) },
  { label: "1 MB", bytes: encoder.encode(growDevices(base, 1024 * 1024)) },
];

interface Row {
  input: string;
  bytes: number;
  kernel: "ts" | "wasm";
  meanMicros: number;
  medianMicros: number;
  mbPerSecond: number;
}

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
  await bench.run();
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== "completed") throw new Error(`${input.label} ${task.name}: ${result.state}`);
    const meanMs = result.latency.mean;
    const medianMs = result.latency.p50 ?? meanMs;
    rows.push({
      input: input.label,
      bytes: input.bytes.length,
      kernel: task.name as "ts" | "wasm",
      meanMicros: Math.round(meanMs * 1000 * 100) / 100,
      medianMicros: Math.round(medianMs * 1000 * 100) / 100,
      mbPerSecond: Math.round(input.bytes.length / 1e6 / (medianMs / 1000)),
    });
  }
}

console.table(rows);
const machine = {
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  node: process.version,
  v8: process.versions.v8,
};
mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  path.join(resultsDir, "crossover.json"),
  JSON.stringify({ date: new Date().toISOString(), machine, threshold: WASM_KERNEL_MIN_BYTES, rows }, null, 2) + "\n",
);
