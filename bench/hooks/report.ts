// bench/results/hooks.md: the hook server's figures as the README quotes them, with the machine,
// versions and method beside them, and the start-up breakdown laid out so the biggest step
// (the next thing to cut) stands out.

import { GO_PASST_FROM_ISSUE, type Breakdown, type Goal, type LatencyFigure, type MemoryFigure, type ReadyFigure } from "./summary.ts";
import { IMAGE_ARTIFACT_BUN_FLAGS, LAZY_BUILTINS } from "../../scripts/build-image-artifact.mjs";
import { RUNTIME_LABELS, type ProgramName, type RuntimeName } from "./targets.ts";
import type { CompiledBinary } from "./targets.ts";
import type { ServerCrash } from "./processes.ts";

export interface HooksReport {
  date: string;
  machine: {
    cpu: string;
    cores: number;
    memoryGiB: number;
    os: string;
    runtimes: { node: string; bun: string | null; deno: string | null };
    libraries: Record<string, string>;
  };
  method: Record<string, unknown>;
  compiled: CompiledBinary[];
  /** Median ms from exec to /bin/sh's line: what spawning costs the harness itself. */
  execFloorMs: number;
  ready: ReadyFigure[];
  breakdown: Breakdown[];
  memory: MemoryFigure[];
  latency: LatencyFigure[];
  /** Servers that failed calls during the memory and latency runs (each was restarted). */
  crashes: ServerCrash[];
  goals: Goal[];
  goFromIssue: typeof GO_PASST_FROM_ISSUE;
}

const ms = (value: number | null | undefined): string => (value == null || Number.isNaN(value) ? "n/a" : value >= 100 ? value.toFixed(0) : value.toFixed(1));
const mb = (kb: number): string => (Number.isNaN(kb) ? "n/a" : (kb / 1024).toFixed(1));

const PROGRAM_LABELS: Record<ProgramName, string> = {
  idle: "runtime alone, idle (no calls)",
  start: "empty script",
  "load-cli": "CLI imported, not serving",
  "grpc-import": "@grpc/grpc-js imported alone",
  "grpc-floor": "floor: bare grpc-js server",
  "http2-floor": "floor: bare node:http2 server, no grpc-js",
  "bun-h2-floor": "floor: Bun.listen + hand-written HTTP/2 (Bun only)",
  server: "**domsplice serve --plugin identity**",
  "server-gc": "experiment: the server with a full GC every 100 ms (Bun only)",
};

function runtimeHeader(runtimes: readonly RuntimeName[]): string[] {
  return [`| | ${runtimes.map((r) => RUNTIME_LABELS[r]).join(" | ")} |`, `|---|${runtimes.map(() => "---:").join("|")}|`];
}

/**
 * "Where the cost sits" for compiled Bun (the shipped sidecar): each layer's share of ready
 * time and of anonymous memory, as differences between the floors measured in this run.
 */
