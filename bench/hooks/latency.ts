// OnDefineDomain latency as the caller sees it, timed by tinybench in this process (the client
// side is @grpc/grpc-js on Node for every server, so differences are the servers'):
//   new connection     dial, call, close: what virt-launcher does for every call
//   reused connection  one connection kept open, for comparison (the transport's floor per call)
// Every server runs at once and the tasks run back to back in one Bench, so a round compares
// runtimes under the same machine load; rounds repeat that and the report takes medians.
// A server that dies mid-run (Deno 2.9's node:http2 can abort in nghttp2 under connection
// churn) is recorded as a crash with its exit status and last stderr lines, restarted, and its
// tasks run again in a Bench of their own (at most MAX_RETRIES times); only completed tasks
// give figures.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { Bench } from "tinybench";
import { HookClient, onDefineDomainOnce, sameBytes } from "./client.ts";
import type { HookCall } from "./call.ts";
import { freshSocket, startUntilLine, stderrTail, stop, type ServerCrash, type Started } from "./processes.ts";
import { commandFor, type Paths, type ProgramName, type RuntimeName } from "./targets.ts";

export type Connection = "new connection" | "reused connection";
const CONNECTIONS: readonly Connection[] = ["new connection", "reused connection"];
const MAX_RETRIES = 2;

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

interface Running {
  target: LatencyTarget;
  socket: string;
  started: Started;
  reused: HookClient;
  callsAnswered: number;
}

/** A server started and checked; a server that fails its check calls counts as a crash. */
async function startTarget(
  paths: Paths,
  target: LatencyTarget,
  socketDir: string,
  call: HookCall,
  onCrash: (crash: ServerCrash) => void,
): Promise<Running | null> {
  for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
    const socket = freshSocket(socketDir);
    const started = await startUntilLine(commandFor(paths, target.runtime, target.program, socket), '"serving"', { cwd: paths.repoRoot, timeoutMs: 30_000 });
    const running: Running = { target, socket, started, reused: new HookClient(socket), callsAnswered: 0 };
    try {
      // Checked once, outside the timing: both ways return the domain unchanged.
      for (const domain of [await onDefineDomainOnce(socket, call.params), await running.reused.onDefineDomain("v1alpha3", call.params)]) {
        if (!sameBytes(domain, call.params.domainXML)) throw new Error(`${target.runtime} ${target.program}: OnDefineDomain changed the domain`);
        running.callsAnswered++;
      }
      return running;
    } catch (error) {
      if ((error as { code?: unknown }).code === undefined) throw error; // not a gRPC status: a bench bug
      const exit = await stopTarget(running);
      onCrash({ ...target, phase: "latency check calls", callsAnswered: running.callsAnswered, exit, error: String(error), stderrTail: stderrTail(started) });
    }
  }
  return null;
}

async function stopTarget(running: Running): Promise<number | string | null> {
  running.reused.close();
  return stop(running.started.child);
}

/** One Bench over the given servers' tasks; returns completed rows and the errored tasks' servers. */
async function benchOnce(
  running: readonly Running[],
  call: HookCall,
  quick: boolean,
): Promise<{ rows: LatencyRound[]; failed: Map<Running, string> }> {
  const bench = new Bench(
    quick ? { time: 200, iterations: 20, warmupTime: 50, warmupIterations: 5 } : { time: 1500, iterations: 200, warmupTime: 200, warmupIterations: 20 },
  );
  const tasks: { running: Running; connection: Connection }[] = [];
  for (const server of running) {
    for (const connection of CONNECTIONS) {
      tasks.push({ running: server, connection });
      bench.add(
        `${server.target.runtime} ${server.target.program} ${connection}`,
        connection === "new connection"
          ? async () => {
              await onDefineDomainOnce(server.socket, call.params);
              server.callsAnswered++;
            }
          : async () => {
              await server.reused.onDefineDomain("v1alpha3", call.params);
              server.callsAnswered++;
            },
      );
    }
  }
  await bench.run();
  const rows: LatencyRound[] = [];
  const failed = new Map<Running, string>();
  for (const [i, task] of bench.tasks.entries()) {
    const { running: server, connection } = tasks[i];
    const result = task.result;
    if (result.state !== "completed") {
      if (!failed.has(server)) failed.set(server, `${result.state}${"error" in result ? `: ${String(result.error)}` : ""}`);
      continue;
    }
    rows.push({
      runtime: server.target.runtime,
      program: server.target.program,
      connection,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      meanMs: result.latency.mean,
      samples: result.latency.samplesCount,
    });
  }
  // A server with one completed and one errored task is measured again as a whole.
  return { rows: rows.filter((row) => ![...failed.keys()].some((s) => s.target.runtime === row.runtime && s.target.program === row.program)), failed };
}

export async function measureLatency(
  paths: Paths,
  targets: readonly LatencyTarget[],
  call: HookCall,
  options: { rounds: number; quick: boolean; scratch: string; log: (line: string) => void },
): Promise<{ rounds: LatencyRound[]; crashes: ServerCrash[] }> {
  const socketDir = path.join(options.scratch, "latency");
  mkdirSync(socketDir, { recursive: true });
  const rounds: LatencyRound[] = [];
  const crashes: ServerCrash[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const phase = `latency round ${round + 1}`;
    const onCrash = (crash: ServerCrash) => {
      crashes.push({ ...crash, phase: `${phase}, ${crash.phase}` });
      options.log(`  ${crash.runtime} ${crash.program}: failed after ${crash.callsAnswered} calls (exit ${crash.exit}): ${crash.error.split("\n")[0]}`);
    };
    let running: Running[] = [];
    try {
      for (const target of targets) {
        const server = await startTarget(paths, target, socketDir, call, onCrash);
        if (server) running.push(server);
      }
      let attempt = 0;
      let pending = running;
      while (pending.length > 0) {
        const { rows, failed } = await benchOnce(pending, call, options.quick);
        rounds.push(...rows);
        pending = [];
        for (const [server, error] of failed) {
          const exit = await stopTarget(server);
          onCrash({ ...server.target, phase: "timed calls", callsAnswered: server.callsAnswered, exit, error, stderrTail: stderrTail(server.started) });
          running = running.filter((r) => r !== server);
          if (attempt < MAX_RETRIES) {
            const restarted = await startTarget(paths, server.target, socketDir, call, onCrash);
            if (restarted) {
              running.push(restarted);
              pending.push(restarted);
            }
          }
        }
        attempt++;
      }
    } finally {
      for (const server of running) await stopTarget(server);
    }
    options.log(`latency: round ${round + 1}/${options.rounds}`);
  }
  return { rounds, crashes };
}
