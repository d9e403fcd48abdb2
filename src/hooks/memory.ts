// Memory given back after calls. A hook call with a 1 MB domain leaves several MB of garbage
// behind (the message as grpc-js assembled it, the plugin's token table and output, the encoded
// response, HTTP/2 frames), and a runtime left to its own heuristics collects it late: Bun's
// RssAnon reached 124 MB over 30 such calls with no memory limit (bun src/cli.ts, passt). A
// sidecar is idle nearly all its life (virt-launcher calls it when it defines the domain), so
// the memory it keeps between calls is what every VM pod pays. Hence one full collection where
// the runtime offers one (Bun.gc(true), which also hands freed pages back to the OS; on V8, Node
// and Deno, the gc() that --expose-gc gives, set at run time):
//   - shortly after a large call (request + response >= LARGE_CALL_BYTES), before the next
//     large message can pile onto its garbage;
//   - once calls have stopped for IDLE_COLLECT_MS, so the memory the sidecar keeps while it
//     waits is what is live, not what the last calls left.
// Each new call re-arms the timer, so a burst of calls is not slowed by collections.

import v8 from "node:v8";
import { runInNewContext } from "node:vm";

/** Request plus response bytes from which a call counts as large. */
export const LARGE_CALL_BYTES = 256 * 1024;

/** After a large call: long enough for the response to have left through grpc-js. */
const AFTER_LARGE_CALL_MS = 20;
/** After any call: how long the sidecar must have been idle. */
export const IDLE_COLLECT_MS = 1000;

function runtimeCollector(): (() => void) | null {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return () => bun.gc(true);
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return () => exposed();
  // V8 (Node, Deno): --expose-gc set at run time gives a fresh context a gc() of its own.
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    return typeof gc === "function" ? () => (gc as () => void)() : null;
  } catch {
    return null;
  }
}

const collect = runtimeCollector();
/** The collection due after a large call (not put off by later calls), and the idle one (re-armed by every call). */
let afterLargeCall: ReturnType<typeof setTimeout> | undefined;
let whenIdle: ReturnType<typeof setTimeout> | undefined;

function schedule(delayMs: number, done: () => void): ReturnType<typeof setTimeout> {
  const timer = setTimeout(() => {
    done();
    collect!();
  }, delayMs);
  // Never what keeps the process alive.
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

/** After a call of `bytes` (request + response): schedules the collections described above. */
export function collectAfterCall(bytes: number): void {
  if (collect === null) return;
  if (bytes >= LARGE_CALL_BYTES && afterLargeCall === undefined) afterLargeCall = schedule(AFTER_LARGE_CALL_MS, () => (afterLargeCall = undefined));
  if (whenIdle !== undefined) clearTimeout(whenIdle);
  whenIdle = schedule(IDLE_COLLECT_MS, () => (whenIdle = undefined));
}
