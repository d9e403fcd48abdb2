// A fresh cgroup with KubeVirt's sidecar limits (cpu quota and memory limit) for one child
// process, on cgroup v1 (a cpu and a memory hierarchy) or v2 (one unified hierarchy), detected
// from /sys/fs/cgroup. Each cgroup is created as a child of the cgroup this process itself
// runs in, so a limit set above (a container's, a CI job's) still applies. The child joins it
// BEFORE exec: /bin/sh writes its own pid into cgroup.procs and then execs the sidecar, so the
// runtime's start-up memory is charged too. Every cgroup made here is registered until it is
// removed; removeAllCgroups() kills what still runs in them and removes them, and the
// process-wide guard (guardCgroups) calls it on normal exit, on an uncaught exception and on
// SIGINT/SIGTERM/SIGHUP.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "../hooks/targets.ts";

export interface CgroupLimits {
  /** CPU time allowed per period, µs (KubeVirt's 200m = 20000 per 100000). */
  cpuQuotaUs: number;
  cpuPeriodUs: number;
  /** Hard memory limit, bytes (KubeVirt's 64M = 64000000). */
  memoryBytes: number;
}

export const KUBEVIRT_SIDECAR_LIMITS: CgroupLimits = { cpuQuotaUs: 20_000, cpuPeriodUs: 100_000, memoryBytes: 64_000_000 };

export type CgroupVersion = "v1" | "v2";

/** What the kernel accounted for the cgroup, read before it is removed. */
export interface CgroupUsage {
  version: CgroupVersion;
  /** Peak charged memory, bytes (v1 memory.max_usage_in_bytes, v2 memory.peak): anon + page cache + kernel. */
  peakBytes: number;
  /** Anonymous and file-backed (page cache) memory charged at the time of reading, bytes. */
  anonBytes: number;
  fileBytes: number;
  /** Times the limit was hit (v1 memory.failcnt, v2 memory.events max). */
  limitHits: number;
  /** Processes the kernel's OOM killer killed in this cgroup (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). */
  oomKills: number;
  /** Periods in which the cpu quota throttled the cgroup, and for how long in all (ms). */
  throttledPeriods: number;
  throttledMs: number;
}

export class CgroupError extends Error {
  constructor(
    readonly where: string,
    reason: string,
  ) {
    super(`cgroup ${where}: ${reason}`);
    this.name = "CgroupError";
  }
}

const ROOT = "/sys/fs/cgroup";
const PREFIX = "domsplice-limits";

/** Name prefix of every cgroup made by process `pid` (what a test looks for after it ended). */
export function cgroupPrefixOf(pid = process.pid): string {
  return `${PREFIX}-${pid}-`;
}

/** v2 when /sys/fs/cgroup is the unified hierarchy with cpu and memory; v1 when both v1 hierarchies exist. */
export function detectCgroupVersion(): CgroupVersion {
  const controllers = path.join(ROOT, "cgroup.controllers");
  if (existsSync(controllers)) {
    const list = readFileSync(controllers, "utf8").split(/\s+/);
    if (list.includes("cpu") && list.includes("memory")) return "v2";
    throw new CgroupError(ROOT, `the unified hierarchy offers no cpu and memory controllers (cgroup.controllers: ${list.join(" ").trim()})`);
  }
  if (existsSync(path.join(ROOT, "cpu", "cpu.cfs_quota_us")) && existsSync(path.join(ROOT, "memory", "memory.limit_in_bytes"))) return "v1";
  throw new CgroupError(ROOT, "neither cgroup v2 (cgroup.controllers) nor the v1 cpu and memory hierarchies are mounted");
}

/** The cgroup this process is in, per hierarchy: "memory" -> "/a/b"; "" for v2's unified one. */
function ownCgroups(): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    for (const controller of match[1].split(",")) own.set(controller, match[2]);
  }
  return own;
}

export class Cgroup {
  /** Directories of this cgroup, one per hierarchy (v1: cpu and memory; v2: one). */
  readonly dirs: readonly string[];
  private removed = false;

  constructor(
    readonly version: CgroupVersion,
    readonly name: string,
    private readonly cpuDir: string,
    private readonly memoryDir: string,
  ) {
    this.dirs = cpuDir === memoryDir ? [cpuDir] : [cpuDir, memoryDir];
  }

