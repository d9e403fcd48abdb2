// Floor probe for bench/hooks.ts, not product code, Bun only: what a hook server on Bun's own
// socket API (Bun.listen on the unix socket given as argv[2]) with a hand-written HTTP/2 frame
// loop could cost, with neither node:http2 nor grpc-js. It speaks just enough cleartext HTTP/2
// for one grpc-js client: the connection preface, SETTINGS and PING acknowledgements, connection
// WINDOW_UPDATEs, and per stream a response HEADERS block, one DATA frame with the gRPC message
// and a trailers HEADERS block (grpc-status 0). It decodes no HPACK: the method is told from the
// request body (an empty message is Info; anything else is OnDefineDomain, echoed). No flow
// control beyond that, no CONTINUATION, no errors: a measuring stick, not a server.
import { unlinkSync } from "node:fs";
import { INFO_RESULT, echoDomain } from "./hook-messages.mjs";

const socketPath = process.argv[2];
const PREFACE_LENGTH = 24; // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
const DATA = 0, HEADERS = 1, SETTINGS = 4, PING = 6, GOAWAY = 7, WINDOW_UPDATE = 8;
const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8;

function frame(type, flags, stream, payload = new Uint8Array(0)) {
  const bytes = new Uint8Array(9 + payload.length);
  bytes[0] = payload.length >>> 16;
  bytes[1] = (payload.length >>> 8) & 0xff;
  bytes[2] = payload.length & 0xff;
  bytes[3] = type;
  bytes[4] = flags;
  new DataView(bytes.buffer).setUint32(5, stream & 0x7fffffff);
  bytes.set(payload, 9);
  return bytes;
}

const ascii = (text) => new TextEncoder().encode(text);
// HPACK, no Huffman: ":status: 200" is static entry 8; content-type (static name 31) as a
// literal without indexing; the trailer grpc-status as a literal with a new name.
const RESPONSE_HEADERS = new Uint8Array([0x88, 0x0f, 0x10, 16, ...ascii("application/grpc")]);
const TRAILERS = new Uint8Array([0x00, 11, ...ascii("grpc-status"), 1, ...ascii("0")]);

function response(stream, message) {
  const grpcMessage = new Uint8Array(5 + message.length);
  new DataView(grpcMessage.buffer).setUint32(1, message.length);
  grpcMessage.set(message, 5);
  const parts = [frame(HEADERS, END_HEADERS, stream, RESPONSE_HEADERS), frame(DATA, 0, stream, grpcMessage), frame(HEADERS, END_HEADERS | END_STREAM, stream, TRAILERS)];
  return Buffer.concat(parts);
}

function windowUpdate(stream, increment) {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, increment);
  return frame(WINDOW_UPDATE, 0, stream, payload);
}

function send(socket, bytes) {
  if (socket.data.queue.length > 0) {
    socket.data.queue.push(bytes);
    return;
  }
  const written = socket.write(bytes);
  if (written < bytes.length) socket.data.queue.push(bytes.subarray(Math.max(written, 0)));
}

function onFrame(socket, type, flags, stream, payload) {
  const state = socket.data;
  if (type === SETTINGS && !(flags & ACK)) send(socket, frame(SETTINGS, ACK, 0));
  else if (type === PING && !(flags & ACK)) send(socket, frame(PING, ACK, 0, payload));
  else if (type === GOAWAY) socket.end();
  else if (type === HEADERS) {
    state.bodies.set(stream, []);
    if (flags & END_STREAM) onRequest(socket, stream);
  } else if (type === DATA) {
    let body = payload;
    if (flags & PADDED) body = payload.subarray(1, payload.length - payload[0]);
    state.bodies.get(stream)?.push(body);
    if (payload.length > 0) send(socket, windowUpdate(0, payload.length));
    if (flags & END_STREAM) onRequest(socket, stream);
  }
}

function onRequest(socket, stream) {
  const body = Buffer.concat(socket.data.bodies.get(stream) ?? []);
  socket.data.bodies.delete(stream);
  const message = body.subarray(5, 5 + (body.length >= 5 ? body.readUInt32BE(1) : 0));
  send(socket, response(stream, message.length === 0 ? INFO_RESULT : echoDomain(message)));
}

Bun.listen({
  unix: socketPath,
  socket: {
    open(socket) {
      socket.data = { pending: new Uint8Array(0), prefaceSeen: false, bodies: new Map(), queue: [] };
      send(socket, frame(SETTINGS, 0, 0));
    },
    data(socket, chunk) {
      const state = socket.data;
      let bytes = state.pending.length ? Buffer.concat([state.pending, chunk]) : chunk;
      if (!state.prefaceSeen) {
        if (bytes.length < PREFACE_LENGTH) {
          state.pending = bytes;
          return;
        }
        bytes = bytes.subarray(PREFACE_LENGTH);
        state.prefaceSeen = true;
      }
      let at = 0;
      while (bytes.length - at >= 9) {
        const length = (bytes[at] << 16) | (bytes[at + 1] << 8) | bytes[at + 2];
        if (bytes.length - at < 9 + length) break;
        const stream = ((bytes[at + 5] & 0x7f) << 24) | (bytes[at + 6] << 16) | (bytes[at + 7] << 8) | bytes[at + 8];
        onFrame(socket, bytes[at + 3], bytes[at + 4], stream, bytes.subarray(at + 9, at + 9 + length));
        at += 9 + length;
      }
      state.pending = bytes.slice(at);
    },
    drain(socket) {
      const queue = socket.data.queue;
      while (queue.length > 0) {
        const written = socket.write(queue[0]);
        if (written < queue[0].length) {
          queue[0] = queue[0].subarray(Math.max(written, 0));
          return;
        }
        queue.shift();
      }
    },
    error() {},
  },
});
console.error(JSON.stringify({ msg: "serving", socket: socketPath, probe: "bun-h2-floor" }));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    try {
      unlinkSync(socketPath);
    } catch {}
    process.exit(0);
  });
}
