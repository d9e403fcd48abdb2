// From samples to the figures bench/results/hooks.{json,md} report: medians and p90 of ready
// time, the start-up breakdown per runtime (each step the difference of two probe medians), the
// median memory over rounds, the median p50/p99 latency over rounds, and the issue's goals.

import type { LatencyRound, Connection } from "./latency.ts";
import type { MemorySamples } from "./memory.ts";
import { median, quantile, type MemoryStatus } from "./processes.ts";
import type { ReadySamples } from "./ready.ts";
import type { ProgramName, RuntimeName } from "./targets.ts";

/** KubeVirt's Go passt sidecar, as the issue and DESIGN.md quote it (Go cannot run here). */
export const GO_PASST_FROM_ISSUE = {
  readyMs: 16,
  VmHWMMB: 23,
  RssAnonMB: 7,
  RssFileMB: 16,
  onDefineDomainP50Ms: "3-5",
};

export interface ReadyFigure {
  runtime: RuntimeName;
  program: ProgramName;
  samples: number;
  lineMedianMs: number;
  lineP90Ms: number;
  readyMedianMs: number | null;
  readyP90Ms: number | null;
  /** Medians of the numeric fields of the server's own start line. */
  reportedMedians: Record<string, number>;
  /** exec -> Info answered, the median of each run (the spread between runs). */
  readyRunMediansMs: number[];
}

export interface Breakdown {
  runtime: RuntimeName;
  /** exec -> an empty script's line */
  runtimeStartMs: number;
  /** importing the CLI, beyond runtime start */
  cliLoadMs: number;
  /** importing @grpc/grpc-js alone, beyond runtime start */
  grpcImportMs: number;
  /** bare grpc-js server: new Server + addService + bindAsync, beyond the import */
  grpcBindMs: number;
  /**
   * What the steps above leave of the "serving" line: serve's own modules (src/hooks, the
   * plugins; the CLI loads them with import() only for serve) and its socket set-up.
   */
  serveRestMs: number | null;
  /** exec -> the server's "serving" line */
  serverServingMs: number | null;
  /** the server's "serving" line -> Info answered on a new connection */
  firstInfoMs: number | null;
  /** exec -> Info answered: median and p90 */
  serverReadyMs: number | null;
  serverReadyP90Ms: number | null;
  grpcFloorReadyMs: number;
  http2FloorReadyMs: number;
  /** Bun only: Bun.listen with a hand-written HTTP/2 frame loop. */
  bunH2FloorReadyMs: number | null;
}

export interface MemoryFigure {
  runtime: RuntimeName;
  program: ProgramName;
  rounds: number;
  /** Medians over rounds, each field in kB as /proc/PID/status reports it. */
  idle: MemoryStatus;
  /** 200 ms after the last call. */
  afterCalls: MemoryStatus;
  /** 2 s after the last call (bench/hooks/memory.ts AFTER_IDLE_MS): after the server's idle collection. */
  afterIdle: MemoryStatus;
}

export interface LatencyFigure {
  runtime: RuntimeName;
  program: ProgramName;
  connection: Connection;
  rounds: number;
  p50Ms: number;
  p99Ms: number;
  samplesPerRound: number;
}

export interface Goal {
  name: string;
  measured: number;
  unit: string;
  target: number;
  met: boolean;
}

export function readyFigures(cells: readonly ReadySamples[]): ReadyFigure[] {
  return cells.map((cell) => ({
    runtime: cell.runtime,
    program: cell.program,
    samples: cell.lineMs.length,
    lineMedianMs: median(cell.lineMs),
    lineP90Ms: quantile(cell.lineMs, 0.9),
    readyMedianMs: cell.readyMs.length ? median(cell.readyMs) : null,
    readyP90Ms: cell.readyMs.length ? quantile(cell.readyMs, 0.9) : null,
    reportedMedians: Object.fromEntries(Object.entries(cell.reported).map(([name, values]) => [name, median(values)])),
    readyRunMediansMs: cell.readyMs.length ? [median(cell.readyMs)] : [],
  }));
}

/** One figure per cell from several runs: the median over runs of each run's median and p90. */
export function combineReadyRuns(runs: readonly (readonly ReadyFigure[])[]): ReadyFigure[] {
  return runs[0].map((first) => {
    const same = runs.map((run) => run.find((f) => f.runtime === first.runtime && f.program === first.program)!);
    const over = (pick: (f: ReadyFigure) => number | null) => {
      const values = same.map(pick).filter((v): v is number => v != null);
      return values.length ? median(values) : null;
    };
    const names = [...new Set(same.flatMap((f) => Object.keys(f.reportedMedians)))];
    return {
      runtime: first.runtime,
      program: first.program,
      samples: same.reduce((sum, f) => sum + f.samples, 0),
      lineMedianMs: over((f) => f.lineMedianMs)!,
      lineP90Ms: over((f) => f.lineP90Ms)!,
      readyMedianMs: over((f) => f.readyMedianMs),
      readyP90Ms: over((f) => f.readyP90Ms),
      reportedMedians: Object.fromEntries(names.map((name) => [name, over((f) => f.reportedMedians[name] ?? null)!])),
      readyRunMediansMs: same.flatMap((f) => f.readyRunMediansMs),
    };
  });
}

