// Where the sidecar's anonymous memory sits (not product code): builds bench/probes/memory-report.mjs
// with dist/domsplice's flags (the real server plus a SIGUSR2 memory report), starts it, and at
// each step (idle after Info; 100 calls of the 8 KB domain; 30 calls of the 1 MB domain; each read
// 200 ms and 2.2 s after the last call, i.e. before and after the server's idle collection) prints
//   /proc/PID/status   RssAnon, RssFile, VmHWM
//   /proc/PID/smaps    anonymous memory by region (smapsOf: WASM memory, mimalloc arena, ...)
//   the server's own   bun:jsc heapStats (JS heap, extra memory: ArrayBuffer stores), mimalloc's
//   report             committed bytes, process.memoryUsage()
//
// Usage: node --import tsx bench/probes/memory-attribution.ts [--plugin passt|identity] [--binary PATH] [--dump DIR]
//        (--binary: an already built memory-report binary, e.g. one built from other sources;
//        --dump: a copy of /proc/PID/smaps per step into DIR)

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compileExecutable } from "../../scripts/build-image-artifact.mjs";
import { infoOnce, onDefineDomainOnce, sameBytes } from "../hooks/client.ts";
import { memoryOf, startUntilLine, stop, type Started } from "../hooks/processes.ts";
import { limitsCalls, type LimitsPlugin } from "../limits/call.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const KB = 1024;

export interface SmapsSummary {
  /** kB of anonymous memory per group. */
  groups: Record<string, number>;
  /** The largest anonymous mappings: size (kB), anonymous (kB), name. */
  largest: { sizeKb: number; anonKb: number; name: string; perms: string }[];
  totalAnonKb: number;
}

const GIB_KB = 1024 * 1024;

/**
 * Anonymous memory of a process by region, from /proc/PID/smaps. Adjacent unnamed mappings are
 * one region (a runtime reserves a range once and changes the protection of parts of it, which
 * splits the mapping), labelled by what its shape says:
 *   - a region with a PROT_NONE part of >= 4 GiB: a WASM linear memory (JSC reserves 4 GiB plus a
 *     guard so that bounds checks are page faults; the rw part is the memory's current size);
 *   - a region of 1 GiB in mimalloc's hint range (2-30 TiB): a mimalloc arena (Bun's allocator
 *     outside the JS heap; WTF's fastMalloc and so JSC's own allocations go there too);
 *   - a 4 GiB-aligned region of 4 GiB: a fixed reservation (JSC's Structure heap, most likely);
 *   - rwx: JIT code.
 */
