// `npm run bench`: domsplice against DOM transforms, bytes in -> bytes out, in one run.
// Inputs: KubeVirt's domain XML at 8 KB, 64 KB and 1 MB (bench/inputs.ts). Tasks per input:
//   floors      what any byte-to-byte job costs at least: a copy, and one scan for an absent byte
//   tokenize    domsplice's tokenizer, TypeScript kernel and WASM kernel (bytes -> token table)
//   patch       the three edits of bench/edits.ts: domsplice with a plan compiled once outside
//               the timed loop, domsplice compiling every time, and txml, @rgrove/parse-xml and
//               xmlbuilder2 (parse + edit on their tree + serialize; UTF-8 decode/encode
//               included, since a hook receives and returns bytes)
// Every patch contender's output is checked once for the edits before it is timed.
// domsplice is imported as "domsplice", through package.json `exports`: under Node that is the
// esbuild bundle in dist/ that users get, so the figures are the shipped code's.
// Writes bench/results/bench.json, bench.md and bench.svg (the chart the README shows).
//
// Usage: npm run bench -- [--quick] [FILTER...]   (bundled, plain Node; also: npx bun bench/run.ts)
//   --quick   short time budgets (a smoke run; results are printed, not written)
//   FILTER    run only tasks whose name contains one of these (results not written)
// Only a full run under Node writes bench/results/; under Bun or Deno the figures are printed.

import { Bench } from "tinybench";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { benchInputs, type BenchInput } from "./inputs.ts";
import { PATCH_OPS, verifyEdits } from "./edits.ts";
import { describeMachine } from "./machine.ts";
import { renderBarChart } from "./chart.ts";
import { txmlPatch } from "./peers/txml.ts";
import { parseXmlPatch } from "./peers/parse-xml.ts";
import { xmlbuilder2Patch } from "./peers/xmlbuilder2.ts";
import type { PatchOp } from "domsplice";
import { newestMtime } from "../scripts/node-bundle.mjs";

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const resultsDir = path.join(repoRoot, "bench", "results");

/** The library under test, loaded in main() once the bundle is known to be current. */
let domsplice: typeof import("domsplice");

/**
 * Resolves "domsplice" as a user's import would; when that is the dist/ bundle (Node) and the
 * bundle is missing or older than src/ or assembly/, rebuilds it first, so the figures are
 * never those of stale code. Returns the resolved file, recorded with the results.
 */
function ensureCurrentBundle(): string {
  const resolved = fileURLToPath(import.meta.resolve("domsplice"));
  if (resolved.includes(`${path.sep}dist${path.sep}`)) {
    const sources = Math.max(newestMtime(path.join(repoRoot, "src")), newestMtime(path.join(repoRoot, "assembly")));
    if (!existsSync(resolved) || statSync(resolved).mtimeMs < sources) {
      console.log("dist/ is missing or older than the sources: npm run build");
      const build = spawnSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "inherit" });
      if (build.status !== 0) throw new Error("npm run build failed");
    }
  }
  return path.relative(repoRoot, resolved);
}

type Group = "floor" | "tokenize" | "patch";

interface TaskSpec {
  name: string;
  group: Group;
  /** domsplice's own rows (bold in the chart). */
  ours: boolean;
  /** Builds the timed function for one input; runs every one-time check first. */
  prepare(input: Uint8Array): () => unknown;
}

const decoder = new TextDecoder();
const ops = PATCH_OPS as unknown as PatchOp[];

/** Runs a patch contender once and proves its output carries the edits. */
function checkedPatch(name: string, input: Uint8Array, run: (input: Uint8Array) => Uint8Array | string): void {
  const output = run(input);
  if (!(output instanceof Uint8Array)) throw new Error(`${name}: bytes in should give bytes out`);
  verifyEdits(name, decoder.decode(input), decoder.decode(output));
}

function tokenizeTask(kernel: "ts" | "wasm"): (input: Uint8Array) => () => unknown {
  return (input) => {
    const { tokenize } = domsplice;
    const result = tokenize(input, { kernel });
    if (!result.ok) throw new Error(`tokenize (${kernel}): ${result.error.line}:${result.error.column}: ${result.error.message}`);
    const other = tokenize(input, { kernel: kernel === "ts" ? "wasm" : "ts" });
    if (!other.ok || other.table.count !== result.table.count) throw new Error("tokenize: the TS and WASM kernels disagree on the token count");
    return () => tokenize(input, { kernel });
  };
}

