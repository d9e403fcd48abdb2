// Probe for bench/hooks.ts: Bun or Deno loading the CLI source (src/cli.ts) without serving
// (imported, so import.meta.main is false there): exec -> modules evaluated -> this line.
// main is kept reachable: a bare `import "../../src/cli.ts"` let the compiled build drop the
// module (nothing of it used), so that probe measured the empty script.
import { main } from "../../src/cli.ts";
globalThis.domspliceMain = main;
console.error('{"msg":"probe-ready"}');
