// One sidecar under KubeVirt's limits, measured from outside: it is exec'd inside a fresh cgroup
// (cgroup.ts), and the run records
//   ready      exec -> "serving" line, and exec -> first Info answered on a new connection
//   large      N OnDefineDomain calls with the 1 MB domain, a new connection each, every answer
//              compared byte for byte with the expected one; per-call time
//   latency    OnDefineDomain p50/p99 with the 8 KB domain, a new connection per call (tinybench)
//   memory     /proc/PID/status (VmHWM, RssAnon, RssFile) idle, after the 1 MB calls (at once
//              and SETTLE_MS later, after the sidecar's idle collection), at the end of the
//              latency run and SETTLE_MS later, and the cgroup's
//              own accounting (peak usage, anon/file, limit hits, OOM kills, cpu throttling)
// A sidecar that dies or stops answering is recorded with its exit status and last stderr
// lines, not retried: under the limits that is the finding. The cgroup is removed before
// the function returns or throws.

import { Bench } from "tinybench";
import { onDefineDomainOnce, sameBytes } from "../hooks/client.ts";
import { memoryOf, nowMs, startUntilLine, stderrTail, stop, median, type MemoryStatus, type Started } from "../hooks/processes.ts";
import { firstInfo } from "../hooks/ready.ts";
import { createCgroup, type CgroupLimits, type CgroupUsage } from "./cgroup.ts";
import type { LimitsCall } from "./call.ts";
import type { LimitsTarget } from "./targets.ts";

export interface SidecarRunOptions {
  repoRoot: string;
  socket: string;
  limits: CgroupLimits;
  /** The 1 MB call and how often to make it. */
  large: LimitsCall;
  largeCalls: number;
  /** The 8 KB call timed by tinybench; no latency run when absent. */
  small?: LimitsCall;
  latency?: { time: number; iterations: number; warmupTime: number; warmupIterations: number };
  /** Deadline of each call; generous, since the cpu quota slows every step. */
  callDeadlineMs?: number;
  /** Called with the sidecar's pid once it is serving (a test uses it to kill the sidecar mid-run). */
  onServing?: (pid: number) => void;
}

export interface SidecarFailure {
  phase: "start" | "ready" | "large calls" | "latency";
  /** 1 MB calls answered correctly before the failure. */
  largeCallsAnswered: number;
  error: string;
  exit: number | string | null;
  stderrTail: string[];
}

export interface SidecarRun {
  target: string;
  /** exec -> "serving" line, exec -> first Info answered (ms); null when it never got there. */
  servingMs: number | null;
  readyMs: number | null;
  /** maxRssAnonKb: the largest RssAnon read right after each call. */
  largeCalls: { requested: number; answered: number; wrong: number; p50Ms: number; maxMs: number; maxRssAnonKb: number };
  latency: { p50Ms: number; p99Ms: number; meanMs: number; samples: number } | null;
  memoryIdle: MemoryStatus | null;
  /** Right after the 1 MB calls (before the latency run). */
  memoryAfterLarge: MemoryStatus | null;
  /** SETTLE_MS after the last 1 MB call, before the latency run: what the 1 MB calls leave once the sidecar has collected. */
  memoryAfterLargeSettled: MemoryStatus | null;
  /** At the end, after the latency run too. */
  memoryEnd: MemoryStatus | null;
  /** SETTLE_MS after the last call. */
  memorySettled: MemoryStatus | null;
  cgroup: CgroupUsage;
  /** How the sidecar ended: its exit code or signal after our SIGTERM, or what killed it. */
  exit: number | string | null;
  failure: SidecarFailure | null;
}