  /** `command` started by /bin/sh after sh has moved itself into this cgroup (same pid, then exec). */
  wrap(command: Command): Command {
    const procs = this.dirs.map((dir) => path.join(dir, "cgroup.procs"));
    // $1 = how many cgroup.procs files follow; sh exits 125 when it cannot join one.
    const script = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';
    return { file: "/bin/sh", args: ["-c", script, "sh", String(procs.length), ...procs, command.file, ...command.args] };
  }

  /** Pids in the cgroup now. */
  pids(): number[] {
    const pids = new Set<number>();
    for (const dir of this.dirs) {
      try {
        for (const line of readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n")) if (line.trim()) pids.add(Number(line));
      } catch {
        // Removed already.
      }
    }
    return [...pids];
  }

  usage(): CgroupUsage {
    const read = (dir: string, file: string) => readFileSync(path.join(dir, file), "utf8");
    const keyed = (text: string) => new Map(text.split("\n").map((line) => line.trim().split(/\s+/)).filter((p) => p.length === 2).map(([k, v]) => [k, Number(v)] as const));
    const cpuStat = keyed(read(this.cpuDir, "cpu.stat"));
    const memoryStat = keyed(read(this.memoryDir, "memory.stat"));
    if (this.version === "v1") {
      const oom = keyed(read(this.memoryDir, "memory.oom_control"));
      return {
        version: "v1",
        peakBytes: Number(read(this.memoryDir, "memory.max_usage_in_bytes")),
        anonBytes: memoryStat.get("total_rss") ?? memoryStat.get("rss") ?? NaN,
        fileBytes: memoryStat.get("total_cache") ?? memoryStat.get("cache") ?? NaN,
        limitHits: Number(read(this.memoryDir, "memory.failcnt")),
        // oom_kill is there since Linux 4.13; older kernels only say under_oom.
        oomKills: oom.get("oom_kill") ?? NaN,
        throttledPeriods: cpuStat.get("nr_throttled") ?? NaN,
        throttledMs: (cpuStat.get("throttled_time") ?? NaN) / 1e6,
      };
    }
    const events = keyed(read(this.memoryDir, "memory.events"));
    return {
      version: "v2",
      peakBytes: existsSync(path.join(this.memoryDir, "memory.peak")) ? Number(read(this.memoryDir, "memory.peak")) : NaN,
      anonBytes: memoryStat.get("anon") ?? NaN,
      fileBytes: memoryStat.get("file") ?? NaN,
      limitHits: events.get("max") ?? NaN,
      oomKills: events.get("oom_kill") ?? NaN,
      throttledPeriods: cpuStat.get("nr_throttled") ?? NaN,
      throttledMs: (cpuStat.get("throttled_usec") ?? NaN) / 1e3,
    };
  }

  /**
   * Kills whatever still runs in the cgroup (SIGKILL) and removes its directories, retrying
   * while the kernel still counts exiting tasks (up to `waitMs`). Synchronous, so an exit hook
   * can call it. Idempotent.
   */
  remove(waitMs = 3000): void {
    if (this.removed) return;
    const deadline = Date.now() + waitMs;
    for (;;) {
      for (const pid of this.pids()) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Gone already.
        }
      }
      let busy: unknown;
      for (const dir of [...this.dirs].reverse()) {
        try {
          rmdirSync(dir);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") busy = error;
        }
      }
      if (busy === undefined) break;
      if (Date.now() > deadline) throw new CgroupError(this.dirs.join(", "), `cannot remove: ${(busy as Error).message}`);
      sleepSync(10);
    }
    this.removed = true;
    live.delete(this);
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Cgroups made and not removed yet. */
const live = new Set<Cgroup>();
let made = 0;

/** A new cgroup under this process's own, with `limits`; registered for removal. */
export function createCgroup(limits: CgroupLimits = KUBEVIRT_SIDECAR_LIMITS): Cgroup {
  const version = detectCgroupVersion();
  const own = ownCgroups();
  const name = `${cgroupPrefixOf()}${made++}`;
  const write = (dir: string, file: string, value: string) => {
    try {
      writeFileSync(path.join(dir, file), value);
    } catch (error) {
      throw new CgroupError(path.join(dir, file), `cannot write ${JSON.stringify(value)}: ${(error as Error).message}`);
    }
  };
  const make = (dir: string) => {
    try {
      mkdirSync(dir);
    } catch (error) {
      throw new CgroupError(dir, `cannot create (root and a writable cgroup fs are needed): ${(error as Error).message}`);
    }
  };
  let cgroup: Cgroup;
  if (version === "v1") {
    const cpuDir = path.join(ROOT, "cpu", own.get("cpu") ?? "/", name);
    const memoryDir = path.join(ROOT, "memory", own.get("memory") ?? "/", name);
    make(cpuDir);
    cgroup = new Cgroup(version, name, cpuDir, memoryDir);
    live.add(cgroup);
    make(memoryDir);
  } else {
    // v2: a parent may only pass controllers down from a cgroup with no processes of its own;
    // when ours has some (we run in it), the sidecar's cgroup goes beside ours instead.
    const ownDir = path.join(ROOT, own.get("") ?? "/");
    const subtree = (dir: string) => readFileSync(path.join(dir, "cgroup.subtree_control"), "utf8").split(/\s+/);
    let parent = ownDir;
    if (!(subtree(parent).includes("cpu") && subtree(parent).includes("memory"))) {
      try {
        writeFileSync(path.join(parent, "cgroup.subtree_control"), "+cpu +memory");
      } catch {
        parent = path.dirname(ownDir);
        if (!(subtree(parent).includes("cpu") && subtree(parent).includes("memory"))) write(parent, "cgroup.subtree_control", "+cpu +memory");
      }
    }
    const dir = path.join(parent, name);
    make(dir);
    cgroup = new Cgroup(version, name, dir, dir);
    live.add(cgroup);
  }
  try {
    if (version === "v1") {
      const [cpuDir, memoryDir] = cgroup.dirs;
      write(cpuDir, "cpu.cfs_period_us", String(limits.cpuPeriodUs));
      write(cpuDir, "cpu.cfs_quota_us", String(limits.cpuQuotaUs));
      write(memoryDir, "memory.limit_in_bytes", String(limits.memoryBytes));
      // Swap would let the sidecar exceed the limit unnoticed; memsw exists only with swap accounting.
      if (existsSync(path.join(memoryDir, "memory.memsw.limit_in_bytes"))) write(memoryDir, "memory.memsw.limit_in_bytes", String(limits.memoryBytes));
    } else {
      const [dir] = cgroup.dirs;
      write(dir, "cpu.max", `${limits.cpuQuotaUs} ${limits.cpuPeriodUs}`);
      write(dir, "memory.max", String(limits.memoryBytes));
      if (existsSync(path.join(dir, "memory.swap.max"))) write(dir, "memory.swap.max", "0");
    }
  } catch (error) {
    cgroup.remove();
    throw error;
  }
  return cgroup;
}

/** Removes every cgroup still registered; returns the errors (an exit path cannot throw). */
export function removeAllCgroups(): Error[] {
  const errors: Error[] = [];
  for (const cgroup of [...live]) {
    try {
      cgroup.remove();
    } catch (error) {
      errors.push(error as Error);
    }
  }
  return errors;
}

let guarded = false;
/**
 * Removes the registered cgroups on every way out of this process: normal exit, an uncaught
 * exception or rejection (then exit 1), and SIGINT/SIGTERM/SIGHUP (then exit 128 + signal).
 * For a command-line program; a test removes its cgroups itself.
 */
export function guardCgroups(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): void {
  if (guarded) return;
  guarded = true;
  const cleanUp = () => {
    for (const error of removeAllCgroups()) log(`cleanup: ${error.message}`);
  };
  process.on("exit", cleanUp);
  const fatal = (error: unknown) => {
    log(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    cleanUp();
    process.exit(1);
  };
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  for (const [signal, number] of [
    ["SIGINT", 2],
    ["SIGTERM", 15],
    ["SIGHUP", 1],
  ] as const) {
    process.on(signal, () => {
      log(`${signal}: removing ${live.size} cgroup(s) and stopping`);
      cleanUp();
      process.exit(128 + number);
    });
  }
}
