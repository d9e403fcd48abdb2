// The hook server's benchmarks (issue 3, "Benchmarks"): `node scripts/bench-hooks.mjs`.
//   ready    exec -> first answered Info call, per runtime, with the start-up taken apart by
//            probes (bench/hooks/ready.ts, bench/probes/)
//   memory   /proc/PID/status 200 ms and 2 s after 100 OnDefineDomain calls, one connection each (memory.ts)
//   latency  OnDefineDomain p50/p99, new connection per call and reused (latency.ts, tinybench)
// Runtimes: Node running the esbuild bundle (bin/domsplice), Bun running src/cli.ts, Bun's
// compiled binary (built here into build/hooks-bench/ with dist/domsplice's flags), Deno running src/cli.ts.
// Beside the real server, floor probes (bench/probes/): a bare grpc-js server, a bare node:http2
// server answering by hand (what a grpc-js-free transport could reach), on Bun a hand-written
// HTTP/2 loop on Bun.listen (what a transport without node:http2 could reach), and on Bun the
// server with forced GC (how much of its memory is garbage). The whole pass runs three times;
// figures are medians over runs. Writes bench/results/hooks.json and hooks.md.
//
// Usage: node scripts/bench-hooks.mjs [--quick] [--runtimes=node,bun,...] [--programs=start,...]
//   --quick       one short run (a smoke test; printed, not written)
//   --markdown-only  re-render bench/results/hooks.md from hooks.json, measuring nothing
//   --runtimes=   only these runtimes; --programs= only these programs (see bench/hooks/targets.ts);
//                 filtered runs are printed, not written

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newestMtime } from "../scripts/node-bundle.mjs";
import { onDefineDomainCall } from "./hooks/call.ts";
import { measureLatency, type LatencyRound, type LatencyTarget } from "./hooks/latency.ts";
import { AFTER_IDLE_MS, CALLS, measureMemory, type MemorySamples } from "./hooks/memory.ts";
import { measureReady } from "./hooks/ready.ts";
import { median, startUntilLine, stop, type ServerCrash } from "./hooks/processes.ts";
import { infoOnce } from "./hooks/client.ts";
import { markdownOf, type HooksReport } from "./hooks/report.ts";
import { breakdowns, combineReadyRuns, goalsOf, GO_PASST_FROM_ISSUE, latencyFigures, memoryFigures, readyFigures, type ReadyFigure } from "./hooks/summary.ts";
import {
  compileAll,
  compiledServerOutside,
  pathsUnder,
  PROGRAMS,
  MEMORY_PROGRAMS,
  READY_PROGRAMS,
  requireRuntimes,
  RUNTIMES,
  type Paths,
  type ProgramName,
  type RuntimeName,
} from "./hooks/targets.ts";

// bench/hooks.ts and its bundle build/bench-hooks.mjs sit at the same depth.
const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const resultsDir = path.join(repoRoot, "bench", "results");
const COMMAND = "node scripts/bench-hooks.mjs";

function listArgument<T extends string>(args: string[], name: string, all: readonly T[]): T[] {
  const given = args.find((a) => a.startsWith(`--${name}=`));
  if (!given) return [...all];
  const chosen = given.slice(name.length + 3).split(",").filter(Boolean);
  for (const c of chosen) if (!all.includes(c as T)) throw new Error(`--${name}: unknown ${c} (one of ${all.join(", ")})`);
  return chosen as T[];
}

/** The Node server runs dist/cli.js: rebuilt first when older than src/, as bench/run.ts does. */
function ensureCurrentBundle(): void {
  const bundle = path.join(repoRoot, "dist", "cli.js");
  const sources = Math.max(newestMtime(path.join(repoRoot, "src")), newestMtime(path.join(repoRoot, "assembly")));
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < sources) {
    console.log("dist/ is missing or older than the sources: npm run build");
    const build = spawnSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "inherit" });
    if (build.status !== 0) throw new Error("npm run build failed");
  }
}

function versionOf(binary: string): string | null {
  try {
    return /\d+\.\d+\.\d+/.exec(execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 }))?.[0] ?? null;
  } catch {
    return null;
  }
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1].trim() ?? os.cpus()[0]?.model ?? "unknown";
  } catch {
    return os.cpus()[0]?.model ?? "unknown";
  }
}

