// Memory per runtime: a server started, asked Info, then 100 OnDefineDomain calls with the 8 KB
// domain, one new connection per call (as virt-launcher dials), and its /proc/PID/status read
// idle (after Info) and after the calls. RssAnon is the pod's own cost; RssFile is page cache
// shared by every pod running the same image; VmHWM is the peak resident set.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { infoOnce, onDefineDomainOnce, sameBytes } from "./client.ts";
import type { HookCall } from "./call.ts";
import { memoryOf, startUntilLine, stop, type MemoryStatus } from "./processes.ts";
import { commandFor, SERVING_PROGRAMS, type Paths, type ProgramName, type RuntimeName } from "./targets.ts";

export const CALLS = 100;

export interface MemorySamples {
  runtime: RuntimeName;
  program: ProgramName;
  idle: MemoryStatus[];
  afterCalls: MemoryStatus[];
}

export async function measureMemory(
  paths: Paths,
  runtimes: readonly RuntimeName[],
  programs: readonly ProgramName[],
  call: HookCall,
  options: { rounds: number; scratch: string; log: (line: string) => void },
): Promise<MemorySamples[]> {
  const socketDir = path.join(options.scratch, "memory");
  mkdirSync(socketDir, { recursive: true });
  const cells: MemorySamples[] = [];
  for (const runtime of runtimes) for (const program of programs) cells.push({ runtime, program, idle: [], afterCalls: [] });
  let sequence = 0;
  for (let round = 0; round < options.rounds; round++) {
    for (const cell of cells) {
      const socket = path.join(socketDir, `${sequence++}.sock`);
      const serving = SERVING_PROGRAMS.includes(cell.program);
      const started = await startUntilLine(commandFor(paths, cell.runtime, cell.program, socket), serving ? '"serving"' : "probe-ready", {
        cwd: paths.repoRoot,
        timeoutMs: 30_000,
      });
      try {
        const pid = started.child.pid!;
        if (!serving) {
          // The runtime alone: nothing to call; read once it has settled.
          await new Promise((resolve) => setTimeout(resolve, 200));
          cell.idle.push(memoryOf(pid));
          cell.afterCalls.push(memoryOf(pid));
          continue;
        }
        await infoOnce(socket);
        cell.idle.push(memoryOf(pid));
        for (let i = 0; i < CALLS; i++) {
          const domain = await onDefineDomainOnce(socket, call.params);
          if ((i === 0 || i === CALLS - 1) && !sameBytes(domain, call.params.domainXML)) {
            throw new Error(`${cell.runtime} ${cell.program}: OnDefineDomain did not return the domain unchanged`);
          }
        }
        // Let the server see the last connection close before reading.
        await new Promise((resolve) => setTimeout(resolve, 200));
        cell.afterCalls.push(memoryOf(pid));
      } finally {
        await stop(started.child);
      }
    }
    options.log(`memory: round ${round + 1}/${options.rounds}`);
  }
  return cells;
}
