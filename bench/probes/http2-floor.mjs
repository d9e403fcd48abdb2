// Floor probe for bench/hooks.ts, not product code: what a hook server without @grpc/grpc-js
// could cost. A bare node:http2 server (cleartext HTTP/2, as gRPC over a unix socket is) on the
// socket given as argv[2] answers Info and OnDefineDomain (v1alpha1..3, echo) by hand: the
// 5-byte gRPC message framing (compressed flag, big-endian length) and grpc-status trailers.
// No deadlines, compression, flow-control tuning or error paths: a floor, not a server.
import http2 from "node:http2";
import { unlinkSync } from "node:fs";
import { Buffer } from "node:buffer";
import process from "node:process";
import { INFO_PATH, INFO_RESULT, ON_DEFINE_DOMAIN_PATHS, echoDomain } from "./hook-messages.mjs";

const socket = process.argv[2];
const onDefineDomainPaths = new Set(ON_DEFINE_DOMAIN_PATHS);

function framed(message) {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

const server = http2.createServer();
server.on("stream", (stream, headers) => {
  const path = headers[":path"];
  const chunks = [];
  stream.on("data", (chunk) => chunks.push(chunk));
  stream.on("end", () => {
    const body = Buffer.concat(chunks);
    const request = body.subarray(5, 5 + (body.length >= 5 ? body.readUInt32BE(1) : 0));
    let reply;
    if (path === INFO_PATH) reply = INFO_RESULT;
    else if (onDefineDomainPaths.has(path)) reply = echoDomain(request);
    else {
      // Trailers-only response: UNIMPLEMENTED.
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, { endStream: true });
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(framed(reply));
  });
});
server.listen(socket, () => {
  console.error(JSON.stringify({ msg: "serving", socket, probe: "http2-floor" }));
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    try {
      unlinkSync(socket);
    } catch {}
    process.exit(0);
  });
}