export function smapsOf(pid: number): SmapsSummary {
  const text = readFileSync(`/proc/${pid}/smaps`, "utf8");
  const mappings: { start: number; end: number; sizeKb: number; anonKb: number; name: string; perms: string; inode: string }[] = [];
  for (const line of text.split("\n")) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header) {
      mappings.push({ start: parseInt(header[1], 16), end: parseInt(header[2], 16), sizeKb: 0, anonKb: 0, name: header[5], perms: header[3], inode: header[4] });
      continue;
    }
    const field = /^(Size|Anonymous):\s+(\d+) kB/.exec(line);
    if (field && mappings.length) {
      const last = mappings.at(-1)!;
      if (field[1] === "Size") last.sizeKb = Number(field[2]);
      else last.anonKb = Number(field[2]);
    }
  }
  // Unnamed anonymous mappings merged into regions.
  const regions: { start: number; end: number; sizeKb: number; anonKb: number; perms: Set<string>; guardKb: number }[] = [];
  for (const m of mappings) {
    if (m.inode !== "0" || m.name !== "") continue;
    const last = regions.at(-1);
    const guardKb = m.perms.startsWith("---") ? m.sizeKb : 0;
    // A region ends where one reservation evidently does: after a WASM guard, at a reservation's
    // size, or where the next mapping starts on a 1 GiB boundary (a new aligned reservation).
    const closed = last === undefined || last.guardKb >= 4 * GIB_KB || last.sizeKb === GIB_KB || last.sizeKb === 4 * GIB_KB || m.start % 2 ** 30 === 0;
    if (!closed && last.end === m.start && !m.perms.includes("x") && !last.perms.has("rwxp")) {
      last.end = m.end;
      last.sizeKb += m.sizeKb;
      last.anonKb += m.anonKb;
      last.perms.add(m.perms);
      last.guardKb = Math.max(last.guardKb, guardKb);
    } else regions.push({ start: m.start, end: m.end, sizeKb: m.sizeKb, anonKb: m.anonKb, perms: new Set([m.perms]), guardKb });
  }
  const GiB = GIB_KB;
  const labelOf = (r: (typeof regions)[number]): string => {
    const size = r.sizeKb >= GiB ? `${(r.sizeKb / GiB).toFixed(1)} GiB` : `${(r.sizeKb / 1024).toFixed(1)} MiB`;
    if (r.guardKb >= 4 * GiB) return `WASM linear memory (${((r.sizeKb - r.guardKb) / 1024).toFixed(1)} MiB usable + ${(r.guardKb / GiB).toFixed(1)} GiB guard)`;
    if (r.perms.has("rwxp")) return `JIT code, rwx (${size})`;
    const tib = r.start / 2 ** 40;
    if (r.sizeKb === GiB && tib >= 2 && tib < 30) return "mimalloc arena (1 GiB reserved)";
    if (r.sizeKb === 4 * GiB && r.start % (4 * 2 ** 30) === 0) return "4 GiB-aligned 4 GiB reservation (JSC Structure heap, likely)";
    if (r.sizeKb >= 64 * 1024) return "other unnamed regions >= 64 MiB";
    return "other unnamed regions < 64 MiB (thread stacks, small mmaps)";
  };
  const groups: Record<string, number> = {};
  const add = (group: string, kb: number) => (groups[group] = (groups[group] ?? 0) + kb);
  for (const m of mappings) {
    if (m.anonKb === 0 || (m.inode === "0" && m.name === "")) continue;
    if (m.inode !== "0") add(`file-backed, written (copy-on-write): ${path.basename(m.name)}`, m.anonKb);
    else if (m.name === "[heap]") add("[heap] (brk: glibc malloc)", m.anonKb);
    else add(m.name, m.anonKb);
  }
  for (const r of regions) if (r.anonKb > 0) add(labelOf(r), r.anonKb);
  const largest = regions
    .filter((r) => r.anonKb > 0)
    .sort((a, b) => b.anonKb - a.anonKb)
    .slice(0, 8)
    .map((r) => ({ sizeKb: r.sizeKb, anonKb: r.anonKb, name: labelOf(r), perms: [...r.perms].join(",") }));
  return { groups, largest, totalAnonKb: mappings.reduce((sum, m) => sum + m.anonKb, 0) };
}

