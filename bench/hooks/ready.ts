// Ready time: from exec to the first answered Info call, the moment virt-launcher could use the
// sidecar. Each sample is one child process timed with hrtime from just before spawn:
//   line   exec -> the awaited stderr line: "serving" for servers (written once bound), or a
//          probe's "probe-ready" (the runtime, the CLI's modules or grpc-js loaded)
//   ready  exec -> Info answered, on a new connection made as soon as the line arrived
// Rounds interleave every runtime and program (rotated each round), so the noise of a shared
// machine spreads over all of them alike; the first rounds warm caches and are not recorded.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { infoOnce } from "./client.ts";
import { freshSocket, nowMs, startUntilLine, stop } from "./processes.ts";
import { commandFor, runsOn, SERVING_PROGRAMS, type Paths, type ProgramName, type RuntimeName } from "./targets.ts";

/** The harness's own exec cost: /bin/sh writing the probe line (no JavaScript runtime at all). */
export const EXEC_FLOOR = { file: "/bin/sh", args: ["-c", "echo probe-ready >&2"] };

export interface ReadySamples {
  runtime: RuntimeName;
  program: ProgramName;
  /** exec -> awaited stderr line, ms */
  lineMs: number[];
  /** exec -> first Info answered, ms (serving programs only) */
  readyMs: number[];
  /** The server's own timings from its start line (e.g. readyMs since runtime start), per sample. */
  reported: Record<string, number[]>;
  /** The start line of the last sample, as written. */
  lastLine: Record<string, unknown> | string | null;
}

/** The timings (numeric fields named ...Ms, one level of nesting) of a JSON log line. */
function numericFields(line: Record<string, unknown> | string, prefix = ""): [string, number][] {
  if (typeof line === "string") return [];
  const out: [string, number][] = [];
  for (const [key, value] of Object.entries(line)) {
    if (typeof value === "number" && Number.isFinite(value) && key.endsWith("Ms")) out.push([prefix + key, value]);
    else if (value && typeof value === "object" && !Array.isArray(value) && prefix === "")
      out.push(...numericFields(value as Record<string, unknown>, `${key}.`));
  }
  return out;
}

/** Info on a fresh connection, retried while the socket refuses (it should not, once "serving"). */
export async function firstInfo(socket: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const info = await infoOnce(socket);
      if (!info.versions.includes("v1alpha3")) throw new Error(`Info lists versions ${info.versions.join(", ")}, not v1alpha3`);
      return;
    } catch (error) {
      if ((error as { code?: number }).code !== 14 || attempt >= 50) throw error; // 14: UNAVAILABLE
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

export async function measureReady(
  paths: Paths,
  runtimes: readonly RuntimeName[],
  programs: readonly ProgramName[],
  options: { rounds: number; warmupRounds: number; scratch: string; log: (line: string) => void },
): Promise<{ cells: ReadySamples[]; execFloorMs: number[] }> {
  const socketDir = path.join(options.scratch, "ready");
  mkdirSync(socketDir, { recursive: true });
  const cells: ReadySamples[] = [];
  for (const runtime of runtimes) {
    for (const program of programs) if (runsOn(program, runtime)) cells.push({ runtime, program, lineMs: [], readyMs: [], reported: {}, lastLine: null });
  }
  const execFloorMs: number[] = [];
  for (let round = 0; round < options.warmupRounds + options.rounds; round++) {
    const recording = round >= options.warmupRounds;
    const floor = await startUntilLine(EXEC_FLOOR, "probe-ready", { cwd: paths.repoRoot, timeoutMs: 30_000 });
    await stop(floor.child);
    if (recording) execFloorMs.push(floor.lineMs);
    const order = cells.map((_, i) => cells[(i + round) % cells.length]);
    for (const cell of order) {
      const serving = SERVING_PROGRAMS.includes(cell.program);
      const socket = freshSocket(socketDir);
      const started = await startUntilLine(commandFor(paths, cell.runtime, cell.program, socket), serving ? '"serving"' : "probe-ready", {
        cwd: paths.repoRoot,
        timeoutMs: 30_000,
      });
      let readyMs = NaN;
      try {
        if (serving) {
          await firstInfo(socket);
          readyMs = nowMs() - started.execAt;
        }
      } finally {
        await stop(started.child);
      }
      if (!recording) continue;
      cell.lineMs.push(started.lineMs);
      if (serving) cell.readyMs.push(readyMs);
      cell.lastLine = started.line;
      for (const [name, value] of numericFields(started.line)) (cell.reported[name] ??= []).push(value);
    }
    options.log(`ready: round ${round + 1}/${options.warmupRounds + options.rounds}${recording ? "" : " (warm-up)"}`);
  }
  return { cells, execFloorMs };
}