const TASKS: TaskSpec[] = [
  {
    name: "domsplice patch (compiled plan)",
    group: "patch",
    ours: true,
    prepare: (input) => {
      const plan = domsplice.compile(ops);
      checkedPatch("domsplice plan.apply", input, (bytes) => plan.apply(bytes));
      return () => plan.apply(input);
    },
  },
  {
    name: "domsplice patch (compile + apply)",
    group: "patch",
    ours: true,
    prepare: (input) => {
      const { patch } = domsplice;
      checkedPatch("domsplice patch", input, (bytes) => patch(bytes, ops));
      return () => patch(input, ops);
    },
  },
  {
    name: "txml parse + edit + stringify",
    group: "patch",
    ours: false,
    prepare: (input) => {
      checkedPatch("txml", input, txmlPatch);
      return () => txmlPatch(input);
    },
  },
  {
    name: "@rgrove/parse-xml + serializer",
    group: "patch",
    ours: false,
    prepare: (input) => {
      checkedPatch("@rgrove/parse-xml", input, parseXmlPatch);
      return () => parseXmlPatch(input);
    },
  },
  {
    name: "xmlbuilder2 create + edit + end",
    group: "patch",
    ours: false,
    prepare: (input) => {
      checkedPatch("xmlbuilder2", input, xmlbuilder2Patch);
      return () => xmlbuilder2Patch(input);
    },
  },
  { name: "domsplice tokenize (TS kernel)", group: "tokenize", ours: true, prepare: tokenizeTask("ts") },
  { name: "domsplice tokenize (WASM kernel)", group: "tokenize", ours: true, prepare: tokenizeTask("wasm") },
  {
    name: "floor: Buffer.from (copy)",
    group: "floor",
    ours: false,
    prepare: (input) => () => Buffer.from(input),
  },
  {
    name: "floor: Uint8Array slice (copy)",
    group: "floor",
    ours: false,
    prepare: (input) => () => input.slice(),
  },
  {
    name: "floor: Buffer.indexOf (scan)",
    group: "floor",
    ours: false,
    prepare: (input) => {
      const view = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      if (view.indexOf(0) !== -1) throw new Error("floor: the input contains the byte the scan looks for");
      return () => view.indexOf(0);
    },
  },
];

/** Time budgets per input (ms): enough samples for the fast tasks, a floor of runs for the slow. */
function budgetFor(input: BenchInput, quick: boolean) {
  if (quick) return { time: 100, iterations: 3, warmupTime: 20, warmupIterations: 2 };
  return input.bytes.length > 512 * 1024
    ? { time: 2000, iterations: 8, warmupTime: 300, warmupIterations: 3 }
    : { time: 1000, iterations: 20, warmupTime: 200, warmupIterations: 10 };
}

interface Measurement {
  task: string;
  group: Group;
  ours: boolean;
  input: string;
  bytes: number;
  meanUs: number;
  p50Us: number;
  minUs: number;
  rmePercent: number;
  samples: number;
  /** Input bytes per second over the median time, in MB/s (10^6). */
  mbPerS: number;
}

let sink: unknown;

async function measure(input: BenchInput, tasks: TaskSpec[], quick: boolean): Promise<Measurement[]> {
  const bench = new Bench({ name: input.label, ...budgetFor(input, quick) });
  for (const task of tasks) {
    const timed = task.prepare(input.bytes);
    bench.add(task.name, () => {
      sink = timed();
    });
  }
  await bench.run();
  return bench.tasks.map((t, i) => {
    const result = t.result;
    if (result.state !== "completed") {
      throw new Error(`${input.label} / ${t.name}: ${result.state}${"error" in result ? `: ${String(result.error)}` : ""}`);
    }
    const latency = result.latency;
    return {
      task: tasks[i].name,
      group: tasks[i].group,
      ours: tasks[i].ours,
      input: input.label,
      bytes: input.bytes.length,
      meanUs: latency.mean * 1000,
      p50Us: latency.p50 * 1000,
      minUs: latency.min * 1000,
      rmePercent: latency.rme,
      samples: t.runs,
      mbPerS: input.bytes.length / (latency.p50 / 1000) / 1e6,
    };
  });
}

function formatUs(us: number): string {
  if (us >= 10_000) return `${(us / 1000).toFixed(0)} ms`;
  if (us >= 1000) return `${(us / 1000).toFixed(1)} ms`;
  if (us >= 100) return `${us.toFixed(0)} µs`;
  if (us >= 10) return `${us.toFixed(1)} µs`;
  return `${us.toFixed(2)} µs`;
}

function formatRate(mbPerS: number): string {
  if (mbPerS >= 1000) return `${(mbPerS / 1000).toFixed(mbPerS >= 10_000 ? 0 : 1)} GB/s`;
  if (mbPerS >= 10) return `${mbPerS.toFixed(0)} MB/s`;
  return `${mbPerS.toFixed(1)} MB/s`;
}

function find(results: Measurement[], task: string, input: string): Measurement | undefined {
  return results.find((m) => m.task === task && m.input === input);
}

