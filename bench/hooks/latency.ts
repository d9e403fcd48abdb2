// OnDefineDomain latency as the caller sees it, timed by tinybench in this process (the client
// side is @grpc/grpc-js on Node for every server, so differences are the servers'):
//   new connection     dial, call, close: what virt-launcher does for every call
//   reused connection  one connection kept open, for comparison (the transport's floor per call)
// Every server runs at once and the tasks run back to back in one Bench, so a round compares
// runtimes under the same machine load; rounds repeat that and the report takes medians.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { Bench } from "tinybench";
import { HookClient, onDefineDomainOnce, sameBytes } from "./client.ts";
import type { HookCall } from "./call.ts";
import { startUntilLine, stop, type Started } from "./processes.ts";
import { commandFor, type Paths, type ProgramName, type RuntimeName } from "./targets.ts";

export type Connection = "new connection" | "reused connection";

export interface LatencyTarget {
  runtime: RuntimeName;
  program: ProgramName;
}

export interface LatencyRound {
  runtime: RuntimeName;
  program: ProgramName;
  connection: Connection;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  samples: number;
}

export async function measureLatency(
  paths: Paths,
  targets: readonly LatencyTarget[],
  call: HookCall,
  options: { rounds: number; quick: boolean; scratch: string; log: (line: string) => void },
): Promise<LatencyRound[]> {
  const socketDir = path.join(options.scratch, "latency");
  mkdirSync(socketDir, { recursive: true });
  const rounds: LatencyRound[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const running: { target: LatencyTarget; socket: string; started: Started; reused: HookClient }[] = [];
    try {
      for (const [i, target] of targets.entries()) {
        const socket = path.join(socketDir, `${round}-${i}.sock`);
        const started = await startUntilLine(commandFor(paths, target.runtime, target.program, socket), '"serving"', { cwd: paths.repoRoot, timeoutMs: 30_000 });
        const reused = new HookClient(socket);
        running.push({ target, socket, started, reused });
        // Checked once, outside the timing: both ways return the domain unchanged.
        for (const domain of [await onDefineDomainOnce(socket, call.params), await reused.onDefineDomain("v1alpha3", call.params)]) {
          if (!sameBytes(domain, call.params.domainXML)) throw new Error(`${target.runtime} ${target.program}: OnDefineDomain changed the domain`);
        }
      }
      const bench = new Bench(
        options.quick
          ? { time: 200, iterations: 20, warmupTime: 50, warmupIterations: 5 }
          : { time: 1500, iterations: 200, warmupTime: 200, warmupIterations: 20 },
      );
      const names: { name: string; target: LatencyTarget; connection: Connection }[] = [];
      for (const { target, socket, reused } of running) {
        for (const connection of ["new connection", "reused connection"] as const) {
          const name = `${target.runtime} ${target.program} ${connection}`;
          names.push({ name, target, connection });
          bench.add(
            name,
            connection === "new connection"
              ? async () => {
                  await onDefineDomainOnce(socket, call.params);
                }
              : async () => {
                  await reused.onDefineDomain("v1alpha3", call.params);
                },
          );
        }
      }
      await bench.run();
      for (const [i, task] of bench.tasks.entries()) {
        const result = task.result;
        if (result.state !== "completed") throw new Error(`latency ${names[i].name}: ${result.state}${"error" in result ? `: ${String(result.error)}` : ""}`);
        rounds.push({
          runtime: names[i].target.runtime,
          program: names[i].target.program,
          connection: names[i].connection,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          meanMs: result.latency.mean,
          samples: result.latency.samplesCount,
        });
      }
    } finally {
      for (const { started, reused } of running) {
        reused.close();
        await stop(started.child);
      }
    }
    options.log(`latency: round ${round + 1}/${options.rounds}`);
  }
  return rounds;
}
