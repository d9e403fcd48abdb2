// The hook server: KubeVirt's legacy hook API (kubevirt.hooks.info.Info and the Callbacks of
// v1alpha1, v1alpha2 and v1alpha3) on one unix socket, and, when asked, the v1.9 Plugin API
// (kubevirt.hooks.plugins.v1alpha1 DomainHookService and NodeHookService) on a second one,
// both served by this one process on @grpc/grpc-js. The server only moves bytes: each method
// is a function of calls.ts from request bytes to response bytes (or a HookCallError), and
// grpc-js is told to pass messages through untouched (the codec runs inside calls.ts, so an
// undecodable message is INVALID_ARGUMENT instead of grpc-js's INTERNAL). grpc-js is loaded
// here, on demand, so `domsplice patch` and `check` never pay for it, and only its server
// (loadGrpcServer below).

import process from "node:process";
import { Buffer } from "node:buffer";
import path from "node:path";
import type * as Grpc from "@grpc/grpc-js";
import type { HookEnv, HookPointName, Plugin } from "../plugins/types.ts";
import { HookCallError, StatusCode, statusName } from "./call-error.ts";
import {
  answerExecuteNodeHook,
  answerMutateDomain,
  answerOnDefineDomain,
  answerPreCloudInitIso,
  subscribedHookPoints,
  type CallAnswer,
  type HookSetup,
} from "./calls.ts";
import { InfoResultCodec, ShutdownResultCodec } from "./codec.ts";
import { logRecord, stderrLog, type LogLine, type LogSink } from "./log.ts";
import { identifySocketFile, prepareSocketPath, removeSocketFile, SocketError, type SocketFile } from "./socket.ts";
import { callWatch, type CallWatch } from "./unanswered.ts";

/** Largest message either way (documented in the README); bigger -> RESOURCE_EXHAUSTED. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The Callbacks versions served, oldest first; virt-launcher picks the newest it knows. */
export const CALLBACK_VERSIONS = ["v1alpha1", "v1alpha2", "v1alpha3"] as const;

/** How long shutdown waits for calls in flight before closing their connections. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface HookServerOptions {
  /** Legacy hook API socket, e.g. /var/run/kubevirt-hooks/domsplice.sock. */
  readonly socket: string;
  /** Plugin API socket (KubeVirt >= 1.9), e.g. /var/run/kubevirt-plugin/<plugin>/domsplice.sock. */
  readonly pluginSocket?: string;
  /** What Info answers as the sidecar's name. */
  readonly name: string;
  /**
   * Priority of every hook point Info lists. KubeVirt means higher to run first; its hook
   * manager (pkg/hooks/manager.go, sortCallbacksPerHookPoint) sorts each sidecar's own list of
   * hook points instead of the sidecars, so in practice sidecars run in socket discovery order.
   */
  readonly priority: number;
  readonly plugins: readonly Plugin[];
  readonly env: HookEnv;
  /** Receives every log record; default: one JSON line each on stderr. */
  readonly log?: LogSink;
}

export interface HookServer {
  /** Absolute paths of the bound sockets: the legacy one first. */
  readonly sockets: readonly string[];
  /** Resolves once the server has stopped and its socket files are removed. */
  readonly closed: Promise<void>;
  /** Stops accepting, lets calls in flight finish, removes the sockets; `reason` is logged. */
  shutdown(reason: string): Promise<void>;
}

/** A unary method as calls.ts answers it: request bytes in, response bytes (or an error) out. */
type Answer = (request: Uint8Array) => Promise<CallAnswer | HookCallError>;

interface Method {
  /** Full gRPC path, "/package.Service/Method". */
  readonly path: string;
  readonly answer: Answer;
}

/** Callbacks methods, each with the first version that has it: one implementation for all versions. */
interface Callback {
  readonly name: string;
  readonly since: (typeof CALLBACK_VERSIONS)[number];
  readonly answer: Answer;
}

/** What the server uses of grpc-js. */
interface GrpcServer {
  readonly Server: typeof Grpc.Server;
  readonly ServerCredentials: typeof Grpc.ServerCredentials;
}

/**
 * grpc-js's Server and ServerCredentials from their own modules, not the package's index: the
 * index also loads the whole client stack and sets up its resolvers and load balancers. The
 * server needs one resolver, for the "unix:" addresses it binds (resolver-uds's setup(), which
 * the index would have called). The paths are grpc-js's build layout (the package has no
 * "exports" map; test/hook-server.test.ts serves through them on Node, Bun and Deno). In
 * dist/domsplice, whose build also makes the server modules' links to the client stack lazy
 * (scripts/build-image-artifact.mjs), the client stack is then never loaded: ~1 ms less ready
 * time (bench/probes/ready-builds.ts); elsewhere the server modules still load it.
 */