function layersOf(report: HooksReport): string[] {
  const runtime: RuntimeName = "bun-compiled";
  const ready = (program: ProgramName) => report.ready.find((r) => r.runtime === runtime && r.program === program)?.readyMedianMs ?? null;
  const anon = (program: ProgramName) => report.memory.find((m) => m.runtime === runtime && m.program === program)?.afterCalls.RssAnon ?? null;
  const anonIdle = (program: ProgramName) => report.memory.find((m) => m.runtime === runtime && m.program === program)?.afterIdle?.RssAnon ?? null;
  const file = (program: ProgramName) => report.memory.find((m) => m.runtime === runtime && m.program === program)?.afterCalls.RssFile ?? null;
  const diff = (a: number | null, b: number | null) => (a == null || b == null ? null : a - b);
  const start = report.ready.find((r) => r.runtime === runtime && r.program === "start")?.lineMedianMs ?? null;
  const rows: [string, number | null, number | null, number | null][] = [
    ["runtime (start of an empty script; memory of the runtime alone)", start, anon("idle"), anonIdle("idle")],
    ["a hand-written HTTP/2 loop on Bun.listen (bun-h2-floor over the runtime)", diff(ready("bun-h2-floor"), start), diff(anon("bun-h2-floor"), anon("idle")), diff(anonIdle("bun-h2-floor"), anonIdle("idle"))],
    ["node:http2 instead of that (http2-floor − bun-h2-floor)", diff(ready("http2-floor"), ready("bun-h2-floor")), diff(anon("http2-floor"), anon("bun-h2-floor")), diff(anonIdle("http2-floor"), anonIdle("bun-h2-floor"))],
    ["@grpc/grpc-js on top (grpc-floor − http2-floor)", diff(ready("grpc-floor"), ready("http2-floor")), diff(anon("grpc-floor"), anon("http2-floor")), diff(anonIdle("grpc-floor"), anonIdle("http2-floor"))],
    ["domsplice's own code: CLI, codec, calls, engine check, plugin, logs (server − grpc-floor)", diff(ready("server"), ready("grpc-floor")), diff(anon("server"), anon("grpc-floor")), diff(anonIdle("server"), anonIdle("grpc-floor"))],
    ["= the server", ready("server"), anon("server"), anonIdle("server")],
    ["of which collectable garbage (server − server with forced GC)", null, diff(anon("server"), anon("server-gc")), diff(anonIdle("server"), anonIdle("server-gc"))],
  ];
  if (rows.every(([, a, b, c]) => a == null && b == null && c == null)) return [];
  const lines = [
    "## Where the cost sits (Bun compiled)",
    "",
    "Each layer's share as the difference between two floors of this run (medians; approximate). Ready = exec -> Info answered; memory = RssAnon 200 ms and 2 s after the last of the 100 calls (the floors have no idle-time collection of their own; the server collects 100 ms after the last call and, on Bun, shrinks after 1 s: src/hooks/memory.ts).",
    "",
    "| layer | ready time, ms | RssAnon 200 ms after, MB | RssAnon 2 s after, MB |",
    "|---|---:|---:|---:|",
  ];
  for (const [label, ms_, kb, kbIdle] of rows) lines.push(`| ${label} | ${ms(ms_)} | ${kb == null ? "n/a" : mb(kb)} | ${kbIdle == null ? "n/a" : mb(kbIdle)} |`);
  const serverFile = file("server");
  if (serverFile != null) {
    lines.push(
      "",
      `Peak RSS counts file-backed pages too: the server's RssFile alone is ${mb(serverFile)} MB (the runtime alone: ${mb(file("idle") ?? NaN)} MB; the Bun.listen floor: ${mb(file("bun-h2-floor") ?? NaN)} MB), ` +
        "pages of the Bun binary and the embedded code that every pod on a node shares from the page cache.",
    );
  }
  return lines;
}