interface Goal {
  name: string;
  value: number;
  unit: string;
  goal: number;
  met: boolean;
}

function goalsOf(results: Measurement[]): Goal[] {
  const goals: Goal[] = [];
  const ratio = (name: string, ours: string, peer: string, input: string, goal: number) => {
    const a = find(results, ours, input);
    const b = find(results, peer, input);
    if (a && b) {
      const value = b.p50Us / a.p50Us;
      goals.push({ name, value, unit: "x", goal, met: value >= goal });
    }
  };
  ratio("patch (compiled) vs txml at 8 KB", "domsplice patch (compiled plan)", "txml parse + edit + stringify", "8 KB", 10);
  ratio("patch (compiled) vs txml at 1 MB", "domsplice patch (compiled plan)", "txml parse + edit + stringify", "1 MB", 20);
  const wasm = find(results, "domsplice tokenize (WASM kernel)", "1 MB");
  if (wasm) {
    const value = wasm.mbPerS / 1000;
    goals.push({ name: "WASM tokenizer at 1 MB", value, unit: "GB/s", goal: 1, met: value >= 1 });
  }
  return goals;
}

/** Every ratio of domsplice's patch to each peer, per input (information beyond the goals). */
function ratiosOf(results: Measurement[], inputs: string[]): Record<string, Record<string, number>> {
  const table: Record<string, Record<string, number>> = {};
  for (const ours of ["domsplice patch (compiled plan)", "domsplice patch (compile + apply)"]) {
    for (const peer of results.filter((m) => m.group === "patch" && !m.ours).map((m) => m.task)) {
      const key = `${peer} / ${ours}`;
      for (const input of inputs) {
        const a = find(results, ours, input);
        const b = find(results, peer, input);
        if (a && b) (table[key] ??= {})[input] = Math.round((b.p50Us / a.p50Us) * 10) / 10;
      }
    }
  }
  return table;
}

function markdownOf(results: Measurement[], inputs: BenchInput[], goals: Goal[], machine: ReturnType<typeof describeMachine>, date: string): string {
  const lines: string[] = [];
  lines.push("# Benchmark results", "");
  lines.push(
    `Generated by \`npm run bench\` on ${date}: ${machine.cpu}, ${machine.cores} cores, ran on ${machine.ranOn}` +
      ` (installed: Node ${machine.runtimes.node}, Bun ${machine.runtimes.bun ?? "n/a"}, Deno ${machine.runtimes.deno ?? "n/a"}).` +
      ` Libraries: ${Object.entries(machine.libraries).map(([n, v]) => `${n} ${v}`).join(", ")}.`,
    "",
  );
  lines.push(
    "Median time per operation (tinybench p50; medians resist the noise of a shared 2-core machine better than means), bytes in -> bytes out (throughput = input bytes / median time). Patch = ensure `/domain/cpu` and set its mode, append a passt `<interface>` to `/domain/devices`, remove every `<rom>` under an interface; peers parse, edit their tree and serialize, with UTF-8 decode/encode included.",
    "",
  );
  lines.push(`| task | ${inputs.map((i) => `${i.label} (${i.bytes.length.toLocaleString("en-US")} B)`).join(" | ")} |`);
  lines.push(`|---|${inputs.map(() => "---:").join("|")}|`);
  for (const task of [...new Set(results.map((m) => m.task))]) {
    const cells = inputs.map((i) => {
      const m = find(results, task, i.label);
      return m ? `${formatUs(m.p50Us)} (${formatRate(m.mbPerS)})` : "n/a";
    });
    const ours = results.find((m) => m.task === task)?.ours;
    lines.push(`| ${ours ? `**${task}**` : task} | ${cells.join(" | ")} |`);
  }
  lines.push("", "How many times faster domsplice's patch is than each DOM contender (median time ratio; compiled plan / compile + apply):", "");
  lines.push(`| peer | ${inputs.map((i) => i.label).join(" | ")} |`, `|---|${inputs.map(() => "---:").join("|")}|`);
  for (const peer of [...new Set(results.filter((m) => m.group === "patch" && !m.ours).map((m) => m.task))]) {
    const cells = inputs.map((i) => {
      const p = find(results, peer, i.label);
      const compiled = find(results, "domsplice patch (compiled plan)", i.label);
      const each = find(results, "domsplice patch (compile + apply)", i.label);
      if (!p || !compiled || !each) return "n/a";
      return `${(p.p50Us / compiled.p50Us).toFixed(1)}x / ${(p.p50Us / each.p50Us).toFixed(1)}x`;
    });
    lines.push(`| ${peer} | ${cells.join(" | ")} |`);
  }
  lines.push("", "| goal | measured | target | met |", "|---|---:|---:|---|");
  for (const g of goals) lines.push(`| ${g.name} | ${g.value.toFixed(g.unit === "x" ? 1 : 2)} ${g.unit} | >= ${g.goal} ${g.unit} | ${g.met ? "yes" : "**no**"} |`);
  lines.push(
    "",
    "Notes: domsplice is loaded as `import \"domsplice\"` (under Node the esbuild bundle in dist/, what users run). " +
      "@rgrove/parse-xml has no serializer; bench/peers/parse-xml-serializer.ts is ours, minimal. " +
      "txml runs with keepWhitespace and keepComments, entities passed through raw, and no HTML void elements " +
      "(its default would break `<input></input>`); xmlbuilder2 keeps whitespace-only text. " +
      "Every patch contender's output is checked for the three edits before timing (bench/edits.ts).",
  );
  lines.push("", "![benchmark chart](bench.svg)", "");
  return lines.join("\n");
}