async function loadGrpcServer(): Promise<GrpcServer> {
  const [{ Server }, { ServerCredentials }, uds] = await Promise.all([
    import("@grpc/grpc-js/build/src/server.js"),
    import("@grpc/grpc-js/build/src/server-credentials.js"),
    import("@grpc/grpc-js/build/src/resolver-uds.js"),
  ]);
  uds.setup();
  return { Server, ServerCredentials };
}

/** Binds the socket(s) and starts serving; rejects with SocketError when a path cannot be used. */
export async function startHookServer(options: HookServerOptions): Promise<HookServer> {
  const grpc = await loadGrpcServer();
  const sink = options.log ?? stderrLog;
  const log = (line: LogLine): void => sink(logRecord(line));
  const setup: HookSetup = { plugins: options.plugins, env: options.env };
  const socket = path.resolve(options.socket);
  const pluginSocket = options.pluginSocket === undefined ? undefined : path.resolve(options.pluginSocket);
  if (pluginSocket === socket) throw new SocketError(socket, "the legacy hook socket and the plugin socket must be different paths");

  // Assigned below; a Shutdown call can arrive while the second socket is still being bound,
  // and is then carried out as soon as the server is up.
  let shutdown: (reason: string) => Promise<void>;

  // Info lists Shutdown too: virt-launcher calls only the hook points Info names, and Shutdown
  // is how it tells the sidecar the VM is gone (as KubeVirt's own passt sidecar does).
  const hookPoints: (HookPointName | "Shutdown")[] = [...subscribedHookPoints(options.plugins), "Shutdown"];
  const infoResponse = InfoResultCodec.encode({
    name: options.name,
    versions: [...CALLBACK_VERSIONS],
    hookPoints: hookPoints.map((name) => ({ name, priority: options.priority })),
  });

  const callbacks: Callback[] = [
    { name: "OnDefineDomain", since: "v1alpha1", answer: (request) => answerOnDefineDomain(setup, request) },
    { name: "PreCloudInitIso", since: "v1alpha2", answer: (request) => answerPreCloudInitIso(setup, request) },
    {
      name: "Shutdown",
      since: "v1alpha3",
      answer: async () => {
        // Answer first; the server then drains (this call included) and closes.
        setImmediate(() => void shutdown("Shutdown call"));
        return { response: ShutdownResultCodec.encode({}), plugins: [] };
      },
    },
  ];
  const legacyMethods: Method[] = [{ path: "/kubevirt.hooks.info.Info/Info", answer: async () => ({ response: infoResponse, plugins: [] }) }];
  for (const version of CALLBACK_VERSIONS) {
    for (const callback of callbacks) {
      if (CALLBACK_VERSIONS.indexOf(callback.since) <= CALLBACK_VERSIONS.indexOf(version)) {
        legacyMethods.push({ path: `/kubevirt.hooks.${version}.Callbacks/${callback.name}`, answer: callback.answer });
      }
    }
  }
  const pluginMethods: Method[] = [
    { path: "/kubevirt.hooks.plugins.v1alpha1.DomainHookService/MutateDomain", answer: (request) => answerMutateDomain(setup, request) },
    { path: "/kubevirt.hooks.plugins.v1alpha1.NodeHookService/ExecuteNodeHook", answer: (request) => answerExecuteNodeHook(setup, request) },
  ];

  let serving = false;
  let requestedBeforeServing: string | undefined;
  const bound: { server: Grpc.Server; file: SocketFile }[] = [];
  const removeSockets = (): void => {
    for (const { file } of bound) removeSocketFile(file);
  };
  // Whatever ends the process (a fatal error included), the socket files do not outlive it.
  process.once("exit", removeSockets);

  let closing: Promise<void> | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  shutdown = (reason) => {
    if (!serving) {
      requestedBeforeServing ??= reason;
      return closed;
    }
    closing ??= (async () => {
      log({ level: "info", msg: "shutting down", reason });
      await Promise.all(bound.map(({ server }) => stopGracefully(server)));
      removeSockets();
      process.removeListener("exit", removeSockets);
      log({ level: "info", msg: "stopped", reason });
      markClosed();
    })();
    return closing;
  };

  try {
    bound.push(await serveOn(grpc, socket, legacyMethods, log));
    if (pluginSocket !== undefined) bound.push(await serveOn(grpc, pluginSocket, pluginMethods, log));
  } catch (error) {
    for (const { server } of bound) server.forceShutdown();
    removeSockets();
    process.removeListener("exit", removeSockets);
    throw error;
  }

  const sockets = bound.map(({ file }) => file.path);
  log({
    level: "info",
    msg: "serving",
    socket,
    ...(pluginSocket === undefined ? {} : { pluginSocket }),
    sockets,
    name: options.name,
    versions: [...CALLBACK_VERSIONS],
    hookPoints,
    priority: options.priority,
    plugins: options.plugins.map((plugin) => plugin.name),
    maxMessageBytes: MAX_MESSAGE_BYTES,
    pid: process.pid,
    // Milliseconds since the runtime started (performance.timeOrigin): the ready time.
    readyMs: Math.round(performance.now() * 10) / 10,
  });
  serving = true;
  if (requestedBeforeServing !== undefined) void shutdown(requestedBeforeServing);
  return { sockets, closed, shutdown: (reason) => shutdown(reason) };
}

