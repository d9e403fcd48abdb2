// Ready time of several builds of the sidecar side by side (bench:hooks measures one build per
// runtime; this compares builds of the same runtime, e.g. with and without a bun flag, or two
// commits). Each argument is LABEL=EXECUTABLE; every build runs `serve --plugin P --socket S`
// for each plugin given, rounds interleaved and rotated so a shared machine's noise falls on all
// alike. Per cell: exec -> "serving" line, exec -> first Info answered (new connection), and the
// server's own readyMs (since its runtime started). Medians and p90 in ms.
//
// With --floor the executables are floor probes (bench/probes/grpc-floor.mjs compiled), which
// take the socket as their only argument.
//
// Usage: node --import tsx bench/probes/ready-builds.ts [--rounds=N] [--plugins=identity,passt] [--floor] LABEL=EXE...

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { firstInfo } from "../hooks/ready.ts";
import { freshSocket, median, nowMs, quantile, startUntilLine, stop } from "../hooks/processes.ts";

const args = process.argv.slice(2);
if (args.includes("--help") || args.length === 0) {
  console.log("Usage: node --import tsx bench/probes/ready-builds.ts [--rounds=N] [--plugins=identity,passt] [--floor] LABEL=EXECUTABLE...");
  process.exit(args.length === 0 ? 2 : 0);
}
let rounds = 30;
let plugins = ["identity"];
let floor = false;
const builds: { label: string; file: string }[] = [];
for (const arg of args) {
  if (arg.startsWith("--rounds=")) rounds = Number(arg.slice(9));
  else if (arg.startsWith("--plugins=")) plugins = arg.slice(10).split(",");
  else if (arg === "--floor") floor = true;
  else if (/^[^=]+=.+/.test(arg)) builds.push({ label: arg.slice(0, arg.indexOf("=")), file: arg.slice(arg.indexOf("=") + 1) });
  else {
    console.error(`ready-builds: unknown argument ${JSON.stringify(arg)} (see --help)`);
    process.exit(2);
  }
}
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error("ready-builds: --rounds must be a positive integer");
  process.exit(2);
}

interface Cell {
  label: string;
  plugin: string;
  command: string;
  line: number[];
  info: number[];
  reported: number[];
}
const cells: Cell[] = builds.flatMap(({ label, file }) => plugins.map((plugin) => ({ label, plugin, command: file, line: [], info: [], reported: [] })));
const scratch = mkdtempSync(path.join(os.tmpdir(), "domsplice-ready-builds-"));
const WARMUP = 3;
try {
  for (let round = 0; round < WARMUP + rounds; round++) {
    const order = cells.map((_, i) => cells[(i + round) % cells.length]);
    for (const cell of order) {
      const socket = freshSocket(scratch);
      const started = await startUntilLine({ file: cell.command, args: floor ? [socket] : ["serve", "--plugin", cell.plugin, "--socket", socket] }, '"serving"', {
        cwd: scratch,
        timeoutMs: 30_000,
      });
      let infoMs = NaN;
      try {
        await firstInfo(socket);
        infoMs = nowMs() - started.execAt;
      } finally {
        await stop(started.child);
      }
      if (round < WARMUP) continue;
      cell.line.push(started.lineMs);
      cell.info.push(infoMs);
      const reported = typeof started.line === "object" ? started.line.readyMs : undefined;
      if (typeof reported === "number") cell.reported.push(reported);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
console.log(`${rounds} rounds (+${WARMUP} warm-up), load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.log("| build | plugin | serving line | Info answered | server's readyMs |\n|---|---|---:|---:|---:|");
for (const c of cells) {
  console.log(`| ${c.label} | ${c.plugin} | ${f(median(c.line))} (${f(quantile(c.line, 0.9))}) | ${f(median(c.info))} (${f(quantile(c.info, 0.9))}) | ${f(median(c.reported))} |`);
}
