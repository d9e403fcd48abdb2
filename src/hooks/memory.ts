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

import v8 from "node:v8";
import { runInNewContext } from "node:vm";

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
  if (bytes >= LARGE_CALL_BYTES && afterLargeCall === undefined) {
    afterLargeCall = schedule(AFTER_LARGE_CALL_MS, () => {
      afterLargeCall = undefined;
      collect();
    });
  }
  clearTimeout(whenIdle);
  whenIdle = schedule(IDLE_COLLECT_MS, () => {
    whenIdle = undefined;
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
