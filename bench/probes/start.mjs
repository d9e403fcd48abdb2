// Probe for bench/hooks.ts: the runtime's own start-up, timed from exec to this line on stderr
// (an empty script but for the line the harness waits for).
console.error('{"msg":"probe-ready"}');