export function breakdowns(figures: readonly ReadyFigure[], runtimes: readonly RuntimeName[]): Breakdown[] {
  const out: Breakdown[] = [];
  for (const runtime of runtimes) {
    const of = (program: ProgramName) => figures.find((f) => f.runtime === runtime && f.program === program);
    const start = of("start");
    const cli = of("load-cli");
    const grpc = of("grpc-import");
    const grpcFloor = of("grpc-floor");
    const http2Floor = of("http2-floor");
    const server = of("server");
    if (!start || !cli || !grpc || !grpcFloor || !http2Floor) continue;
    out.push({
      runtime,
      runtimeStartMs: start.lineMedianMs,
      cliLoadMs: cli.lineMedianMs - start.lineMedianMs,
      grpcImportMs: grpc.lineMedianMs - start.lineMedianMs,
      grpcBindMs: grpcFloor.lineMedianMs - grpc.lineMedianMs,
      serveRestMs: server ? server.lineMedianMs - cli.lineMedianMs - (grpc.lineMedianMs - start.lineMedianMs) - (grpcFloor.lineMedianMs - grpc.lineMedianMs) : null,
      serverServingMs: server?.lineMedianMs ?? null,
      firstInfoMs: server?.readyMedianMs != null ? server.readyMedianMs - server.lineMedianMs : null,
      serverReadyMs: server?.readyMedianMs ?? null,
      serverReadyP90Ms: server?.readyP90Ms ?? null,
      grpcFloorReadyMs: grpcFloor.readyMedianMs!,
      http2FloorReadyMs: http2Floor.readyMedianMs!,
      bunH2FloorReadyMs: of("bun-h2-floor")?.readyMedianMs ?? null,
    });
  }
  return out;
}

function medianStatus(statuses: readonly MemoryStatus[]): MemoryStatus {
  const fields = ["VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"] as const;
  return Object.fromEntries(fields.map((field) => [field, median(statuses.map((s) => s[field]))])) as unknown as MemoryStatus;
}

export function memoryFigures(cells: readonly MemorySamples[]): MemoryFigure[] {
  return cells.map((cell) => ({
    runtime: cell.runtime,
    program: cell.program,
    rounds: cell.afterCalls.length,
    idle: medianStatus(cell.idle),
    afterCalls: medianStatus(cell.afterCalls),
    afterIdle: medianStatus(cell.afterIdle),
  }));
}

export function latencyFigures(rounds: readonly LatencyRound[]): LatencyFigure[] {
  const groups = new Map<string, LatencyRound[]>();
  for (const r of rounds) {
    const key = `${r.runtime}|${r.program}|${r.connection}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => ({
    runtime: group[0].runtime,
    program: group[0].program,
    connection: group[0].connection,
    rounds: group.length,
    p50Ms: median(group.map((r) => r.p50Ms)),
    p99Ms: median(group.map((r) => r.p99Ms)),
    samplesPerRound: Math.round(median(group.map((r) => r.samples))),
  }));
}

const MB = 1024; // kB per MB as /proc reports them (KiB); the issue's "MB" figures are the same unit.

export function goalsOf(breakdown: readonly Breakdown[], memory: readonly MemoryFigure[]): Goal[] {
  const goals: Goal[] = [];
  const compiled = breakdown.find((b) => b.runtime === "bun-compiled");
  if (compiled?.serverReadyMs != null) {
    const target = GO_PASST_FROM_ISSUE.readyMs * 1.5;
    goals.push({ name: "ready time, Bun compiled (1.5x Go passt's 16 ms)", measured: compiled.serverReadyMs, unit: "ms", target, met: compiled.serverReadyMs <= target });
  }
  for (const runtime of ["bun-compiled", "bun"] as const) {
    const server = memory.find((m) => m.runtime === runtime && m.program === "server");
    if (!server) continue;
    const label = runtime === "bun" ? "Bun source" : "Bun compiled";
    const peak = server.afterCalls.VmHWM / MB;
    goals.push({ name: `peak RSS (VmHWM) after ${100} calls, ${label}`, measured: peak, unit: "MB", target: 32, met: peak <= 32 });
    const anonTarget = GO_PASST_FROM_ISSUE.RssAnonMB * 1.5;
    for (const [when, status] of [
      ["200 ms", server.afterCalls],
      ["2 s", server.afterIdle],
    ] as const) {
      const anon = status.RssAnon / MB;
      goals.push({ name: `RssAnon ${when} after 100 calls, ${label} (DESIGN.md: 1.5x Go passt's 7 MB)`, measured: anon, unit: "MB", target: anonTarget, met: anon <= anonTarget });
    }
  }
  return goals;
}
