// Experiment probe for bench/hooks.ts, not product code: the real server (src/cli.ts serve,
// same arguments) with a full garbage collection forced every 100 ms (Bun.gc(true); Node/Deno:
// globalThis.gc when exposed). Against the plain server it tells how much of the anonymous
// memory after the calls is collectable garbage (GC headroom) and how much is live.
import { main } from "../../src/cli.ts";

const collect = globalThis.Bun ? () => globalThis.Bun.gc(true) : globalThis.gc;
if (collect) setInterval(collect, 100).unref();
main(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
