// `npm run bench:limits`: the sidecar under KubeVirt's limits for a sidecar of a VM with
// dedicated CPUs (200m CPU = cpu quota 20000 µs per 100000 µs, memory 64000000 bytes), each
// runtime in a fresh cgroup of its own (bench/limits/cgroup.ts; v1 or v2, detected), measured
// in one run side by side with KubeVirt's Go passt sidecar's figures (from the issue; no Go
// here). Writes bench/results/limits.{json,md} after a full run of the default targets.
// Run as root: it creates cgroups (and removes them on every way out).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describeMachine, type Machine } from "./machine.ts";
import { median, quantile } from "./hooks/processes.ts";
import { freshSocket } from "./hooks/processes.ts";
import { GO_PASST_FROM_ISSUE } from "./hooks/summary.ts";
import { CgroupError, detectCgroupVersion, guardCgroups, KUBEVIRT_SIDECAR_LIMITS, type CgroupLimits } from "./limits/cgroup.ts";
import { LIMITS_PLUGINS, limitsCalls, type LimitsPlugin } from "./limits/call.ts";
import { execFloorOnce, readyOnce, runUnderLimits, type SidecarRun } from "./limits/sidecar.ts";
import { customTarget, ensureArtifact, ensureNodeBundle, LIMITS_TARGETS, limitsTarget, type LimitsTarget, type LimitsTargetName } from "./limits/targets.ts";
import { limitsMarkdown, type LimitsReport, type ReadyFigure } from "./limits/report.ts";

// bench/limits.ts and its bundle build/bench-limits.mjs sit at the same depth.
const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const resultsDir = path.join(repoRoot, "bench", "results");
const COMMAND = "npm run bench:limits";
/** Sockets live in os.tmpdir()/domsplice-limits-<pid>-XXXXXX while it runs (test/limits.test.ts looks for it). */
const SCRATCH_PREFIX = "domsplice-limits-";

const HELP = `Usage: npm run bench:limits -- [options] [--sidecar 'NAME: COMMAND ... {socket} ...']...

Runs each sidecar inside a fresh cgroup with KubeVirt's hook sidecar limits (cpu quota 20000/100000
= 200m, memory 64000000 bytes; cgroup v1 or v2, detected) and measures: ready time (exec -> first
answered Info; also without limits), peak memory (cgroup peak usage, VmHWM, RssAnon), survival of
N OnDefineDomain calls with a 1 MB domain (new connection each, answers compared byte for byte),
OnDefineDomain p50/p99 with the 8 KB domain and a new connection per call (tinybench), OOM kills.
Needs root and a writable cgroup fs. Every cgroup it creates is removed on exit, error or signal.

Options:
  --targets=LIST      of ${LIMITS_TARGETS.join(", ")} (default all): dist/domsplice, Node (bin/domsplice),
                      Deno (deno run -A src/cli.ts); built first when missing or stale
  --plugin=NAME       ${LIMITS_PLUGINS.join(" or ")} (default passt): what every target serves with
  --sidecar 'NAME: COMMAND'  also run COMMAND (words split on spaces; {socket} = its socket path),
                      repeatable; e.g. --sidecar 'smol: dist/domsplice-smol serve --plugin passt --socket {socket}'
  --calls=N           1 MB calls per sidecar (default 30)
  --ready-rounds=N    starts per target for ready time, each limited and unlimited (default 10)
  --cpu=QUOTA/PERIOD  cpu limit in µs (default 20000/100000)
  --memory=BYTES      memory limit (default 64000000)
  --quick             fewer rounds and a short latency run; results files left as they are
  --markdown-only     only re-render limits.md from the last limits.json
  -h, --help          show this help

Results: bench/results/limits.json and limits.md (only after a full run of the default targets).`;

interface Options {
  targets: LimitsTarget[];
  plugin: LimitsPlugin;
  calls: number;
  readyRounds: number;
  limits: CgroupLimits;
  quick: boolean;
  /** Whether this run is the standard one that may write bench/results/. */
  standard: boolean;
}