function chartOf(results: Measurement[], inputs: BenchInput[], machine: ReturnType<typeof describeMachine>): string {
  const tasks = [...new Set(results.map((m) => m.task))];
  return renderBarChart({
    title: "domsplice vs DOM transforms: KubeVirt domain XML, bytes in -> bytes out",
    subtitle: `${machine.cpu}, ${machine.cores} cores, ${machine.ranOn}; median per operation (label: time per op, throughput)`,
    axisLabel: "throughput in MB/s of input, log scale (longer is faster)",
    series: inputs.map((i) => i.label),
    rows: tasks.map((task) => {
      const cells = inputs.map((i) => find(results, task, i.label));
      return {
        label: task,
        emphasis: cells.some((m) => m?.ours),
        values: cells.map((m) => m?.mbPerS ?? null),
        valueLabels: cells.map((m) => (m ? `${formatUs(m.p50Us)} · ${formatRate(m.mbPerS)}` : "")),
      };
    }),
    tickLabel: (v) => (v >= 1000 ? `${v / 1000} GB/s` : `${v} MB/s`),
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes("--quick");
  const filters = args.filter((a) => !a.startsWith("--"));
  const tasks = filters.length === 0 ? TASKS : TASKS.filter((t) => filters.some((f) => t.name.includes(f)));
  if (tasks.length === 0) throw new Error(`no task matches ${filters.join(", ")}`);
  const domspliceModule = ensureCurrentBundle();
  domsplice = await import("domsplice");
  console.log(`domsplice loaded from ${domspliceModule}`);
  const inputs = benchInputs();
  const machine = describeMachine();
  const started = performance.now();
  const results: Measurement[] = [];
  for (const input of inputs) {
    const measured = await measure(input, tasks, quick);
    results.push(...measured);
    console.log(`\n${input.label} (${input.bytes.length} bytes)`);
    for (const m of measured) {
      console.log(`  ${m.task.padEnd(36)} ${formatUs(m.p50Us).padStart(9)}  ${formatRate(m.mbPerS).padStart(10)}  ±${m.rmePercent.toFixed(1)}%  n=${m.samples}`);
    }
  }
  const goals = goalsOf(results);
  console.log("");
  for (const g of goals) console.log(`${g.met ? "met    " : "NOT MET"} ${g.name}: ${g.value.toFixed(2)} ${g.unit} (goal >= ${g.goal} ${g.unit})`);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (quick || filters.length > 0 || !machine.ranOn.startsWith("Node")) {
    // bench/results/ holds the Node figures the README quotes (the goals are Node goals).
    console.log("(quick, filtered or non-Node run: bench/results/ left as it was)");
    return;
  }
  const date = new Date().toISOString();
  mkdirSync(resultsDir, { recursive: true });
  const report = {
    date,
    machine,
    inputs: inputs.map((i) => ({ label: i.label, bytes: i.bytes.length })),
    method: {
      domsplice: `imported as "domsplice" through package.json exports: ${domspliceModule}`,
      statistic: "median (p50) latency per operation (tinybench); throughput = input bytes / median; means are kept as meanUs",
      budgets: Object.fromEntries(inputs.map((i) => [i.label, budgetFor(i, false)])),
      patchOps: PATCH_OPS,
    },
    results,
    goals,
    ratios: ratiosOf(results, inputs.map((i) => i.label)),
  };
  writeFileSync(path.join(resultsDir, "bench.json"), JSON.stringify(report, null, 2) + "\n");
  writeFileSync(path.join(resultsDir, "bench.md"), markdownOf(results, inputs, goals, machine, date));
  writeFileSync(path.join(resultsDir, "bench.svg"), chartOf(results, inputs, machine));
  console.log(`wrote ${path.relative(process.cwd(), resultsDir)}/bench.json, bench.md, bench.svg`);
  void sink;
}

await main();