function machineOf(paths: Paths): HooksReport["machine"] {
  const packageVersion = (name: string) =>
    JSON.parse(readFileSync(path.join(repoRoot, name === "domsplice" ? "" : path.join("node_modules", name), "package.json"), "utf8")).version as string;
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    runtimes: { node: process.versions.node, bun: versionOf(paths.bun), deno: versionOf(paths.deno) },
    libraries: Object.fromEntries(["domsplice", "@grpc/grpc-js", "tinybench", "esbuild"].map((name) => [name, packageVersion(name)])),
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--markdown-only")) {
    // Re-renders hooks.md from the last hooks.json (after a change to the report's layout).
    const report = JSON.parse(readFileSync(path.join(resultsDir, "hooks.json"), "utf8")) as HooksReport;
    writeFileSync(path.join(resultsDir, "hooks.md"), markdownOf(report, COMMAND));
    console.log(`wrote ${path.relative(process.cwd(), resultsDir)}/hooks.md from hooks.json`);
    return;
  }
  const quick = args.includes("--quick");
  const runtimes = listArgument<RuntimeName>(args, "runtimes", RUNTIMES);
  const programs = listArgument<ProgramName>(args, "programs", PROGRAMS);
  const filtered = runtimes.length !== RUNTIMES.length || programs.length !== PROGRAMS.length;
  const paths = pathsUnder(repoRoot);
  requireRuntimes(paths);
  if (runtimes.includes("node") && programs.some((p) => p === "server" || p === "load-cli")) ensureCurrentBundle();
  const machine = machineOf(paths);
  const started = performance.now();
  const log = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

  const compiled = runtimes.includes("bun-compiled") ? compileAll(paths, programs) : [];
  if (compiled.length) log(`compiled ${compiled.length} binaries into ${path.relative(repoRoot, paths.compiledDir)}/`);
  const scratch = mkdtempSync(path.join(os.tmpdir(), "domsplice-hooks-bench-"));
  try {
    if (compiled.length && programs.includes("server")) {
      const outside = compiledServerOutside(paths, scratch);
      const socket = path.join(outside.dir, "domsplice.sock");
      const alone = await startUntilLine({ file: outside.binary, args: ["serve", "--plugin", "identity", "--socket", socket] }, '"serving"', {
        cwd: outside.dir,
        timeoutMs: 30_000,
      });
      try {
        await infoOnce(socket);
      } finally {
        await stop(alone.child);
      }
      log("the compiled server serves from outside the checkout (it embeds what it needs)");
    }
    const call = onDefineDomainCall(repoRoot);
    // Each run measures every cell (ready time interleaved, then memory, then latency); runs
    // repeat the whole pass, so a busy spell on the shared machine hits one run, and the
    // figures are medians over runs.
    const runs = quick ? 1 : 3;
    const rounds = quick ? { ready: 3, warmup: 1 } : { ready: 15, warmup: 2 };
    const readyPrograms = programs.filter((p) => READY_PROGRAMS.includes(p));
    const memoryPrograms = programs.filter((p) => MEMORY_PROGRAMS.includes(p));
    // Latency: the real server on every runtime; the floors on Bun (where the issue's goal is).
    const latencyTargets: LatencyTarget[] = [
      ...(programs.includes("server") ? runtimes.map((runtime) => ({ runtime, program: "server" as const })) : []),
      ...(["grpc-floor", "http2-floor", "bun-h2-floor"] as const)
        .filter((p) => programs.includes(p))
        .flatMap((program) => (["bun", "bun-compiled"] as const).filter((r) => runtimes.includes(r)).map((runtime) => ({ runtime, program }))),
    ];
    const readyRuns: ReadyFigure[][] = [];
    const execFloors: number[] = [];
    const memoryCells: MemorySamples[] = [];
    const latencyRounds: LatencyRound[] = [];
    const crashes: ServerCrash[] = [];
    for (let run = 1; run <= runs; run++) {
      log(`run ${run}/${runs}`);
      const measured = await measureReady(paths, runtimes, readyPrograms, { rounds: rounds.ready, warmupRounds: rounds.warmup, scratch, log });
      readyRuns.push(readyFigures(measured.cells));
      execFloors.push(median(measured.execFloorMs));
      const memoryRun = await measureMemory(paths, runtimes, memoryPrograms, call, { rounds: 1, scratch, log });
      for (const cell of memoryRun.cells) {
        const same = memoryCells.find((c) => c.runtime === cell.runtime && c.program === cell.program);
        if (same) {
          same.idle.push(...cell.idle);
          same.afterCalls.push(...cell.afterCalls);
          same.afterIdle.push(...cell.afterIdle);
        } else memoryCells.push(cell);
      }
      const latencyRun = await measureLatency(paths, latencyTargets, call, { rounds: 1, quick, scratch, log });
      latencyRounds.push(...latencyRun.rounds);
      crashes.push(...memoryRun.crashes.map((c) => ({ ...c, phase: `run ${run}, ${c.phase}` })), ...latencyRun.crashes.map((c) => ({ ...c, phase: `run ${run}, ${c.phase}` })));
    }

    const ready = combineReadyRuns(readyRuns);
    const execFloorMs = median(execFloors);
    const breakdown = breakdowns(ready, runtimes);
    log(`exec floor (/bin/sh writing the line): ${execFloorMs.toFixed(1)} ms`);
    for (const f of ready) {
      log(
        `  ${f.runtime.padEnd(13)} ${f.program.padEnd(12)} line ${f.lineMedianMs.toFixed(1).padStart(6)} ms (p90 ${f.lineP90Ms.toFixed(1)})` +
          (f.readyMedianMs == null ? "" : `  Info ${f.readyMedianMs.toFixed(1).padStart(6)} ms (p90 ${f.readyP90Ms!.toFixed(1)}; runs ${f.readyRunMediansMs.map((v) => v.toFixed(1)).join(", ")})`),
      );
    }
    const memory = memoryFigures(memoryCells);
    for (const m of memory) {
      const a = m.afterCalls;
      log(`  ${m.runtime.padEnd(13)} ${m.program.padEnd(12)} RssAnon ${(a.RssAnon / 1024).toFixed(1)} MB (${(m.afterIdle.RssAnon / 1024).toFixed(1)} MB ${AFTER_IDLE_MS / 1000} s after)  RssFile ${(a.RssFile / 1024).toFixed(1)} MB  VmHWM ${(a.VmHWM / 1024).toFixed(1)} MB`);
    }
    const latency = latencyFigures(latencyRounds);
    for (const c of crashes) log(`CRASH ${c.runtime} ${c.program} (${c.phase}) after ${c.callsAnswered} calls, exit ${c.exit}: ${c.stderrTail.at(-1) ?? ""}`);
    for (const l of latency) {
      log(`  ${l.runtime.padEnd(13)} ${l.program.padEnd(12)} ${l.connection.padEnd(17)} p50 ${l.p50Ms.toFixed(2)} ms  p99 ${l.p99Ms.toFixed(2)} ms  n=${l.samplesPerRound}`);
    }

    const goals = goalsOf(breakdown, memory);
    for (const g of goals) log(`${g.met ? "met    " : "NOT MET"} ${g.name}: ${g.measured.toFixed(1)} ${g.unit} (goal <= ${g.target.toFixed(1)} ${g.unit})`);
    log("done");

    if (quick || filtered) {
      console.log("(quick or filtered run: bench/results/ left as it was)");
      return;
    }
    const report: HooksReport = {
      date: new Date().toISOString(),
      machine,
      method: {
        command: COMMAND,
        runs,
        readyRoundsPerRun: rounds.ready,
        readyWarmupRoundsPerRun: rounds.warmup,
        ready: "hrtime from just before spawn to the awaited stderr line (\"serving\" / \"probe-ready\") and to the first Info answered on a new grpc-js connection; per run the median and p90 (nearest rank) over rounds that interleave all cells; reported: the median over runs of each",
        memory: `/proc/PID/status after Info, and 200 ms and ${AFTER_IDLE_MS} ms after the last of ${CALLS} OnDefineDomain calls (v1alpha3) with a new connection each (the second reading after the server's own idle collection); one server per cell per run; median over runs`,
        latency: "tinybench p50/p99 per task, one Bench per run with all servers; median over runs; client @grpc/grpc-js on Node with src/hooks/codec.ts; new connection = own subchannel pool, closed after the call",
        domain: path.relative(repoRoot, call.domainFile),
        domainBytes: call.params.domainXML.length,
        vmiBytes: call.params.vmi.length,
        goFromIssue: "KubeVirt's Go passt sidecar: figures quoted from the issue and DESIGN.md; Go is not installed on this machine, so not measured in this run",
      },
      compiled,
      execFloorMs,
      ready,
      breakdown,
      memory,
      latency,
      crashes,
      goals,
      goFromIssue: GO_PASST_FROM_ISSUE,
    };
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, "hooks.json"), JSON.stringify(report, null, 2) + "\n");
    writeFileSync(path.join(resultsDir, "hooks.md"), markdownOf(report, COMMAND));
    console.log(`wrote ${path.relative(process.cwd(), resultsDir)}/hooks.json, hooks.md`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
