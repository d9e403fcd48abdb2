// Child processes as bench/hooks.ts measures them: exec, the moment a line the process writes
// on stderr arrives (the server's "serving" log line, a probe's "probe-ready"), memory as the
// kernel accounts it (/proc/PID/status), and a clean stop. Ready time and memory are properties
// of a whole process, so they are measured from outside with process.hrtime, not with tinybench.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command, ProgramName, RuntimeName } from "./targets.ts";

export interface Started {
  child: ChildProcess;
  /** hrtime (ms) just before spawn: every time of this process is measured from here. */
  execAt: number;
  /** ms from exec until the awaited line arrived on stderr. */
  lineMs: number;
  /** The awaited line, parsed when it is JSON (the server's start line carries its own facts). */
  line: Record<string, unknown> | string;
  stderr: string[];
}

export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

let socketsHandedOut = 0;
/**
 * A socket path under `dir` that no earlier server of this process used: a server that crashed
 * leaves its socket file behind, and a server started on that path would take the stale-socket
 * branch (or fail to bind) instead of starting as measured.
 */
export function freshSocket(dir: string): string {
  return path.join(dir, `${socketsHandedOut++}.sock`);
}

/**
 * Starts `command` and resolves when a stderr line containing `marker` arrives. Rejects with
 * everything the process wrote when it exits first or the timeout passes.
 */
export function startUntilLine(command: Command, marker: string, options: { cwd: string; timeoutMs: number }): Promise<Started> {
  return new Promise((resolve, reject) => {
    const stderr: string[] = [];
    let pending = "";
    let settled = false;
    const execAt = nowMs();
    const child = spawn(command.file, command.args, { cwd: options.cwd, stdio: ["ignore", "ignore", "pipe"] });
    const fail = (reason: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${command.file} ${command.args.join(" ")}: ${reason}\n${stderr.join("\n")}${pending}`));
    };
    const timer = setTimeout(() => fail(`no "${marker}" line within ${options.timeoutMs} ms`), options.timeoutMs);
    child.on("error", (error) => fail(error.message));
    child.on("exit", (code, signal) => {
      if (!settled) fail(`exited (${code ?? signal}) before the "${marker}" line`);
    });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      const at = nowMs();
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const text = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        stderr.push(text);
        if (!settled && text.includes(marker)) {
          settled = true;
          clearTimeout(timer);
          let line: Record<string, unknown> | string = text;
          try {
            line = JSON.parse(text);
          } catch {
            // Not JSON: kept as written.
          }
          resolve({ child, execAt, lineMs: at - execAt, line, stderr });
        }
      }
    });
  });
}

/** A server that failed calls (died, or stopped answering) during a measurement. */
export interface ServerCrash {
  runtime: RuntimeName;
  program: ProgramName;
  phase: string;
  /** Calls the server had answered since it started. */
  callsAnswered: number;
  exit: number | string | null;
  error: string;
  stderrTail: string[];
}

/** What a failed server last wrote, less its per-call log lines. */
export function stderrTail(started: Started, lines = 5): string[] {
  return started.stderr.filter((line) => !line.includes('"call answered"')).slice(-lines);
}

/** Stops a child: SIGTERM (the server then removes its socket), SIGKILL after `graceMs`. */
export async function stop(child: ChildProcess, graceMs = 3000): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
    child.kill("SIGTERM");
  });
}

/** The memory lines of /proc/PID/status that matter for a pod (DESIGN.md), in kB. */
export interface MemoryStatus {
  /** Peak resident set (high-water mark). */
  VmHWM: number;
  VmRSS: number;
  /** Anonymous memory: the pod's own cost. */
  RssAnon: number;
  /** File-backed pages (runtime binary, bundle): page cache, shared between pods. */
  RssFile: number;
  RssShmem: number;
}

export function memoryOf(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: keyof MemoryStatus) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]);
  };
  return { VmHWM: kb("VmHWM"), VmRSS: kb("VmRSS"), RssAnon: kb("RssAnon"), RssFile: kb("RssFile"), RssShmem: kb("RssShmem") };
}

/** Median and p90 (nearest rank) of a list of samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export const median = (samples: readonly number[]): number => {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
