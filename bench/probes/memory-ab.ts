// Before/after of a memory change (not product code): several builds of the server, each started
// fresh per round and driven the same way, interleaved round by round (the machine is shared and
// noisy), medians printed. Per round and build: Info; 100 OnDefineDomain calls of the 8 KB domain;
// then 30 of the 1 MB domain (bench:limits' calls, same plugin); /proc/PID/status 200 ms and
// 2.2 s after the last call of each kind (before and after the server's idle collection), and the
// time of one more 8 KB call made after that idle spell (client side, new connection). After the
// 1 MB calls' 2.2 s reading also: one more 1 MB call, then 2.2 s later one more 8 KB call, each
// timed (what the idle-time work after large calls, e.g. releasing the WASM kernel's memory, costs
// the next call); and the median client-side time of the 30 back-to-back 1 MB calls.
//
// Usage: node --import tsx bench/probes/memory-ab.ts [--plugin passt|identity] [--rounds N] NAME=BINARY...
//   e.g. build each variant with `bun build <IMAGE_ARTIFACT_BUN_FLAGS> --outfile /tmp/x src/cli.ts`
//   in a checkout (or git worktree) of it.

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { infoOnce, onDefineDomainOnce, sameBytes } from "../hooks/client.ts";
import { median, memoryOf, startUntilLine, stop } from "../hooks/processes.ts";
import { limitsCalls, type LimitsPlugin } from "../limits/call.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const READINGS = [
  "idle RssAnon",
  "8 KB +200 ms",
  "8 KB +2.2 s",
  "8 KB call after idle, ms",
  "1 MB +200 ms",
  "1 MB +2.2 s",
  "1 MB call p50, ms",
  "1 MB call after idle, ms",
  "8 KB call after 1 MB + idle, ms",
  "VmHWM",
  "RssFile",
] as const;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
  const plugin = option("--plugin", "passt") as LimitsPlugin;
  const rounds = Number(option("--rounds", "3"));
  const builds = args.filter((a) => a.includes("=")).map((a) => ({ name: a.slice(0, a.indexOf("=")), binary: path.resolve(a.slice(a.indexOf("=") + 1)) }));
  if (builds.length === 0) throw new Error("usage: memory-ab.ts [--plugin P] [--rounds N] NAME=BINARY...");
  const calls = await limitsCalls(repoRoot, plugin);
  const scratch = mkdtempSync(path.join(os.tmpdir(), "domsplice-memory-ab-"));
  const samples = new Map(builds.map((b) => [b.name, Object.fromEntries(READINGS.map((r) => [r, [] as number[]])) as Record<(typeof READINGS)[number], number[]>]));
  let sockets = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const build of round % 2 ? [...builds].reverse() : builds) {
        const socket = path.join(scratch, `${sockets++}.sock`);
        const started = await startUntilLine({ file: build.binary, args: ["serve", "--plugin", plugin, "--socket", socket] }, '"serving"', { cwd: scratch, timeoutMs: 30_000 });
        const pid = started.child.pid!;
        const into = samples.get(build.name)!;
        try {
          await infoOnce(socket);
          into["idle RssAnon"].push(memoryOf(pid).RssAnon);
          for (const [call, count, label] of [
            [calls.small, 100, "8 KB"],
            [calls.large, 30, "1 MB"],
          ] as const) {
            const times: number[] = [];
            for (let i = 0; i < count; i++) {
              const at = performance.now();
              const answer = await onDefineDomainOnce(socket, call.params, 60_000);
              times.push(performance.now() - at);
              if (!sameBytes(answer, call.expected)) throw new Error(`${build.name}: wrong answer to the ${label} call`);
            }
            if (label === "1 MB") into["1 MB call p50, ms"].push(median(times));
            await sleep(200);
            into[`${label} +200 ms`].push(memoryOf(pid).RssAnon);
            await sleep(2000);
            into[`${label} +2.2 s`].push(memoryOf(pid).RssAnon);
            if (label === "8 KB") {
              // What an idle-time collection costs the next call (code thrown away is compiled again).
              const at = performance.now();
              await onDefineDomainOnce(socket, call.params, 60_000);
              into["8 KB call after idle, ms"].push(performance.now() - at);
            } else {
              for (const [again, reading] of [
                [calls.large, "1 MB call after idle, ms"],
                [calls.small, "8 KB call after 1 MB + idle, ms"],
              ] as const) {
                const at = performance.now();
                const answer = await onDefineDomainOnce(socket, again.params, 60_000);
                into[reading].push(performance.now() - at);
                if (!sameBytes(answer, again.expected)) throw new Error(`${build.name}: wrong answer to the call after idle`);
                if (reading === "1 MB call after idle, ms") await sleep(2200);
              }
            }
          }
          const end = memoryOf(pid);
          into.VmHWM.push(end.VmHWM);
          into.RssFile.push(end.RssFile);
        } finally {
          await stop(started.child);
        }
      }
      console.error(`round ${round + 1}/${rounds}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  console.log(`plugin ${plugin}, ${rounds} rounds, medians in MB (kB / 1024), RssAnon unless named; load: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`| build | ${READINGS.join(" | ")} |`);
  console.log(`|---|${READINGS.map(() => "---:").join("|")}|`);
  for (const build of builds) {
    const s = samples.get(build.name)!;
    // Memory readings are kB (shown as MB), the call time ms.
    const shown = (r: string, v: number) => (r.endsWith(", ms") ? v : v / 1024).toFixed(1);
    console.log(`| ${build.name} | ${READINGS.map((r) => `${shown(r, median(s[r]))} (${s[r].map((v) => shown(r, v)).join("/")})`).join(" | ")} |`);
  }
}

await main();
