// The image's executable under KubeVirt's hook sidecar limits, for real: dist/domsplice (rebuilt
// first when missing or older than src/) serves passt inside a fresh cgroup with cpu quota
// 20000/100000 µs and memory limit 64000000 bytes (v1 or v2, joined before exec), survives 30
// OnDefineDomain calls with a 1 MB domain (a new connection each), answers each byte for byte as
// the same call path computes it in this process, is never OOM-killed, and the cgroup is gone
// afterwards. Then bench:limits (bench/limits.ts) itself removes every cgroup it made on each
// way out: a normal end, a sidecar that crashes mid-run, SIGINT, SIGTERM and an exception (and
// its socket directory with them).
// Needs root and a writable cgroup fs: without them the tests fail saying so, unless
// DOMSPLICE_SKIP_CGROUP_TESTS=1 is set (then they are skipped with that reason).

import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cgroupPrefixOf, createCgroup, detectCgroupVersion, KUBEVIRT_SIDECAR_LIMITS } from "../bench/limits/cgroup.ts";
import { limitsCalls, type LimitsCalls } from "../bench/limits/call.ts";
import { runUnderLimits } from "../bench/limits/sidecar.ts";
import { limitsTarget } from "../bench/limits/targets.ts";
import { ensureArtifact } from "./hook-manager.ts";

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Why cgroup tests cannot run here, or null when they can (a cgroup made and removed). */
function cgroupsUnavailable(): string | null {
  try {
    createCgroup().remove();
    return null;
  } catch (error) {
    return `cannot create a cgroup with KubeVirt's sidecar limits (${(error as Error).message}); run as root with a writable /sys/fs/cgroup, or set DOMSPLICE_SKIP_CGROUP_TESTS=1 to skip`;
  }
}
const unavailable = cgroupsUnavailable();
const skip = unavailable !== null && process.env.DOMSPLICE_SKIP_CGROUP_TESTS === "1" ? `DOMSPLICE_SKIP_CGROUP_TESTS=1: ${unavailable}` : false;

/** Every directory named with `prefix` under the cgroup hierarchies this process is in. */
function cgroupsNamed(prefix: string): string[] {
  const own = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match) for (const controller of match[1].split(",")) own.set(controller, match[2]);
  }
  const parents =
    detectCgroupVersion() === "v1"
      ? [path.join("/sys/fs/cgroup/cpu", own.get("cpu") ?? "/"), path.join("/sys/fs/cgroup/memory", own.get("memory") ?? "/")]
      : [path.join("/sys/fs/cgroup", own.get("") ?? "/"), path.dirname(path.join("/sys/fs/cgroup", own.get("") ?? "/"))];
  return parents.flatMap((parent) => readdirSync(parent).filter((name) => name.startsWith(prefix)).map((name) => path.join(parent, name)));
}

function limitOf(pid: number): { memory: string; cpu: string } {
  const own = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n")) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match) for (const controller of match[1].split(",")) own.set(controller, match[2]);
  }
  if (detectCgroupVersion() === "v1") {
    const cpu = path.join("/sys/fs/cgroup/cpu", own.get("cpu")!);
    return {
      memory: readFileSync(path.join("/sys/fs/cgroup/memory", own.get("memory")!, "memory.limit_in_bytes"), "utf8").trim(),
      cpu: `${readFileSync(path.join(cpu, "cpu.cfs_quota_us"), "utf8").trim()} ${readFileSync(path.join(cpu, "cpu.cfs_period_us"), "utf8").trim()}`,
    };
  }
  const dir = path.join("/sys/fs/cgroup", own.get("")!);
  return { memory: readFileSync(path.join(dir, "memory.max"), "utf8").trim(), cpu: readFileSync(path.join(dir, "cpu.max"), "utf8").trim() };
}