export function markdownOf(report: HooksReport, command: string): string {
  const runtimes = [...new Set(report.ready.map((r) => r.runtime))];
  const { machine } = report;
  const lines: string[] = [];
  lines.push("# Hook server benchmark results", "");
  lines.push(
    `Generated by \`${command}\` on ${report.date}: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}. ` +
      `Runtimes: Node ${machine.runtimes.node}, Bun ${machine.runtimes.bun ?? "n/a"}, Deno ${machine.runtimes.deno ?? "n/a"}. ` +
      `Libraries: ${Object.entries(machine.libraries).map(([n, v]) => `${n} ${v}`).join(", ")}.`,
    "",
    "The machine is shared (2 cores, other work running): the figures are noisy. Every runtime is measured in the same run, interleaved, " +
      "and medians are reported; compare rows of one run rather than figures of different runs.",
    "",
  );

  lines.push("## Ready time: exec -> first answered Info call", "");
  lines.push(
    `Median (p90), ms, from just before exec (hrtime in the harness): per run the median and p90 over ${report.method.readyRoundsPerRun} starts per cell, interleaved; reported, the median over ${report.method.runs} runs (${report.ready[0]?.samples ?? 0} starts per cell in all). ` +
      "For the servers, the first figure is exec -> the \"serving\" line on stderr, the second exec -> Info answered on a new grpc-js connection opened when that line arrived. " +
      "The probes (bench/probes/) take the start-up apart from the outside: each prints one line once it has done its step. " +
      `Every figure includes the harness's own exec cost: /bin/sh writing the same line takes ${ms(report.execFloorMs)} ms.`,
    "",
  );
  lines.push(...runtimeHeader(runtimes));
  for (const program of [...new Set(report.ready.map((r) => r.program))]) {
    const cells = runtimes.map((runtime) => {
      const f = report.ready.find((r) => r.runtime === runtime && r.program === program);
      if (!f) return "n/a";
      const line = `${ms(f.lineMedianMs)} (${ms(f.lineP90Ms)})`;
      return f.readyMedianMs == null ? line : `serving ${line}; Info ${ms(f.readyMedianMs)} (${ms(f.readyP90Ms)})`;
    });
    lines.push(`| ${PROGRAM_LABELS[program]} | ${cells.join(" | ")} |`);
  }
  lines.push("", "Breakdown of the server's ready time (medians, ms; each step is the difference of two probe medians, so steps are approximate and can be slightly negative in noise; the CLI imports serve's modules and grpc-js with import() only for serve, so they are not in \"CLI module load\"):", "");
  lines.push(...runtimeHeader(report.breakdown.map((b) => b.runtime)));
  const row = (label: string, pick: (b: Breakdown) => number | null) => lines.push(`| ${label} | ${report.breakdown.map((b) => ms(pick(b))).join(" | ")} |`);
  row("runtime start (empty script)", (b) => b.runtimeStartMs);
  row("+ CLI module load (import, not serving)", (b) => b.cliLoadMs);
  row("+ @grpc/grpc-js import alone", (b) => b.grpcImportMs);
  row("+ bind + listen (bare grpc-js server, after its import)", (b) => b.grpcBindMs);
  row("+ rest of serve: its own modules (src/hooks, plugins) and socket set-up", (b) => b.serveRestMs);
  row("= server \"serving\" line", (b) => b.serverServingMs);
  row("+ first Info (new connection, answered)", (b) => b.firstInfoMs);
  row("**= ready (median)**", (b) => b.serverReadyMs);
  row("ready p90", (b) => b.serverReadyP90Ms);
  lines.push(`| ready, median of each run | ${report.breakdown.map((b) => report.ready.find((r) => r.runtime === b.runtime && r.program === "server")?.readyRunMediansMs.map((v) => ms(v)).join(", ") ?? "n/a").join(" | ")} |`);
  row("floor: bare grpc-js server ready", (b) => b.grpcFloorReadyMs);
  row("floor: bare node:http2 server ready (no grpc-js)", (b) => b.http2FloorReadyMs);
  row("floor: Bun.listen + hand-written HTTP/2 ready (no node:http2, Bun only)", (b) => b.bunH2FloorReadyMs);
  lines.push(
    "",
    "Steps measured in isolation overlap where they share what a runtime loads lazily: on Deno the CLI's own import already pays for the Node compatibility layer that grpc-js needs, " +
      "so \"rest of serve\" comes out negative there; on Node and Bun the steps add up to the \"serving\" line within the noise.",
  );
  const reported = report.ready.filter((r) => r.program === "server" && Object.keys(r.reportedMedians).length > 0);
  if (reported.length > 0) {
    lines.push("", "The server's own start line (numeric fields, medians):", "");
    for (const r of reported) {
      lines.push(`- ${RUNTIME_LABELS[r.runtime]}: ${Object.entries(r.reportedMedians).map(([k, v]) => `${k} ${ms(v)}`).join(", ")}`);
    }
  }

  lines.push("", `## Memory after ${100} OnDefineDomain calls (8 KB domain, one new connection per call)`, "");
  lines.push(
    `/proc/PID/status of the server process, MB (kB / 1024), median over ${report.memory[0]?.rounds ?? 0} runs (one server per cell per run). ` +
      "RssAnon is the pod's own memory; RssFile is the runtime binary and code in the page cache, shared by pods of the same image; VmHWM is the peak resident set. " +
      "Read 200 ms after the last call (what the burst left) and 2 s after it (after the server's own idle-time work, src/hooks/memory.ts: a full collection 100 ms after the last call and, on Bun, Bun.shrink() after 1 s; what a VM pod keeps while the sidecar waits; the floors and probes collect nothing of their own). Idle = after start and one Info call.",
    "",
  );
  lines.push(
    "| runtime | program | RssAnon 200 ms after | RssAnon 2 s after | RssFile 2 s after | VmHWM (peak) | VmRSS 200 ms after | idle RssAnon | idle VmHWM |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const m of report.memory) {
    const later = m.afterIdle ?? { RssAnon: NaN, RssFile: NaN, VmHWM: NaN };
    lines.push(
      `| ${RUNTIME_LABELS[m.runtime]} | ${PROGRAM_LABELS[m.program]} | ${mb(m.afterCalls.RssAnon)} | ${mb(later.RssAnon)} | ${mb(later.RssFile)} | ${mb(m.afterIdle?.VmHWM ?? m.afterCalls.VmHWM)} | ${mb(m.afterCalls.VmRSS)} | ${mb(m.idle.RssAnon)} | ${mb(m.idle.VmHWM)} |`,
    );
  }
  const go = report.goFromIssue;
  lines.push(
    `| Go passt sidecar (KubeVirt) — the issue's figures, not measured here (no Go toolchain on this machine) | | ${go.RssAnonMB} | | ${go.RssFileMB} | ${go.VmHWMMB} | | | |`,
  );

  lines.push("", "## OnDefineDomain latency (8 KB domain, identity plugin)", "");
  lines.push(
    "Per call as the caller sees it: a @grpc/grpc-js client in the benchmark process (Node), messages encoded with src/hooks/codec.ts. " +
      "New connection = dial, call, close, as virt-launcher does; reused = one open connection. " +
      `tinybench p50 and p99, ms, median over ${report.latency[0]?.rounds ?? 0} runs; all servers run at once and are timed back to back in each run's Bench. ` +
      "The client's own cost (grpc-js channel setup on Node) is in every figure alike.",
    "",
  );
  lines.push("| runtime | program | new connection p50 | p99 | reused connection p50 | p99 |", "|---|---|---:|---:|---:|---:|");
  const targets = [...new Map(report.latency.map((l) => [`${l.runtime}|${l.program}`, l])).values()];
  for (const t of targets) {
    const of = (c: string) => report.latency.find((l) => l.runtime === t.runtime && l.program === t.program && l.connection === c);
    const fresh = of("new connection");
    const reused = of("reused connection");
    lines.push(`| ${RUNTIME_LABELS[t.runtime]} | ${PROGRAM_LABELS[t.program]} | ${ms(fresh?.p50Ms)} | ${ms(fresh?.p99Ms)} | ${ms(reused?.p50Ms)} | ${ms(reused?.p99Ms)} |`);
  }
  // Servers that never completed a timed Bench (they aborted in every attempt) still get a row.
  const aborted = new Map(report.crashes.filter((c) => c.phase.includes("latency")).map((c) => [`${c.runtime}|${c.program}`, c]));
  for (const [key, crash] of aborted) {
    if (targets.some((t) => `${t.runtime}|${t.program}` === key)) continue;
    const count = report.crashes.filter((c) => `${c.runtime}|${c.program}` === key && c.phase.includes("latency")).length;
    lines.push(`| ${RUNTIME_LABELS[crash.runtime]} | ${PROGRAM_LABELS[crash.program]} | no figure: aborted in every attempt (${count} crashes, see below) | | | |`);
  }
  lines.push(`| Go passt sidecar — the issue's figure, not measured here | | ${go.onDefineDomainP50Ms} | | | |`);

  lines.push("", "## Servers that failed under connection churn", "");
  if (report.crashes.length === 0) lines.push("None: every server answered every call of the memory and latency runs.");
  else {
    lines.push(
      "A server that failed a call was recorded, restarted on a new socket, and its measurement run again; figures above come only from runs without failures.",
      "",
      "| runtime | program | when | calls answered before | exit | last stderr line |",
      "|---|---|---|---:|---|---|",
    );
    for (const c of report.crashes) {
      const last = (c.stderrTail.at(-1) ?? "").replace(/\|/g, "\\|").slice(0, 200);
      lines.push(`| ${RUNTIME_LABELS[c.runtime]} | ${PROGRAM_LABELS[c.program]} | ${c.phase} | ${c.callsAnswered} | ${c.exit} | \`\` ${last} \`\` |`);
    }
  }

  lines.push("", ...layersOf(report));
  lines.push("", "## Goals", "", "| goal | measured | target | met |", "|---|---:|---:|---|");
  for (const g of report.goals) lines.push(`| ${g.name} | ${g.measured.toFixed(1)} ${g.unit} | <= ${g.target.toFixed(1)} ${g.unit} | ${g.met ? "yes" : "**no**"} |`);

  lines.push("", "## Compiled binaries", "");
  lines.push(`\`bun build ${IMAGE_ARTIFACT_BUN_FLAGS.join(" ")} --outfile build/hooks-bench/<name> <entry>\` with grpc-js's requires of ${LAZY_BUILTINS.join(", ")} and its server modules' links to its client made lazy: the build scripts/build-image-artifact.mjs makes dist/domsplice with (compileExecutable; built by the benchmark; the server binary is checked to serve Info from a directory outside the checkout, so it embeds what it needs):`, "");
  lines.push("| program | size | build time |", "|---|---:|---:|");
  for (const c of report.compiled) lines.push(`| ${PROGRAM_LABELS[c.program]} | ${(c.bytes / 2 ** 20).toFixed(1)} MiB | ${(c.buildMs / 1000).toFixed(1)} s |`);
  lines.push("");
  return lines.join("\n");
}
