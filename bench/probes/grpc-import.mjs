// Probe for bench/hooks.ts: what importing @grpc/grpc-js alone costs on top of runtime start.
import "@grpc/grpc-js";
console.error('{"msg":"probe-ready"}');
