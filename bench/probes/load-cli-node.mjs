// Probe for bench/hooks.ts: Node loading the CLI bundle that bin/domsplice runs (dist/cli.js),
// without serving: exec -> module graph evaluated -> this line on stderr.
import "../../dist/cli.js";
console.error('{"msg":"probe-ready"}');