/** A bad command line: one line on stderr, exit 2. */
class UsageError extends Error {}

function parseOptions(args: readonly string[]): Options | null {
  let targetNames: LimitsTargetName[] = [...LIMITS_TARGETS];
  let plugin: LimitsPlugin = "passt";
  let calls = 30;
  let readyRounds: number | undefined;
  let limits = { ...KUBEVIRT_SIDECAR_LIMITS };
  let quick = false;
  const custom: LimitsTarget[] = [];
  let standard = true;
  const positive = (name: string, text: string) => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value <= 0) throw new UsageError(`--${name} must be a positive integer (got '${text}')`);
    return value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [name, value] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    switch (name) {
      case "-h":
      case "--help":
        console.log(HELP);
        return null;
      case "--quick":
        quick = true;
        break;
      case "--targets":
        targetNames = (value ?? "").split(",").filter(Boolean) as LimitsTargetName[];
        for (const t of targetNames) if (!LIMITS_TARGETS.includes(t)) throw new UsageError(`--targets: unknown target '${t}' (one of ${LIMITS_TARGETS.join(", ")})`);
        standard &&= targetNames.length === LIMITS_TARGETS.length;
        break;
      case "--plugin":
        if (!LIMITS_PLUGINS.includes(value as LimitsPlugin)) throw new UsageError(`--plugin: '${value}' is not one of ${LIMITS_PLUGINS.join(", ")}`);
        plugin = value as LimitsPlugin;
        standard &&= plugin === "passt";
        break;
      case "--sidecar": {
        const spec = value ?? args[++i];
        const colon = spec?.indexOf(":") ?? -1;
        if (!spec || colon <= 0) throw new UsageError(`--sidecar needs 'NAME: COMMAND ... {socket} ...' (got '${spec ?? ""}')`);
        custom.push({ ...customTarget(spec.slice(colon + 1).trim().split(/\s+/)), name: spec.slice(0, colon).trim() });
        standard = false;
        break;
      }
      case "--calls":
        calls = positive("calls", value ?? "");
        standard &&= calls === 30;
        break;
      case "--ready-rounds":
        readyRounds = positive("ready-rounds", value ?? "");
        break;
      case "--cpu": {
        const match = /^(\d+)\/(\d+)$/.exec(value ?? "");
        if (!match) throw new UsageError(`--cpu must be QUOTA/PERIOD in µs, e.g. 20000/100000 (got '${value ?? ""}')`);
        limits = { ...limits, cpuQuotaUs: Number(match[1]), cpuPeriodUs: Number(match[2]) };
        standard = false;
        break;
      }
      case "--memory":
        limits = { ...limits, memoryBytes: positive("memory", value ?? "") };
        standard = false;
        break;
      default:
        throw new UsageError(`unknown argument '${arg}' (see --help)`);
    }
  }
  const targets = [...targetNames.map((name) => limitsTarget(repoRoot, name, plugin)), ...custom];
  if (targets.length === 0) throw new UsageError("no targets: give --targets or --sidecar");
  return { targets, plugin, calls, readyRounds: readyRounds ?? (quick ? 3 : 10), limits, quick, standard: standard && !quick };
}