const DEADLINE_MS = 60_000;
/** Idle time before the last memory reading. */
export const SETTLE_MS = 2000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `target` in a fresh cgroup with `limits`, measures it, stops it, removes the cgroup. */
export async function runUnderLimits(target: LimitsTarget, options: SidecarRunOptions): Promise<SidecarRun> {
  const cgroup = createCgroup(options.limits);
  let started: Started | undefined;
  const run: SidecarRun = {
    target: target.name,
    servingMs: null,
    readyMs: null,
    largeCalls: { requested: options.largeCalls, answered: 0, wrong: 0, p50Ms: NaN, maxMs: NaN, maxRssAnonKb: 0 },
    latency: null,
    memoryIdle: null,
    memoryAfterLarge: null,
    memoryAfterLargeSettled: null,
    memoryEnd: null,
    memorySettled: null,
    cgroup: undefined as unknown as CgroupUsage,
    exit: null,
    failure: null,
  };
  let phase: SidecarFailure["phase"] = "start";
  const largeTimes: number[] = [];
  const alive = () => started !== undefined && started.child.exitCode === null && started.child.signalCode === null;
  try {
    try {
      started = await startUntilLine(cgroup.wrap(target.command(options.socket)), '"serving"', { cwd: options.repoRoot, timeoutMs: DEADLINE_MS });
      run.servingMs = started.lineMs;
      phase = "ready";
      await firstInfo(options.socket);
      run.readyMs = nowMs() - started.execAt;
      const pid = started.child.pid!;
      run.memoryIdle = memoryOf(pid);
      options.onServing?.(pid);

      phase = "large calls";
      for (let i = 0; i < options.largeCalls; i++) {
        const at = nowMs();
        const answer = await onDefineDomainWithin(options.socket, options.large, options.callDeadlineMs ?? DEADLINE_MS);
        largeTimes.push(nowMs() - at);
        if (sameBytes(answer, options.large.expected)) run.largeCalls.answered++;
        else run.largeCalls.wrong++;
        run.largeCalls.maxRssAnonKb = Math.max(run.largeCalls.maxRssAnonKb, memoryOf(pid).RssAnon);
      }
      run.memoryAfterLarge = memoryOf(pid);
      await sleep(SETTLE_MS);
      run.memoryAfterLargeSettled = memoryOf(pid);

      if (options.small && options.latency) {
        phase = "latency";
        const small = options.small;
        const bench = new Bench(options.latency);
        bench.add(`${target.name} OnDefineDomain ${small.label} new connection`, async () => {
          const answer = await onDefineDomainWithin(options.socket, small, options.callDeadlineMs ?? DEADLINE_MS);
          if (!sameBytes(answer, small.expected)) throw new Error(`${target.name}: wrong answer to the ${small.label} call`);
        });
        await bench.run();
        const result = bench.tasks[0].result;
        if (result.state !== "completed") throw new Error(`latency task ${result.state}${"error" in result ? `: ${String(result.error)}` : ""}`);
        run.latency = { p50Ms: result.latency.p50, p99Ms: result.latency.p99, meanMs: result.latency.mean, samples: result.latency.samplesCount };
      }
      run.memoryEnd = memoryOf(pid);
      // What the sidecar keeps while it waits for the next VM event: most of its life.
      await sleep(SETTLE_MS);
      run.memorySettled = memoryOf(pid);
    } catch (error) {
      run.failure = {
        phase,
        largeCallsAnswered: run.largeCalls.answered,
        error: error instanceof Error ? error.message.split("\n")[0] : String(error),
        exit: null,
        stderrTail: started ? stderrTail(started) : [],
      };
      // A server still alive after a failed call: its memory as it stands.
      if (started && alive()) {
        try {
          run.memoryEnd = memoryOf(started.child.pid!);
        } catch {
          // It died meanwhile.
        }
      }
    }
    if (largeTimes.length > 0) {
      run.largeCalls.p50Ms = median(largeTimes);
      run.largeCalls.maxMs = Math.max(...largeTimes);
    }
    // Read while the sidecar still runs: its charged anon/file memory goes when it exits.
    run.cgroup = cgroup.usage();
    if (started) run.exit = await stop(started.child);
    if (run.failure) run.failure.exit = run.exit;
    if (run.largeCalls.wrong > 0 && !run.failure) {
      run.failure = { phase: "large calls", largeCallsAnswered: run.largeCalls.answered, error: `${run.largeCalls.wrong} wrong answers`, exit: run.exit, stderrTail: [] };
    }
    return run;
  } finally {
    cgroup.remove();
  }
}

/** One call on its own connection; a deadline ends a call a throttled or dying server never answers. */
function onDefineDomainWithin(socket: string, call: LimitsCall, deadlineMs: number): Promise<Uint8Array> {
  return onDefineDomainOnce(socket, call.params, deadlineMs);
}

/** Ready time alone: start in a fresh cgroup (or none), first Info, stop. */
export async function readyOnce(target: LimitsTarget, options: { repoRoot: string; socket: string; limits: CgroupLimits | null }): Promise<number> {
  const cgroup = options.limits ? createCgroup(options.limits) : null;
  try {
    const command = target.command(options.socket);
    const started = await startUntilLine(cgroup ? cgroup.wrap(command) : command, '"serving"', { cwd: options.repoRoot, timeoutMs: DEADLINE_MS });
    try {
      await firstInfo(options.socket);
      return nowMs() - started.execAt;
    } finally {
      await stop(started.child);
    }
  } finally {
    cgroup?.remove();
  }
}

/** The harness's own exec cost: /bin/sh writing a line, through the same cgroup wrapper when limited. */
export async function execFloorOnce(options: { repoRoot: string; limits: CgroupLimits | null }): Promise<number> {
  const cgroup = options.limits ? createCgroup(options.limits) : null;
  try {
    const command = { file: "/bin/sh", args: ["-c", "echo probe-ready >&2"] };
    const started = await startUntilLine(cgroup ? cgroup.wrap(command) : command, "probe-ready", { cwd: options.repoRoot, timeoutMs: DEADLINE_MS });
    await stop(started.child);
    return started.lineMs;
  } finally {
    cgroup?.remove();
  }
}
