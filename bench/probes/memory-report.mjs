// Probe for bench/probes/memory-attribution.ts, not product code: the real server (src/cli.ts
// serve, same arguments) that, on SIGUSR2, writes one JSON line on stderr with what the runtime
// says of its own memory: Bun's heap (bun:jsc heapStats: JS heap size and capacity, extra memory
// such as ArrayBuffer backing stores, object counts by type), mimalloc's committed memory
// (bun:jsc memoryUsage), process.memoryUsage(). The reading itself allocates a little; compare
// readings, not bytes. With DOMSPLICE_PROBE_COLLECT=1 it runs Bun.gc(true) first (its time
// reported as collectMs).
import process from "node:process";
import { main } from "../../src/cli.ts";

// (No top-level await: --bytecode builds reject it.)
let jsc = null;
if (globalThis.Bun) void import("bun:jsc").then((module) => (jsc = module));

process.on("SIGUSR2", () => {
  const gcStarted = performance.now();
  if (process.env.DOMSPLICE_PROBE_COLLECT === "1") globalThis.Bun?.gc(true);
  const report = { msg: "memory-report", collectMs: performance.now() - gcStarted, process: process.memoryUsage() };
  if (jsc) {
    const stats = jsc.heapStats();
    const types = Object.entries(stats.objectTypeCounts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12);
    report.heap = {
      heapSize: stats.heapSize,
      heapCapacity: stats.heapCapacity,
      extraMemorySize: stats.extraMemorySize,
      objectCount: stats.objectCount,
      topTypes: Object.fromEntries(types),
    };
    report.malloc = jsc.memoryUsage();
  }
  process.stderr.write(JSON.stringify(report) + "\n");
});

main(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