/** One grpc-js server bound to one socket, serving `methods`. */
async function serveOn(grpc: GrpcServer, socket: string, methods: readonly Method[], log: (line: LogLine) => void): Promise<{ server: Grpc.Server; file: SocketFile }> {
  await prepareSocketPath(socket);
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    // No channelz service is served, so its per-call and per-session bookkeeping is memory and
    // time for nothing.
    "grpc.enable_channelz": 0,
  });
  const watch = callWatch(log);
  const definition: Record<string, Grpc.MethodDefinition<Buffer, Uint8Array>> = {};
  const implementation: Grpc.UntypedServiceImplementation = {};
  for (const method of methods) {
    const key = method.path;
    definition[key] = {
      path: method.path,
      requestStream: false,
      responseStream: false,
      // Bytes pass through grpc-js untouched; the codec runs in calls.ts.
      requestDeserialize: (bytes: Buffer) => bytes,
      requestSerialize: asBuffer,
      responseSerialize: asBuffer,
      responseDeserialize: (bytes: Buffer) => bytes,
    };
    implementation[key] = unaryHandler(method, log, watch);
  }
  server.addService(definition, implementation);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (error) => {
      if (error) reject(new SocketError(socket, `cannot listen: ${error.message}`));
      else resolve();
    });
  });
  // Calls grpc-js ends before a handler runs are logged too (unanswered.ts).
  watch.watch(server);
  return { server, file: await identifySocketFile(socket) };
}

type Memory = typeof import("./memory.ts");
let memory: Memory | undefined;
let memoryLoading: Promise<Memory> | undefined;

/**
 * memory.ts's collections after a call (collectAfterCall), the module loaded after the first
 * call has been answered rather than at start-up (its node:v8 and node:vm cost Bun ~0.5 ms of
 * the ready time), and out of the answer's way: a turn of the event loop later.
 */
function collectAfterCall(bytes: number): void {
  if (memory !== undefined) return memory.collectAfterCall(bytes);
  memoryLoading ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => import("./memory.ts"));
  void memoryLoading.then((loaded) => {
    memory = loaded;
    loaded.collectAfterCall(bytes);
  });
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Runs one call, answers it, logs it; nothing a call does can throw out of here. */
function unaryHandler(method: Method, log: (line: LogLine) => void, watch: CallWatch): Grpc.handleUnaryCall<Buffer, Uint8Array> {
  const name = method.path.slice(1);
  return (call, callback) => {
    const started = performance.now();
    watch.entered(call.metadata);
    const request = call.request;
    const finish = (outcome: CallAnswer | HookCallError): void => {
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      if (outcome instanceof HookCallError) {
        callback({ code: outcome.code, details: outcome.message } as Grpc.ServiceError);
        log({
          level: "error",
          msg: outcome.message,
          method: name,
          ...(outcome.plugin === undefined ? {} : { plugin: outcome.plugin }),
          bytesIn: request.byteLength,
          bytesOut: 0,
          durationMs,
          code: statusName(outcome.code),
        });
      } else {
        callback(null, outcome.response);
        collectAfterCall(request.byteLength + outcome.response.byteLength);
        log({
          level: "info",
          msg: "call answered",
          method: name,
          ...(outcome.plugins.length === 0 ? {} : { plugin: outcome.plugins.join(",") }),
          bytesIn: request.byteLength,
          bytesOut: outcome.response.byteLength,
          durationMs,
        });
      }
    };
    let pending: Promise<CallAnswer | HookCallError>;
    try {
      pending = method.answer(request);
    } catch (error) {
      pending = Promise.resolve(internalError(error));
    }
    pending.then(finish, (error: unknown) => finish(internalError(error)));
  };
}

function internalError(error: unknown): HookCallError {
  return new HookCallError(StatusCode.INTERNAL, `internal error: ${error instanceof Error ? error.message : String(error)}`);
}

/** tryShutdown (stop accepting, let calls finish), forced after the grace period. */
function stopGracefully(server: Grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, SHUTDOWN_GRACE_MS);
    force.unref?.();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
