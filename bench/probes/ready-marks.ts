// Where the ready time of a build goes, from the inside: runs executables built by
// bench/probes/ready-marks-build.mjs, whose performance.now() marks (globalThis.__m, a list of
// [name, ms since the runtime started]) they print in their "serving" line and in the log line
// of the first call answered (the product code carries no marks). Rounds interleave the
// executables. Prints, per build, the median of each mark and of the step from the mark before,
// plus exec -> "serving" and exec -> Info answered as the harness sees them.
//
// Usage: node bench/probes/ready-marks-build.mjs /tmp/marked && \
//        node --import tsx bench/probes/ready-marks.ts [--rounds=N] [--plugin=identity] LABEL=/tmp/marked...

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { firstInfo } from "../hooks/ready.ts";
import { freshSocket, median, nowMs, startUntilLine, stop } from "../hooks/processes.ts";

let rounds = 20;
let plugin = "identity";
const builds: { label: string; file: string }[] = [];
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith("--rounds=")) rounds = Number(arg.slice(9));
  else if (arg.startsWith("--plugin=")) plugin = arg.slice(9);
  else if (/^[^=]+=.+/.test(arg)) builds.push({ label: arg.slice(0, arg.indexOf("=")), file: arg.slice(arg.indexOf("=") + 1) });
  else throw new Error(`unknown argument ${arg}`);
}
type Marks = [string, number][];
const samples = builds.map(() => ({ marks: new Map<string, number[]>(), order: [] as string[], line: [] as number[], info: [] as number[] }));
const scratch = mkdtempSync(path.join(os.tmpdir(), "domsplice-ready-marks-"));
const WARMUP = 2;
try {
  for (let round = 0; round < WARMUP + rounds; round++) {
    for (let k = 0; k < builds.length; k++) {
      const b = (k + round) % builds.length;
      const socket = freshSocket(scratch);
      const started = await startUntilLine({ file: builds[b].file, args: ["serve", "--plugin", plugin, "--socket", socket] }, '"serving"', { cwd: scratch, timeoutMs: 30_000 });
      let infoMs = NaN;
      let marks: Marks = [];
      try {
        await firstInfo(socket);
        infoMs = nowMs() - started.execAt;
        // The call's log line follows the answer.
        for (let wait = 0; wait < 200 && !started.stderr.some((l) => l.includes('"call answered"')); wait++) await new Promise((r) => setTimeout(r, 5));
        const callLine = started.stderr.find((l) => l.includes('"call answered"'));
        marks = callLine ? (JSON.parse(callLine).marks as Marks) : ((started.line as { marks?: Marks }).marks ?? []);
      } finally {
        await stop(started.child);
      }
      if (round < WARMUP) continue;
      const s = samples[b];
      s.line.push(started.lineMs);
      s.info.push(infoMs);
      const seen = new Map<string, number>();
      for (const [name, at] of marks) {
        const key = seen.has(name) ? `${name}#${seen.get(name)! + 1}` : name;
        seen.set(name, (seen.get(name) ?? 0) + 1);
        if (!s.marks.has(key)) {
          s.marks.set(key, []);
          s.order.push(key);
        }
        s.marks.get(key)!.push(at);
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`${rounds} rounds (+${WARMUP} warm-up), load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (let b = 0; b < builds.length; b++) {
  const s = samples[b];
  console.log(`\n${builds[b].label}: exec -> serving ${median(s.line).toFixed(1)} ms, exec -> Info answered ${median(s.info).toFixed(1)} ms`);
  console.log("| mark | at (median ms) | step (median ms) |\n|---|---:|---:|");
  let previous: string | undefined;
  for (const key of s.order) {
    const at = s.marks.get(key)!;
    const steps = previous === undefined ? at : at.map((v, i) => v - s.marks.get(previous!)![i]);
    console.log(`| ${key} | ${median(at).toFixed(2)} | ${median(steps).toFixed(2)} |`);
    previous = key;
  }
}