function loadNote(): string {
  const [one, five, fifteen] = os.loadavg();
  return `load average ${one.toFixed(2)}, ${five.toFixed(2)}, ${fifteen.toFixed(2)} (1, 5, 15 min) on ${os.availableParallelism?.() ?? os.cpus().length} cores`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options === null) return;
  const started = performance.now();
  const log = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const version = detectCgroupVersion();
  guardCgroups(log);
  const names = options.targets.map((t) => t.name);
  if (names.includes("artifact")) ensureArtifact(repoRoot, log);
  if (names.includes("node")) ensureNodeBundle(repoRoot, log);
  const machine: Machine = describeMachine();
  const loadBefore = loadNote();
  log(`cgroup ${version}; limits cpu ${options.limits.cpuQuotaUs}/${options.limits.cpuPeriodUs} µs, memory ${options.limits.memoryBytes} bytes; ${loadBefore}`);
  const calls = await limitsCalls(repoRoot, options.plugin);
  const scratch = mkdtempSync(path.join(os.tmpdir(), `${SCRATCH_PREFIX}${process.pid}-`));
  // Signals and errors end the process through its exit hooks, not through the finally below.
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  process.on("exit", removeScratch);
  try {
    // Ready time: every target started with and without the limits, interleaved by round, so a
    // busy spell on the shared machine hits all of them alike; one warm-up round not recorded.
    const samples = new Map<string, { limited: number[]; unlimited: number[]; failures: string[] }>(names.map((n) => [n, { limited: [], unlimited: [], failures: [] }]));
    const floors = { limited: [] as number[], unlimited: [] as number[] };
    for (let round = 0; round <= options.readyRounds; round++) {
      const recording = round > 0;
      for (const limited of [false, true]) {
        const floor = await execFloorOnce({ repoRoot, limits: limited ? options.limits : null });
        if (recording) floors[limited ? "limited" : "unlimited"].push(floor);
      }
      for (const target of options.targets) {
        for (const limited of [false, true]) {
          const cell = samples.get(target.name)!;
          try {
            const ms = await readyOnce(target, { repoRoot, socket: freshSocket(scratch), limits: limited ? options.limits : null });
            if (recording) cell[limited ? "limited" : "unlimited"].push(ms);
          } catch (error) {
            cell.failures.push(`${limited ? "limited" : "unlimited"} start: ${(error as Error).message.split("\n")[0]}`);
          }
        }
      }
      log(`ready: round ${round}/${options.readyRounds}${recording ? "" : " (warm-up)"}`);
    }
    const ready: ReadyFigure[] = names.map((name) => {
      const cell = samples.get(name)!;
      return {
        target: name,
        unlimitedMedianMs: median(cell.unlimited),
        unlimitedP90Ms: quantile(cell.unlimited, 0.9),
        limitedMedianMs: median(cell.limited),
        limitedP90Ms: quantile(cell.limited, 0.9),
        samples: cell.limited.length,
        failures: cell.failures,
      };
    });
    for (const r of ready) {
      log(`  ${r.target.padEnd(10)} ready ${r.unlimitedMedianMs.toFixed(1)} ms unlimited (p90 ${r.unlimitedP90Ms.toFixed(1)}), ${r.limitedMedianMs.toFixed(1)} ms under the limits (p90 ${r.limitedP90Ms.toFixed(1)})${r.failures.length ? `; ${r.failures.length} failed starts` : ""}`);
    }

    // The limits run proper: one sidecar at a time, each in its own fresh cgroup.
    const latency = options.quick ? { time: 500, iterations: 20, warmupTime: 100, warmupIterations: 3 } : { time: 3000, iterations: 100, warmupTime: 300, warmupIterations: 10 };
    const runs: SidecarRun[] = [];
    for (const target of options.targets) {
      const run = await runUnderLimits(target, {
        repoRoot,
        socket: freshSocket(scratch),
        limits: options.limits,
        large: calls.large,
        largeCalls: options.calls,
        small: calls.small,
        latency,
      });
      runs.push(run);
      const mb = (kb: number | undefined) => (kb === undefined ? "-" : (kb / 1024).toFixed(1));
      log(
        `  ${target.name.padEnd(10)} ${run.largeCalls.answered}/${run.largeCalls.requested} 1 MB calls right` +
          ` (p50 ${run.largeCalls.p50Ms.toFixed(0)} ms, max ${run.largeCalls.maxMs.toFixed(0)} ms);` +
          ` 8 KB p50 ${run.latency?.p50Ms.toFixed(1) ?? "-"} ms p99 ${run.latency?.p99Ms.toFixed(1) ?? "-"} ms;` +
          ` VmHWM ${mb(run.memoryEnd?.VmHWM)} MB RssAnon ${mb(run.memoryEnd?.RssAnon)} MB; cgroup peak ${(run.cgroup.peakBytes / 2 ** 20).toFixed(1)} MiB,` +
          ` OOM kills ${run.cgroup.oomKills}, throttled ${run.cgroup.throttledMs.toFixed(0)} ms; exit ${run.exit}` +
          (run.failure ? `; FAILED in ${run.failure.phase}: ${run.failure.error} ${run.failure.stderrTail.at(-1) ?? ""}` : ""),
      );
    }
    const report: LimitsReport = {
      date: new Date().toISOString(),
      machine,
      load: { before: loadBefore, after: loadNote() },
      cgroupVersion: version,
      limits: options.limits,
      plugin: options.plugin,
      method: {
        command: COMMAND,
        ready: `hrtime from just before spawn to the first Info answered on a new grpc-js connection; ${options.readyRounds} starts per target each with and without the limits (a fresh cgroup per start), interleaved, after one warm-up round; median and p90 (nearest rank). Limited starts go through /bin/sh joining the cgroup before exec; the exec floor is /bin/sh writing one line the same way`,
        memory: "/proc/PID/status after Info (idle) and at the end; the cgroup's peak usage (v1 memory.max_usage_in_bytes, v2 memory.peak) counts anonymous memory, the page cache charged to it and kernel memory; file pages the binary shares with page cache loaded outside the cgroup are not charged to it",
        largeCalls: `${options.calls} OnDefineDomain (v1alpha3) calls with the 1 MB domain, a new connection each, answers compared byte for byte with what this process computes through the same call path`,
        latency: `tinybench (time ${latency.time} ms, at least ${latency.iterations} iterations) p50/p99 of OnDefineDomain with the 8 KB domain, a new @grpc/grpc-js connection (Node, in the benchmark process) per call, answer compared; after the 1 MB calls, in the same cgroup`,
        domainFile: path.relative(repoRoot, calls.domainFile),
        smallBytes: calls.small.params.domainXML.length,
        largeBytes: calls.large.params.domainXML.length,
      },
      execFloorMs: { unlimited: median(floors.unlimited), limited: median(floors.limited) },
      ready,
      runs,
      goFromIssue: { ...GO_PASST_FROM_ISSUE, readyUnderQuotaMs: 40 },
    };
    log(`exec floor: ${report.execFloorMs.unlimited.toFixed(1)} ms, through the cgroup wrapper ${report.execFloorMs.limited.toFixed(1)} ms; ${report.load.after}`);
    if (!options.standard) {
      console.log("(quick, filtered or custom run: bench/results/ left as it was)");
      console.log(limitsMarkdown(report, COMMAND));
      return;
    }
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, "limits.json"), JSON.stringify(report, null, 2) + "\n");
    writeFileSync(path.join(resultsDir, "limits.md"), limitsMarkdown(report, COMMAND));
    console.log(`wrote ${path.relative(process.cwd(), resultsDir)}/limits.json, limits.md`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv.includes("--markdown-only")) {
  // Re-renders limits.md from the last limits.json (after a change to the report's layout).
  const report = JSON.parse(readFileSync(path.join(resultsDir, "limits.json"), "utf8")) as LimitsReport;
  writeFileSync(path.join(resultsDir, "limits.md"), limitsMarkdown(report, COMMAND));
} else {
  try {
    await main();
  } catch (error) {
    // The exit hook of guardCgroups removes what was made; the message names what and where.
    if (error instanceof UsageError) {
      console.error(`bench:limits: ${error.message}`);
      process.exitCode = 2;
    } else {
      console.error(`bench:limits: ${error instanceof CgroupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exitCode = 1;
    }
  }
}