describe("dist/domsplice under KubeVirt's sidecar limits (200m CPU, 64000000 bytes)", { skip }, () => {
  let calls: LimitsCalls;
  before(async () => {
    if (unavailable !== null) throw new Error(unavailable);
    ensureArtifact();
    calls = await limitsCalls(repoRoot, "passt");
  });

  test("survives 30 OnDefineDomain calls with a 1 MB domain, a new connection each, answers each right, no OOM kill, cgroup removed", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "domsplice-limits-test-"));
    let limits: { memory: string; cpu: string } | undefined;
    let pid = 0;
    try {
      const run = await runUnderLimits(limitsTarget(repoRoot, "artifact", "passt"), {
        repoRoot,
        socket: path.join(dir, "domsplice.sock"),
        limits: KUBEVIRT_SIDECAR_LIMITS,
        large: calls.large,
        largeCalls: 30,
        onServing: (servingPid) => {
          pid = servingPid;
          limits = limitOf(servingPid);
        },
      });
      // The sidecar itself ran limited (read from its own /proc/PID/cgroup while it served).
      assert.deepEqual(limits, { memory: "64000000", cpu: "20000 100000" });
      assert.equal(run.failure, null, `the sidecar failed: ${JSON.stringify(run.failure)}`);
      assert.equal(run.largeCalls.answered, 30);
      assert.equal(run.largeCalls.wrong, 0);
      assert.equal(run.cgroup.oomKills, 0, "OOM kills in the sidecar's cgroup");
      assert.ok(run.cgroup.peakBytes > 0 && run.cgroup.peakBytes <= KUBEVIRT_SIDECAR_LIMITS.memoryBytes, `cgroup peak ${run.cgroup.peakBytes} bytes`);
      assert.equal(run.exit, 0, "exit status after SIGTERM");
      assert.ok(!existsSync(`/proc/${pid}`) || !readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("domsplice"), "the sidecar is gone");
      assert.deepEqual(cgroupsNamed(cgroupPrefixOf()), [], "no cgroup left behind");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** bench/limits.ts as a child process (tsx), its output, and a way to act while it runs. */
function runLimitsScript(
  args: readonly string[],
  during?: (scriptPid: number, output: () => string) => Promise<void>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string; prefix: string; scratch: string[] }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "bench", "limits.ts"), ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const acting = during?.(child.pid!, () => output) ?? Promise.resolve();
  return Promise.all([exited, acting]).then(([exit]) => ({ ...exit, output, prefix: cgroupPrefixOf(child.pid!), scratch: scratchOf(child.pid!) }));
}

/** The script's socket directories (os.tmpdir()/domsplice-limits-<pid>-XXXXXX) still there. */
function scratchOf(scriptPid: number): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith(`domsplice-limits-${scriptPid}-`));
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A pid inside one of the script's cgroups (a sidecar it started, or its sh before exec). */
function pidInCgroups(scriptPid: number): number | undefined {
  for (const dir of cgroupsNamed(cgroupPrefixOf(scriptPid))) {
    try {
      const pid = readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").find((line) => line.trim() !== "");
      if (pid) return Number(pid);
    } catch {
      // Removed meanwhile.
    }
  }
  return undefined;
}

const QUICK = ["--targets=artifact", "--quick", "--ready-rounds=1", "--calls=2"];

describe("bench:limits removes every cgroup it made", { skip, concurrency: true }, () => {
  before(() => {
    if (unavailable !== null) throw new Error(unavailable);
    ensureArtifact();
  });

  test("after a normal end", async () => {
    const seen = new Set<string>();
    const result = await runLimitsScript(QUICK, async (scriptPid) => {
      // Watch the cgroups come and go while it runs, so "none left" is not "none made".
      const watching = setInterval(() => cgroupsNamed(cgroupPrefixOf(scriptPid)).forEach((dir) => seen.add(dir)), 5);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await until("the script to end", () => (existsSync(`/proc/${scriptPid}`) ? undefined : true), 60_000).finally(() => clearInterval(watching));
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /2\/2 1 MB calls right/);
    assert.ok(seen.size > 0, "the script made cgroups");
    assert.deepEqual(cgroupsNamed(result.prefix), []);
    assert.deepEqual(result.scratch, [], "its socket directory is removed too");
  });

  test("when the sidecar crashes mid-run (SIGKILL from outside)", async () => {
    const result = await runLimitsScript(QUICK, async (scriptPid, output) => {
      await until("the ready rounds to end", () => (/ready: round 1\/1/.test(output()) ? true : undefined), 60_000);
      const pid = await until("the limits run's sidecar", () => pidInCgroups(scriptPid));
      process.kill(pid, "SIGKILL");
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /FAILED in (start|ready|large calls|latency)/);
    // Killed before or after its "serving" line: either way the run records the signal.
    assert.match(result.output, /exit SIGKILL|exited \(SIGKILL\)/);
    assert.deepEqual(cgroupsNamed(result.prefix), []);
    assert.deepEqual(result.scratch, [], "its socket directory is removed too");
  });

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    test(`on ${signal} while a sidecar runs in one`, async () => {
      let sidecar = 0;
      const result = await runLimitsScript(QUICK, async (scriptPid) => {
        sidecar = await until("a sidecar in a cgroup", () => pidInCgroups(scriptPid));
        process.kill(scriptPid, signal);
      });
      assert.equal(result.code, code, result.output);
      assert.match(result.output, new RegExp(`${signal}: removing \\d+ cgroup`));
      assert.deepEqual(cgroupsNamed(result.prefix), []);
    assert.deepEqual(result.scratch, [], "its socket directory is removed too");
      assert.ok(!existsSync(`/proc/${sidecar}`) || readFileSync(`/proc/${sidecar}/stat`, "utf8").split(" ")[2] === "Z", "the sidecar was killed with its cgroup");
    });
  }

  test("on an exception (a cpu quota the kernel refuses)", async () => {
    const result = await runLimitsScript([...QUICK, "--cpu=10/100000"]);
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /cgroup .*cpu\.cfs_quota_us|cgroup .*cpu\.max/);
    assert.deepEqual(cgroupsNamed(result.prefix), []);
    assert.deepEqual(result.scratch, [], "its socket directory is removed too");
  });
});
