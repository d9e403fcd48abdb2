// Memory per runtime: a server started, asked Info, then 100 OnDefineDomain calls with the 8 KB
// domain, one new connection per call (as virt-launcher dials), and its /proc/PID/status read
// idle (after Info), 200 ms after the calls (what the burst left), and again AFTER_IDLE_MS after
// the last call, once the server's own idle-time collection (src/hooks/memory.ts) has run: what a VM pod keeps while the sidecar waits, i.e. most of its life. RssAnon is the pod's own cost; RssFile is page cache
// shared by every pod running the same image; VmHWM is the peak resident set. The "idle" probe
// gives the runtime alone. A server that fails a call is recorded as a crash and the run is
// repeated (at most MAX_RETRIES times).

import { mkdirSync } from "node:fs";
import path from "node:path";
import { infoOnce, onDefineDomainOnce, sameBytes } from "./client.ts";
import type { HookCall } from "./call.ts";
import { freshSocket, memoryOf, startUntilLine, stderrTail, stop, type MemoryStatus, type ServerCrash } from "./processes.ts";
import { commandFor, runsOn, SERVING_PROGRAMS, type Paths, type ProgramName, type RuntimeName } from "./targets.ts";

export const CALLS = 100;
const MAX_RETRIES = 2;
/**
 * The second reading after the calls: after the server's idle-time work (src/hooks/memory.ts: a
 * full collection 100 ms and a shrink 1 s after the last call), with a margin. Not imported from
 * there: that module sets up the collector (and V8's --expose-gc) in whatever process loads it.
 */
export const AFTER_IDLE_MS = 2000;

export interface MemorySamples {
  runtime: RuntimeName;
  program: ProgramName;
  idle: MemoryStatus[];
  /** 200 ms after the last call. */
  afterCalls: MemoryStatus[];
  /** AFTER_IDLE_MS after the last call. */
  afterIdle: MemoryStatus[];
}

const SETTLE_MS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One run: start, (Info, 100 calls), read; undefined and a crash record when a call failed. */
async function runOnce(
  paths: Paths,
  cell: MemorySamples,
  socket: string,
  call: HookCall,
  phase: string,
): Promise<{ idle: MemoryStatus; afterCalls: MemoryStatus; afterIdle: MemoryStatus } | ServerCrash> {
  const serving = SERVING_PROGRAMS.includes(cell.program);
  const started = await startUntilLine(commandFor(paths, cell.runtime, cell.program, socket), serving ? '"serving"' : "probe-ready", {
    cwd: paths.repoRoot,
    timeoutMs: 30_000,
  });
  const pid = started.child.pid!;
  let answered = 0;
  try {
    if (!serving) {
      // The runtime alone: nothing to call; read once it has settled.
      await sleep(SETTLE_MS);
      const status = memoryOf(pid);
      return { idle: status, afterCalls: status, afterIdle: status };
    }
    await infoOnce(socket);
    answered++;
    const idle = memoryOf(pid);
    for (let i = 0; i < CALLS; i++) {
      const domain = await onDefineDomainOnce(socket, call.params);
      answered++;
      if ((i === 0 || i === CALLS - 1) && !sameBytes(domain, call.params.domainXML)) {
        throw new Error(`${cell.runtime} ${cell.program}: OnDefineDomain did not return the domain unchanged`);
      }
    }
    // Let the server see the last connection close before reading.
    const lastCallAt = performance.now();
    await sleep(SETTLE_MS);
    const afterCalls = memoryOf(pid);
    await sleep(AFTER_IDLE_MS - (performance.now() - lastCallAt));
    return { idle, afterCalls, afterIdle: memoryOf(pid) };
  } catch (error) {
    if ((error as { code?: unknown }).code === undefined) throw error; // not a gRPC status: a bench bug
    const exit = await stop(started.child);
    return { runtime: cell.runtime, program: cell.program, phase, callsAnswered: answered, exit, error: String(error), stderrTail: stderrTail(started) };
  } finally {
    await stop(started.child);
  }
}

export async function measureMemory(
  paths: Paths,
  runtimes: readonly RuntimeName[],
  programs: readonly ProgramName[],
  call: HookCall,
  options: { rounds: number; scratch: string; log: (line: string) => void },
): Promise<{ cells: MemorySamples[]; crashes: ServerCrash[] }> {
  const socketDir = path.join(options.scratch, "memory");
  mkdirSync(socketDir, { recursive: true });
  const cells: MemorySamples[] = [];
  const crashes: ServerCrash[] = [];
  for (const runtime of runtimes) for (const program of programs) if (runsOn(program, runtime)) cells.push({ runtime, program, idle: [], afterCalls: [], afterIdle: [] });
  for (let round = 0; round < options.rounds; round++) {
    for (const cell of cells) {
      for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
        const outcome = await runOnce(paths, cell, freshSocket(socketDir), call, `memory round ${round + 1}`);
        if ("afterCalls" in outcome) {
          cell.idle.push(outcome.idle);
          cell.afterCalls.push(outcome.afterCalls);
          cell.afterIdle.push(outcome.afterIdle);
          break;
        }
        crashes.push(outcome);
        options.log(`  ${cell.runtime} ${cell.program}: failed after ${outcome.callsAnswered} calls (exit ${outcome.exit}): ${outcome.error.split("\n")[0]}`);
      }
    }
    options.log(`memory: round ${round + 1}/${options.rounds}`);
  }
  return { cells, crashes };
}
