// Probe for bench/hooks.ts: Bun or Deno loading the CLI source (src/cli.ts) without serving
// (imported, so import.meta.main is false there): exec -> modules evaluated -> this line.
import "../../src/cli.ts";
console.error('{"msg":"probe-ready"}');
