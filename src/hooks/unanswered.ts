// Calls that end before the server's handler sees them, logged like the others. grpc-js ends
// some calls itself, before any handler runs: a method the socket does not serve
// (UNIMPLEMENTED), a message over MAX_MESSAGE_BYTES (RESOURCE_EXHAUSTED), a deadline that
// passes while the request is still arriving (DEADLINE_EXCEEDED); and a caller can hang up
// first. The handler writes each call's log line, so without this an admin reading the
// sidecar's log would not see them. grpc-js has no hook for them (its server interceptors never
// see unknown methods, nor the refusals its base call makes), so this watches the HTTP/2
// streams of grpc-js's own http2 server, through the Server's private `http2Servers` map (the
// grpc-js 1.14.7 layout server.ts's deep imports already rely on; without the map the server
// serves as before and these calls go unlogged). A listener put before grpc-js's tags each
// request's headers with a call id, which reaches the handler in its metadata; it records the
// grpc-status the stream is answered with; and when a stream closes whose handler was never
// entered, it logs one error line with that status.

import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type * as Grpc from "@grpc/grpc-js";
import { StatusCode, statusName } from "./call-error.ts";
import type { LogLine } from "./log.ts";

/** The request header (and so metadata key) that carries the call id to the handler. */
const CALL_ID_KEY = "domsplice-call-id";

interface Http2ServerEvents {
  prependListener(event: "stream", listener: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void): unknown;
}

export interface CallWatch {
  /** The handler's side, first thing: this call has reached it, and the handler will log it. */
  entered(metadata: Grpc.Metadata): void;
  /** Starts watching the streams of `server`; after bindAsync, before the first call can arrive. */
  watch(server: Grpc.Server): void;
}

export function callWatch(log: (line: LogLine) => void): CallWatch {
  /** Ids of the streams open whose handler has not been entered. */
  const unentered = new Set<string>();
  let lastId = 0;

  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    const id = String(++lastId);
    headers[CALL_ID_KEY] = id;
    unentered.add(id);
    const started = performance.now();
    let answer: OutgoingHttpHeaders | undefined;
    const record = (sent: OutgoingHttpHeaders | undefined): void => {
      if (answer === undefined || (answer["grpc-status"] === undefined && sent?.["grpc-status"] !== undefined)) answer = sent;
    };
    const respond = stream.respond;
    stream.respond = function (this: ServerHttp2Stream, ...args: Parameters<ServerHttp2Stream["respond"]>) {
      record(args[0]);
      return respond.apply(this, args);
    };
    const sendTrailers = stream.sendTrailers;
    stream.sendTrailers = function (this: ServerHttp2Stream, ...args: Parameters<ServerHttp2Stream["sendTrailers"]>) {
      record(args[0]);
      return sendTrailers.apply(this, args);
    };
    stream.once("close", () => {
      if (!unentered.delete(id)) return;
      log({
        level: "error",
        msg: unansweredMessage(answer),
        method: String(headers[":path"] ?? "").slice(1),
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        code: statusName(unansweredCode(answer)),
      });
    });
  };

  return {
    entered(metadata) {
      const [id] = metadata.get(CALL_ID_KEY);
      if (typeof id === "string") unentered.delete(id);
    },
    watch(server) {
      const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
      if (!(servers instanceof Map)) return;
      for (const http2Server of servers.keys() as IterableIterator<Http2ServerEvents>) http2Server.prependListener("stream", onStream);
    },
  };
}

function unansweredCode(answer: OutgoingHttpHeaders | undefined): number {
  if (answer === undefined) return StatusCode.CANCELLED;
  const status = Number(answer["grpc-status"]);
  return Number.isInteger(status) ? status : StatusCode.UNKNOWN;
}

function unansweredMessage(answer: OutgoingHttpHeaders | undefined): string {
  if (answer === undefined) return "the caller ended the call before it reached the plugins";
  if (answer["grpc-status"] === undefined) return `refused before reaching the plugins: HTTP status ${String(answer[":status"])}, not a gRPC request`;
  return `refused before reaching the plugins: ${decodeGrpcMessage(answer["grpc-message"])}`;
}

/** grpc-js percent-encodes grpc-message (encodeURI). */
function decodeGrpcMessage(message: unknown): string {
  const text = String(message ?? "");
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
