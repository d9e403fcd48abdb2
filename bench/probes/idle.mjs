// Probe for bench/hooks.ts: the runtime alone, kept alive doing nothing, so its memory
// (/proc/PID/status) is the floor under any server on that runtime.
console.error('{"msg":"probe-ready"}');
setInterval(() => {}, 1 << 30);
