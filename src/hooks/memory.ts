// Memory given back after calls. A hook call with a 1 MB domain leaves several MB of garbage
// behind (the message as grpc-js assembled it, the plugin's token table and output, the encoded
// response, HTTP/2 frames), and a runtime left to its own heuristics collects it late: Bun's
// RssAnon reached 124 MB over 30 such calls with no memory limit (bun src/cli.ts, passt). A
// sidecar is idle nearly all its life (virt-launcher calls it when it defines the domain), so
// the memory it keeps between calls is what every VM pod pays. Hence, where the runtime offers
// it, one full collection (Bun.gc(true), which also hands freed pages back to the OS; on V8, Node
// and Deno, the gc() that --expose-gc gives, set at run time):
//   - shortly after a large call (request + response >= LARGE_CALL_BYTES), before the next
//     large message can pile onto its garbage;
//   - once calls have stopped for IDLE_COLLECT_MS, so the memory the sidecar keeps while it
//     waits is what is live, not what the last calls left. A full collection of the sidecar
//     takes ~3-6 ms (dist/domsplice, bench/probes/memory-attribution.ts); 100 ms instead of
//     1 s: RssAnon 200 ms after 100 calls of the 8 KB domain 14.6 -> 10.7 MB, the same as 2 s
//     after (bench/probes/memory-ab.ts, three interleaved rounds);
// and on Bun, once calls have stopped for IDLE_SHRINK_MS, Bun.shrink(): JavaScriptCore throws
// away the code it compiled for the calls (the next call compiles it again) and releases free
// memory. Same probe: RssAnon 2 s after the 8 KB calls 10.7 -> 9.6 MB, 2 s after 30 calls of
// the 1 MB domain 14.0 -> 12.8 MB; the next 8 KB call, made after that idle spell, ~4 -> ~9 ms
// (client side, new connection). It waits longer than the collection so that calls a second
// apart (virt-launcher's hook points of one VM start) do not pay that recompilation each time.
// Each new call re-arms the idle timers, so a burst of calls is not slowed by either.
//
// And at that idle collection, when a large call came since the last time, just before it:
// releaseKernelMemory() (src/xml/wasm.ts), which drops the WASM kernel's instance and every view
// onto its linear memory, so the collection frees it. Linear memory never shrinks, so otherwise
// the pages a 1 MB domain touched there (input and token table, ~2.4 MB) stay resident for the
// life of the process; the compiled module is kept, so the next scan only instantiates it again
// (in process, Bun: a 1 MB scan 1.0 -> 2.5 ms, an 8 KB one 0.015 -> 0.10 ms: fresh pages).
// memory-ab.ts, passt, 8 interleaved rounds against the build before (load 1.3-1.6): RssAnon
// 200 ms after 30 x 1 MB calls 15.3 -> 12.8 MB, 2.2 s after them 14.6 -> 12.1 MB, VmHWM 87.8 ->
// 85.1 MB (two more runs: 15.2 -> 12.9 / 14.5 -> 12.1 and 15.3 -> 12.7 / 14.6 -> 11.9 MB);
// readings after the 8 KB calls alone unchanged (the release is not done for them: there the
// kernel holds 0.1 MB); the next 8 KB and 1 MB calls after that idle spell: no cost beyond the
// probe's noise (two builds of the same code differed by 24 ms on the 1 MB one).
// At the idle collection rather than at the collection 20 ms after each large call: the same
// memory afterwards (5 rounds, three builds: 2.2 s after the 1 MB calls 14.5 before, 11.9 at
// idle, 12.0 after each call), but every call of a burst of large ones then starts on a new
// instance (back-to-back 1 MB calls, client side, median 33.2 before, 32.3 at idle, 37.9 after
// each call). A release refused because a table is lent at that moment (not the case between
// calls: loans end inside the call) is tried again at the next idle collection.

import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { releaseKernelMemory } from "../xml/wasm.ts";

/** Request plus response bytes from which a call counts as large. */
export const LARGE_CALL_BYTES = 256 * 1024;

/** After a large call: long enough for the response to have left through grpc-js. */
const AFTER_LARGE_CALL_MS = 20;
/** After any call: how long the sidecar must have been idle for the collection... */
export const IDLE_COLLECT_MS = 100;
/** ... and for the shrink (Bun only). */
export const IDLE_SHRINK_MS = 1000;

interface Collector {
  /** A full collection. */
  collect(): void;
  /** Gives back what only an idle process can spare (compiled code); absent where the runtime has no such call. */
  shrink?(): void;
}

function runtimeCollector(): Collector | null {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void; shrink?(): void } }).Bun;
  if (bun !== undefined) {
    const shrink = bun.shrink;
    return {
      collect: () => bun.gc(true),
      ...(typeof shrink === "function" ? { shrink: () => shrink.call(bun) } : {}),
    };
  }
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return { collect: () => exposed() };
  // V8 (Node, Deno): --expose-gc set at run time gives a fresh context a gc() of its own.
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    return typeof gc === "function" ? { collect: () => (gc as () => void)() } : null;
  } catch {
    return null;
  }
}

const collector = runtimeCollector();
/** The collection due after a large call (not put off by later calls), and the idle ones (re-armed by every call). */
let afterLargeCall: ReturnType<typeof setTimeout> | undefined;
let whenIdle: ReturnType<typeof setTimeout> | undefined;
let shrinkWhenIdle: ReturnType<typeof setTimeout> | undefined;
/** Whether a large call came since the WASM kernel's memory was last released. */
let largeSinceRelease = false;

function schedule(delayMs: number, work: () => void): ReturnType<typeof setTimeout> {
  const timer = setTimeout(work, delayMs);
  // Never what keeps the process alive.
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

/** After a call of `bytes` (request + response): schedules the collections described above. */
export function collectAfterCall(bytes: number): void {
  if (collector === null) return;
  const { collect, shrink } = collector;
  if (bytes >= LARGE_CALL_BYTES) {
    largeSinceRelease = true;
    afterLargeCall ??= schedule(AFTER_LARGE_CALL_MS, () => {
      afterLargeCall = undefined;
      collect();
    });
  }
  clearTimeout(whenIdle);
  whenIdle = schedule(IDLE_COLLECT_MS, () => {
    whenIdle = undefined;
    if (largeSinceRelease && releaseKernelMemory()) largeSinceRelease = false;
    collect();
  });
  if (shrink !== undefined) {
    clearTimeout(shrinkWhenIdle);
    shrinkWhenIdle = schedule(IDLE_SHRINK_MS, () => {
      shrinkWhenIdle = undefined;
      collect();
      shrink();
    });
  }
}