/** The server's own report (memory-report.mjs), asked for with SIGUSR2. */
async function reportOf(started: Started): Promise<Record<string, unknown>> {
  const before = started.stderr.length;
  started.child.kill("SIGUSR2");
  for (let i = 0; i < 200; i++) {
    const line = started.stderr.slice(before).find((l) => l.includes('"memory-report"'));
    if (line) return JSON.parse(line);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("no memory report");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (kb: number) => (kb / KB).toFixed(1);
const mbBytes = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

let dumpDir = "";
let dumps = 0;

async function snapshot(label: string, started: Started): Promise<void> {
  const pid = started.child.pid!;
  if (dumpDir) writeFileSync(path.join(dumpDir, `${dumps++}.smaps`), `# ${label}\n` + readFileSync(`/proc/${pid}/smaps`, "utf8"));
  const status = memoryOf(pid);
  const smaps = smapsOf(pid);
  const own = (await reportOf(started)) as {
    heap?: { heapSize: number; heapCapacity: number; extraMemorySize: number; objectCount: number; topTypes: Record<string, number> };
    malloc?: { currentCommit: number };
    collectMs: number;
    process: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  };
  console.log(`\n== ${label}: RssAnon ${mb(status.RssAnon)} MB, RssFile ${mb(status.RssFile)} MB, VmHWM ${mb(status.VmHWM)} MB (smaps anonymous ${mb(smaps.totalAnonKb)} MB)`);
  for (const [group, kb] of Object.entries(smaps.groups).sort((a, b) => b[1] - a[1])) console.log(`   ${mb(kb).padStart(6)} MB  ${group}`);
  console.log(`   largest unnamed regions (anon MB / size): ${smaps.largest.map((m) => `${mb(m.anonKb)} / ${m.sizeKb >= 1024 * 1024 ? `${(m.sizeKb / 1024 / 1024).toFixed(1)} GiB` : `${mb(m.sizeKb)} MiB`} ${m.perms}`).join("; ")}`);
  if (own.heap) {
    console.log(
      `   JSC heap: size ${mbBytes(own.heap.heapSize)} MB, capacity ${mbBytes(own.heap.heapCapacity)} MB, extra memory ${mbBytes(own.heap.extraMemorySize)} MB, ${own.heap.objectCount} objects; mimalloc committed ${mbBytes(own.malloc!.currentCommit)} MB`,
    );
    console.log(`   most objects: ${Object.entries(own.heap.topTypes).map(([t, n]) => `${t} ${n}`).join(", ")}`);
  }
  if (process.env.DOMSPLICE_PROBE_COLLECT === "1") console.log(`   Bun.gc(true) before this report took ${own.collectMs.toFixed(1)} ms`);
  console.log(`   process.memoryUsage: heapUsed ${mbBytes(own.process.heapUsed)} MB, heapTotal ${mbBytes(own.process.heapTotal)} MB, external ${mbBytes(own.process.external)} MB, arrayBuffers ${mbBytes(own.process.arrayBuffers)} MB`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--dump")) dumpDir = path.resolve(args[args.indexOf("--dump") + 1]);
  const plugin = (args[args.indexOf("--plugin") + 1] ?? "passt") as LimitsPlugin;
  const scratch = mkdtempSync(path.join(os.tmpdir(), "domsplice-attribution-"));
  let binary = args.includes("--binary") ? path.resolve(args[args.indexOf("--binary") + 1]) : "";
  if (!binary) {
    const outDir = path.join(repoRoot, "build", "probes");
    mkdirSync(outDir, { recursive: true });
    binary = path.join(outDir, "memory-report");
    // Built as dist/domsplice is (its flags and its grpc-js plugin), so the memory is the artifact's.
    compileExecutable(path.join(repoRoot, "bench/probes/memory-report.mjs"), binary);
  }
  const calls = await limitsCalls(repoRoot, plugin);
  const socket = path.join(scratch, "s.sock");
  const started = await startUntilLine({ file: binary, args: ["serve", "--plugin", plugin, "--socket", socket] }, '"serving"', { cwd: scratch, timeoutMs: 30_000 });
  try {
    await infoOnce(socket);
    await sleep(200);
    await snapshot("idle, after one Info", started);
    for (const [call, count] of [
      [calls.small, 100],
      [calls.large, 30],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const answer = await onDefineDomainOnce(socket, call.params, 60_000);
        if (!sameBytes(answer, call.expected)) throw new Error(`wrong answer to the ${call.label} call`);
      }
      await sleep(200);
      await snapshot(`${count} x ${call.label} (${plugin}), 200 ms after the last call`, started);
      await sleep(2000);
      await snapshot(`${count} x ${call.label} (${plugin}), 2.2 s after the last call`, started);
    }
  } finally {
    await stop(started.child);
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
