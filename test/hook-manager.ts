// virt-launcher's side of a hook sidecar, rebuilt for the end-to-end tests: a gRPC client that
// behaves like KubeVirt's hook manager (pkg/hooks/manager.go) and its v1.9 Plugin API caller,
// plus a raw caller that sends arbitrary bytes, and the sidecar itself started as a real child
// process on Node, Bun or Deno.
//
// Messages are encoded by protobufjs loading proto/*.proto, never by src/hooks/codec.ts: the
// server's hand-written codec and this client are independent implementations of the same
// .proto files, so a call that round-trips proves wire compatibility.
//
// Like virt-launcher, every call dials a new connection (1 s dial timeout) and closes it after.
// grpc-js would otherwise share one connection between clients of the same target (its global
// subchannel pool); `grpc.use_local_subchannel_pool` gives each call its own.
import { Client, Metadata, credentials, status, type ServiceError } from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import http2 from "node:http2";
import net from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newestMtime, nodeCliBundleOptions } from "../scripts/node-bundle.mjs";

export const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

// ---------------------------------------------------------------------------------------------
// The hook API, as protobufjs reads it from proto/

const protoFiles = ["info.proto", "v1alpha1.proto", "v1alpha2.proto", "v1alpha3.proto", "plugins_v1alpha1.proto"];
let hookApi: protobuf.Root | undefined;

/** proto/*.proto loaded once (field names camelCased, as protobufjs does by default). */
function api(): protobuf.Root {
  if (!hookApi) {
    const root = new protobuf.Root();
    root.loadSync(protoFiles.map((file) => path.join(repoRoot, "proto", file)));
    root.resolveAll();
    hookApi = root;
  }
  return hookApi;
}

/** "/kubevirt.hooks.v1alpha3.Callbacks/OnDefineDomain" style paths, from the service definition. */
function method(service: string, name: string): { path: string; request: protobuf.Type; response: protobuf.Type } {
  const rpc = api().lookupService(service).methods[name];
  if (!rpc) throw new Error(`${service} has no method ${name} in proto/`);
  rpc.resolve();
  return { path: `/${service}/${name}`, request: rpc.resolvedRequestType!, response: rpc.resolvedResponseType! };
}

/** A decoded message as plain data: absent fields present with their proto3 defaults. */
function plain(type: protobuf.Type, bytes: Buffer): Record<string, any> {
  return type.toObject(type.decode(bytes), { defaults: true, arrays: true });
}

// ---------------------------------------------------------------------------------------------
// One unary call on one fresh connection

export interface CallTiming {
  /** How long to wait for the connection (virt-launcher: DialSocketWithTimeout(path, 1) = 1 s). */
  readonly dialMs: number;
  /** Deadline of the call itself (virt-launcher: 1 s for Info, 1 min for callbacks). */
  readonly callMs: number;
}

const callbackTiming: CallTiming = { dialMs: 1_000, callMs: 60_000 };
const infoTiming: CallTiming = { dialMs: 1_000, callMs: 1_000 };

/** The connection could not be made in time: virt-launcher treats the sidecar as not ready yet. */
export class DialError extends Error {
  override readonly name = "DialError";
}

const channelOptions = {
  "grpc.use_local_subchannel_pool": 1,
  // Replies may be as big as the server's own 16 MiB limit; grpc-js's default is 4 MiB.
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": -1,
};

/**
 * Dials `socketPath`, makes one unary call with the given (de)serializers and closes the
 * connection. Rejects with DialError when no connection came up within timing.dialMs, or with
 * grpc-js's ServiceError (code, details) when the server answered with a status.
 */
async function unaryCall<Request, Response>(
  socketPath: string,
  methodPath: string,
  serialize: (value: Request) => Buffer,
  deserialize: (bytes: Buffer) => Response,
  request: Request,
  timing: CallTiming,
): Promise<Response> {
  const client = new Client(`unix:${socketPath}`, credentials.createInsecure(), channelOptions);
  try {
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(Date.now() + timing.dialMs, (error) =>
        error ? reject(new DialError(`dialing ${socketPath}: ${error.message}`)) : resolve(),
      ),
    );
    return await new Promise<Response>((resolve, reject) =>
      client.makeUnaryRequest(methodPath, serialize, deserialize, request, new Metadata(), { deadline: Date.now() + timing.callMs }, (error, value) =>
        error ? reject(error) : resolve(value as Response),
      ),
    );
  } finally {
    client.close();
  }
}

/** A call with messages encoded and decoded by protobufjs from proto/. */
async function protoCall(socketPath: string, service: string, name: string, request: object, timing = callbackTiming): Promise<Record<string, any>> {
  const rpc = method(service, name);
  const error = rpc.request.verify(request);
  if (error) throw new Error(`${service}/${name}: bad request in the test itself: ${error}`);
  return unaryCall(
    socketPath,
    rpc.path,
    (message: object) => Buffer.from(rpc.request.encode(rpc.request.fromObject(message)).finish()),
    (bytes) => plain(rpc.response, bytes),
    request,
    timing,
  );
}

/**
 * Sends `bytes` as the request message of `methodPath` exactly as given (undecodable protobuf,
 * oversized messages) and returns the reply's raw bytes.
 */
export function rawCall(socketPath: string, methodPath: string, bytes: Uint8Array, timing = callbackTiming): Promise<Uint8Array> {
  return unaryCall(
    socketPath,
    methodPath,
    (message: Uint8Array) => Buffer.from(message.buffer, message.byteOffset, message.byteLength),
    (reply) => new Uint8Array(reply),
    bytes,
    timing,
  );
}

/** Encodes a message with protobufjs (e.g. to build a raw request and then damage it). */
export function encodeRequest(service: string, name: string, request: object): Uint8Array {
  const rpc = method(service, name);
  return rpc.request.encode(rpc.request.fromObject(request)).finish();
}

/** True when `error` is the status grpc-js reports for a call answered with a status. */
export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as ServiceError).code === "number" && "details" in error;
}

/** "INVALID_ARGUMENT" for 3 and so on, for readable assertion messages. */
export function statusName(code: number): string {
  return (status as unknown as Record<number, string>)[code] ?? String(code);
}

// ---------------------------------------------------------------------------------------------
// The legacy hook API: Info + Callbacks v1alpha1/2/3

export type CallbacksVersion = "v1alpha1" | "v1alpha2" | "v1alpha3";

/** Newest first: virt-launcher uses the first of these that a sidecar lists in Info. */
export const supportedVersions: readonly CallbacksVersion[] = ["v1alpha3", "v1alpha2", "v1alpha1"];

export interface HookPoint {
  readonly name: string;
  readonly priority: number;
}

export interface SidecarInfo {
  readonly name: string;
  readonly hookPoints: readonly HookPoint[];
  readonly versions: readonly string[];
}

export async function callInfo(socketPath: string, timing: CallTiming = infoTiming): Promise<SidecarInfo> {
  const result = await protoCall(socketPath, "kubevirt.hooks.info.Info", "Info", {}, timing);
  return {
    name: result.name,
    versions: result.versions,
    hookPoints: result.hookPoints.map((point: any) => ({ name: point.name, priority: point.priority })),
  };
}

const callbacksService = (version: CallbacksVersion) => `kubevirt.hooks.${version}.Callbacks`;

export async function callOnDefineDomain(socketPath: string, version: CallbacksVersion, domainXml: Uint8Array, vmiJson: Uint8Array): Promise<Uint8Array> {
  const result = await protoCall(socketPath, callbacksService(version), "OnDefineDomain", { domainXML: domainXml, vmi: vmiJson });
  return new Uint8Array(result.domainXML);
}

export interface PreCloudInitIsoMessage {
  readonly cloudInitNoCloudSource: Uint8Array;
  readonly cloudInitData: Uint8Array;
}

export async function callPreCloudInitIso(
  socketPath: string,
  version: CallbacksVersion,
  params: PreCloudInitIsoMessage & { readonly vmi: Uint8Array },
): Promise<PreCloudInitIsoMessage> {
  const result = await protoCall(socketPath, callbacksService(version), "PreCloudInitIso", params);
  return { cloudInitNoCloudSource: new Uint8Array(result.cloudInitNoCloudSource), cloudInitData: new Uint8Array(result.cloudInitData) };
}

export async function callShutdown(socketPath: string): Promise<void> {
  await protoCall(socketPath, callbacksService("v1alpha3"), "Shutdown", {});
}

/**
 * KubeVirt's CloudInitData as virt-launcher marshals it for PreCloudInitIso (a Go struct
 * without json tags, so the keys are the Go field names).
 */
export interface CloudInitData {
  readonly DataSource: string;
  readonly NoCloudMetaData?: Record<string, unknown> | null;
  readonly ConfigDriveMetaData?: Record<string, unknown> | null;
  readonly UserData: string;
  readonly NetworkData: string;
  readonly DevicesData?: unknown;
  readonly VolumeName?: string;
}

export interface Sidecar {
  readonly socketPath: string;
  readonly version: CallbacksVersion;
  readonly info: SidecarInfo;
}

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/**
 * virt-launcher's hook manager: collects the sidecars from the socket directory, then runs each
 * hook point through them in order. Behaviour as in KubeVirt's pkg/hooks/manager.go, with the
 * ordering it means to have (priority, higher first, then name).
 */
export class HookManager {
  /** Per hook point, the sidecars subscribed to it, in calling order. */
  readonly callbacksPerHookPoint = new Map<string, Sidecar[]>();

  constructor(
    readonly socketDirectory: string,
    /** How often the directory is listed again while sidecars are missing (300 ms since 1.7). */
    readonly scanIntervalMs = 300,
  ) {}

  /**
   * Lists the socket directory until `expected` sidecars answered Info, or fails after
   * `timeoutMs`. A socket that does not accept a connection yet is retried on the next scan; a
   * sidecar that answers Info without a version we support fails the whole collection.
   */
  async collect(expected: number, timeoutMs: number): Promise<Sidecar[]> {
    const giveUpAt = Date.now() + timeoutMs;
    const processed = new Map<string, Sidecar>();
    while (processed.size < expected) {
      for (const socketPath of this.listSockets()) {
        if (Date.now() > giveUpAt) throw new Error(`hook manager: ${processed.size} of ${expected} sidecars found in ${this.socketDirectory} within ${timeoutMs} ms`);
        if (processed.has(socketPath)) continue;
        let info: SidecarInfo;
        try {
          info = await callInfo(socketPath);
        } catch (error) {
          if (error instanceof DialError) continue; // not ready yet: next scan
          throw error;
        }
        const version = supportedVersions.find((v) => info.versions.includes(v));
        if (!version) {
          throw new Error(`hook sidecar ${socketPath} exposes no supported version: exposed ${JSON.stringify(info.versions)}, supported ${JSON.stringify(supportedVersions)}`);
        }
        processed.set(socketPath, { socketPath, version, info });
      }
      if (processed.size >= expected) break;
      if (Date.now() > giveUpAt) throw new Error(`hook manager: ${processed.size} of ${expected} sidecars found in ${this.socketDirectory} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, this.scanIntervalMs));
    }
    this.callbacksPerHookPoint.clear();
    for (const sidecar of processed.values()) {
      for (const point of sidecar.info.hookPoints) {
        const list = this.callbacksPerHookPoint.get(point.name) ?? [];
        list.push(sidecar);
        this.callbacksPerHookPoint.set(point.name, list);
      }
    }
    for (const [pointName, sidecars] of this.callbacksPerHookPoint) {
      const priority = (s: Sidecar) => s.info.hookPoints.find((p) => p.name === pointName)!.priority;
      sidecars.sort((a, b) => priority(b) - priority(a) || (a.info.name < b.info.name ? -1 : a.info.name > b.info.name ? 1 : 0));
    }
    return [...processed.values()];
  }

  /**
   * Sockets in the directory, and one level down: a sidecar mounts its own directory, which
   * virt-launcher sees as a subdirectory of the shared one.
   */
  private listSockets(): string[] {
    const sockets: string[] = [];
    for (const entry of readdirSync(this.socketDirectory, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(this.socketDirectory, entry.name);
      if (entry.isSocket()) sockets.push(full);
      else if (entry.isDirectory()) {
        for (const inner of readdirSync(full, { withFileTypes: true })) if (inner.isSocket()) sockets.push(path.join(full, inner.name));
      }
    }
    return sockets;
  }

  /** Chains the domain through every OnDefineDomain sidecar; each gets the previous output. */
  async onDefineDomain(domainXml: Uint8Array, vmiJson: Uint8Array): Promise<Uint8Array> {
    let domain = domainXml;
    for (const sidecar of this.callbacksPerHookPoint.get("OnDefineDomain") ?? []) {
      domain = await callOnDefineDomain(sidecar.socketPath, sidecar.version, domain, vmiJson);
    }
    return domain;
  }

  /**
   * KubeVirt's legacy rules: send CloudInitData and, for sidecars that still work on it, the
   * CloudInitNoCloudSource built from its user and network data; use the FIRST v1alpha2/3
   * sidecar's answer only. Its cloudInitData wins when it is valid (user data and metadata);
   * otherwise its cloudInitNoCloudSource's user and network data, with the original data source.
   */
  async preCloudInitIso(vmiJson: Uint8Array, cloudInitData: CloudInitData): Promise<CloudInitData> {
    const noCloudSource: Record<string, string> = {};
    if (cloudInitData.UserData) noCloudSource.userData = cloudInitData.UserData;
    if (cloudInitData.NetworkData) noCloudSource.networkData = cloudInitData.NetworkData;
    for (const sidecar of this.callbacksPerHookPoint.get("PreCloudInitIso") ?? []) {
      if (sidecar.version === "v1alpha1") continue; // v1alpha1 has no PreCloudInitIso
      const result = await callPreCloudInitIso(sidecar.socketPath, sidecar.version, {
        cloudInitData: utf8.encode(JSON.stringify(cloudInitData)),
        cloudInitNoCloudSource: utf8.encode(JSON.stringify(noCloudSource)),
        vmi: vmiJson,
      });
      return cloudInitDataFromResult(cloudInitData.DataSource, result);
    }
    return cloudInitData;
  }

  /** Tells every sidecar subscribed to Shutdown (v1alpha3 only) to stop. */
  async shutdown(): Promise<void> {
    for (const sidecar of this.callbacksPerHookPoint.get("Shutdown") ?? []) {
      if (sidecar.version === "v1alpha3") await callShutdown(sidecar.socketPath);
    }
  }
}

/**
 * What virt-launcher makes of a PreCloudInitIso answer. Like Go's json.Unmarshal, empty or
 * invalid JSON in cloudInitData is an error (the call fails), so a sidecar must send it back.
 */
export function cloudInitDataFromResult(dataSource: string, result: PreCloudInitIsoMessage): CloudInitData {
  const data = JSON.parse(text(result.cloudInitData)) as CloudInitData | null;
  if (data && data.UserData && (data.NoCloudMetaData != null || data.ConfigDriveMetaData != null)) return data;
  const source = JSON.parse(text(result.cloudInitNoCloudSource)) as { userData?: string; networkData?: string } | null;
  return { DataSource: dataSource, UserData: source?.userData ?? "", NetworkData: source?.networkData ?? "" };
}

// ---------------------------------------------------------------------------------------------
// The v1.9 Plugin API (kubevirt.hooks.plugins.v1alpha1)

export type InvocationContext = "Boot" | "MigrationSource" | "MigrationTarget";

export const domainHookService = "kubevirt.hooks.plugins.v1alpha1.DomainHookService";

/**
 * virt-launcher's MutateDomain call (pkg/virt-launcher/.../plugins): domain_type "libvirt", the
 * domain, the VMI JSON and always a sidecar_context saying why; 5 s to dial, 30 s per call.
 */
export async function callMutateDomain(
  socketPath: string,
  request: { readonly domain: Uint8Array; readonly vmi: Uint8Array; readonly invocationContext?: InvocationContext; readonly domainType?: string },
): Promise<Uint8Array> {
  const message: Record<string, unknown> = { domainType: request.domainType ?? "libvirt", domain: request.domain, vmi: request.vmi };
  if (request.invocationContext !== undefined) message.sidecarContext = { invocationContext: request.invocationContext };
  const result = await protoCall(socketPath, domainHookService, "MutateDomain", message, { dialMs: 5_000, callMs: 30_000 });
  return new Uint8Array(result.domain);
}

/** virt-handler's node hook call (Plugin API NodeHookService); resolves when acknowledged. */
export async function callExecuteNodeHook(socketPath: string, request: { readonly hookPoint: string; readonly vmi: Uint8Array; readonly nodeName: string }): Promise<void> {
  await protoCall(socketPath, "kubevirt.hooks.plugins.v1alpha1.NodeHookService", "ExecuteNodeHook", {
    hookPoint: request.hookPoint,
    vmi: request.vmi,
    nodeContext: { nodeName: request.nodeName },
  }, { dialMs: 5_000, callMs: 30_000 });
}

// ---------------------------------------------------------------------------------------------
// Test data virt-launcher would send

/**
 * A VMI as virt-launcher sends it (Go json.Marshal of v1.VirtualMachineInstance: compact, keys
 * in struct order, server-filled metadata and status), for the VMI behind the corpus's
 * kubevirt/domain.xml (mynamespace/testvmi, uid e4686d2c-...). The corpus has no VMI JSON.
 */
export const vmiJson: string = JSON.stringify({
  kind: "VirtualMachineInstance",
  apiVersion: "kubevirt.io/v1",
  metadata: {
    name: "testvmi",
    namespace: "mynamespace",
    uid: "e4686d2c-6e8d-4335-b8fd-81bee22f4814",
    resourceVersion: "48213",
    generation: 9,
    creationTimestamp: "2026-11-20T10:12:44Z",
    labels: { "kubevirt.io/nodeName": "node01", special: "vmi-masquerade" },
    annotations: {
      "hooks.kubevirt.io/hookSidecars": '[{"image":"registry:5000/domsplice:devel","args":["serve","--plugin","identity"]}]',
      "kubevirt.io/latest-observed-api-version": "v1",
      "kubevirt.io/storage-observed-api-version": "v1",
    },
    finalizers: ["kubevirt.io/virtualMachineControllerFinalize", "foregroundDeleteVirtualMachine"],
  },
  spec: {
    domain: {
      resources: { requests: { memory: "8Mi" } },
      cpu: { cores: 1, sockets: 1, threads: 1, model: "host-model" },
      machine: { type: "q35" },
      firmware: { uuid: "e4686d2c-6e8d-4335-b8fd-81bee22f4814", serial: "e4686d2c-6e8d-4335-b8fd-81bee22f4815" },
      features: { acpi: { enabled: true } },
      devices: {
        disks: [
          { name: "containerdisk", disk: { bus: "virtio" } },
          { name: "cloudinitdisk", disk: { bus: "virtio" } },
        ],
        interfaces: [{ name: "default", masquerade: {}, ports: [{ name: "http", protocol: "TCP", port: 80 }] }],
        rng: {},
      },
    },
    terminationGracePeriodSeconds: 0,
    volumes: [
      { name: "containerdisk", containerDisk: { image: "registry:5000/kubevirt/fedora-cloud-container-disk-demo:devel", imagePullPolicy: "IfNotPresent" } },
      { name: "cloudinitdisk", cloudInitNoCloud: { userData: '#!/bin/bash\necho "fedora" |passwd fedora --stdin\n' } },
    ],
    networks: [{ name: "default", pod: {} }],
    architecture: "amd64",
  },
  status: {
    nodeName: "node01",
    phase: "Scheduled",
    interfaces: [{ name: "default", mac: "02:7e:2c:00:00:01", podInterfaceName: "eth0", infoSource: "domain" }],
    guestOSInfo: {},
    qosClass: "Burstable",
    launcherContainerImageVersion: "quay.io/kubevirt/virt-launcher:v1.9.0",
    activePods: { "6f3c9a2e-3b41-4d6a-9d0f-0a8e6a1d2c55": "node01" },
    currentCPUTopology: { cores: 1, sockets: 1, threads: 1 },
    memory: { guestAtBoot: "8Mi", guestCurrent: "8Mi", guestRequested: "8Mi" },
  },
});

/**
 * That VMI with its pod interface bound to a network binding plugin (`binding: {name}` in place
 * of masquerade), and `annotations` added, as virt-launcher sends it for a VM using the binding.
 */
export function vmiJsonBoundTo(bindingName: string, annotations: Readonly<Record<string, string>> = {}): string {
  const vmi = JSON.parse(vmiJson);
  const [iface] = vmi.spec.domain.devices.interfaces;
  delete iface.masquerade;
  iface.binding = { name: bindingName };
  Object.assign(vmi.metadata.annotations, annotations);
  return JSON.stringify(vmi);
}

/** The CloudInitData virt-launcher reads from that VMI's cloudinitdisk volume. */
export const cloudInitData: CloudInitData = {
  DataSource: "noCloud",
  NoCloudMetaData: { "instance-id": "e4686d2c-6e8d-4335-b8fd-81bee22f4814", "local-hostname": "testvmi" },
  ConfigDriveMetaData: null,
  UserData: '#!/bin/bash\necho "fedora" |passwd fedora --stdin\n',
  NetworkData: "",
  DevicesData: null,
  VolumeName: "cloudinitdisk",
};

// ---------------------------------------------------------------------------------------------
// The sidecar under test, as a child process

export type Runtime = "node" | "bun" | "deno";
export const runtimes: readonly Runtime[] = ["node", "bun", "deno"];
/**
 * A runtime, or "artifact": dist/domsplice, the executable the image ships, started from a
 * directory outside the checkout with no node_modules on PATH (ensureArtifact builds it).
 */
export type SidecarRuntime = Runtime | "artifact";

/** dist/domsplice: the executable scripts/build-image-artifact.mjs builds and the image ships. */
export const artifactPath = path.join(repoRoot, "dist", "domsplice");

/**
 * Node runs bin/domsplice (the esbuild bundle); Bun and Deno run the same TypeScript source; the
 * artifact is one executable.
 */
function serveCommand(runtime: SidecarRuntime, args: readonly string[]): { command: string; args: string[] } {
  const dotBin = (name: string) => path.join(repoRoot, "node_modules", ".bin", name);
  switch (runtime) {
    case "artifact":
      return { command: artifactPath, args: ["serve", ...args] };
    case "node":
      return { command: path.join(repoRoot, "bin", "domsplice"), args: ["serve", ...args] };
    case "bun":
      return { command: dotBin("bun"), args: ["src/cli.ts", "serve", ...args] };
    case "deno":
      return { command: dotBin("deno"), args: ["run", "-A", "src/cli.ts", "serve", ...args] };
  }
}

/**
 * bin/domsplice runs dist/cli.js (serve comes from its chunks): rebuild them as scripts/build.mjs
 * does when missing or older than src/, so Node tests the code in the checkout, not a stale bundle.
 */
export async function ensureNodeBundle(): Promise<void> {
  const bundle = path.join(repoRoot, "dist", "cli.js");
  if (!existsSync(path.join(repoRoot, "src", "xml", "kernel.wasm.generated.ts"))) {
    const build = spawnSync("npm", ["run", "build"], { cwd: repoRoot, encoding: "utf8" });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
  } else if (!existsSync(bundle) || statSync(bundle).mtimeMs < newestMtime(path.join(repoRoot, "src"))) {
    const { build } = await import("esbuild");
    await build({ absWorkingDir: repoRoot, entryPoints: { cli: "src/cli.ts" }, outdir: "dist", ...nodeCliBundleOptions });
  }
}

/**
 * dist/domsplice is rebuilt (npm run build:image-artifact) when missing or older than src/, so
 * the artifact tests run the code in the checkout.
 */
export function ensureArtifact(): void {
  const built = () => statSync(artifactPath, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  const fresh = () =>
    built() >= newestMtime(path.join(repoRoot, "src")) && built() >= statSync(path.join(repoRoot, "scripts", "build-image-artifact.mjs")).mtimeMs;
  if (fresh()) return;
  // Test files run in parallel processes: one builds while the others wait, then find it fresh.
  const lock = `${artifactPath}.build-lock`;
  mkdirSync(path.dirname(lock), { recursive: true });
  const giveUpAt = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true }); // left by a dead build
      if (Date.now() > giveUpAt) throw new Error(`ensureArtifact: ${lock} is still held after 180 s`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (fresh()) return;
    const build = spawnSync("npm", ["run", "build:image-artifact"], { cwd: repoRoot, encoding: "utf8" });
    if (build.status !== 0) throw new Error(`npm run build:image-artifact failed:\n${build.stdout}\n${build.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SidecarProcess {
  readonly runtime: SidecarRuntime;
  readonly child: ChildProcess;
  /** Scratch directory holding hooks/ and plugin/; removed by stop() unless it was reused. */
  readonly dir: string;
  /** The legacy hook socket: <dir>/hooks/domsplice.sock. */
  readonly socket: string;
  /** The Plugin API socket: <dir>/plugin/domsplice.sock. */
  readonly pluginSocket: string;
  /** The "serving" log line. */
  readonly serving: Record<string, unknown>;
  /** Every stderr line so far that parsed as JSON, in order. */
  readonly logs: Record<string, unknown>[];
  /** Everything written to stderr so far. */
  stderr(): string;
  readonly exited: Promise<Exit>;
  /** Still running? */
  alive(): boolean;
  /** Kills the process if it still runs and removes the scratch directory. */
  stop(): Promise<void>;
}

/** A scratch directory with hooks/ and plugin/ in it, as a pod's two socket mounts. */
export function socketScratch(runtime: SidecarRuntime): { dir: string; socket: string; pluginSocket: string } {
  const dir = mkdtempSync(path.join(tmpdir(), `domsplice-e2e-${runtime}-`));
  mkdirSync(path.join(dir, "hooks"));
  mkdirSync(path.join(dir, "plugin"));
  return { dir, socket: path.join(dir, "hooks", "domsplice.sock"), pluginSocket: path.join(dir, "plugin", "domsplice.sock") };
}

/** The plugins a test sidecar runs unless it names its own: identity, which changes nothing. */
const defaultPlugins: readonly string[] = ["identity"];

const serveArgs = (socket: string, pluginSocket: string, extraArgs: readonly string[], plugins: readonly string[] = defaultPlugins) => [
  ...plugins.flatMap((name) => ["--plugin", name]),
  "--socket",
  socket,
  "--plugin-socket",
  pluginSocket,
  ...extraArgs,
];

/** How a test sidecar starts, beyond its args: its --plugin list and its environment. */
export interface SidecarStart {
  /** The --plugin options, in that order (default: identity alone; [] for none). */
  readonly plugins?: readonly string[];
  /** Set (or, with undefined, remove) these variables in the sidecar's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The sidecar's environment and working directory. The artifact gets a PATH without
 * node_modules and starts in `dir` (outside the checkout), as in its image.
 */
function serveEnv(runtime: SidecarRuntime = "node", env: SidecarStart["env"] = {}, dir = repoRoot): { env: NodeJS.ProcessEnv; cwd: string } {
  const merged: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CONTAINER_NAME: "hook-sidecar-0" };
  if (runtime === "artifact") {
    merged.PATH = (merged.PATH ?? "")
      .split(path.delimiter)
      .filter((entry) => entry !== "" && !entry.split(path.sep).includes("node_modules"))
      .join(path.delimiter);
  }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete merged[name];
    else merged[name] = value;
  }
  return { env: merged, cwd: runtime === "artifact" ? dir : repoRoot };
}

/**
 * Runs a `serve` that is expected to give up at start (exit status and stderr), e.g. on a socket
 * path it cannot use; killed after `timeoutMs` if it serves after all.
 */
export function serveExpectingRefusal(
  runtime: SidecarRuntime,
  socket: string,
  pluginSocket: string,
  extraArgs: readonly string[] = [],
  timeoutMs = 10_000,
  start: SidecarStart = {},
): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const { command, args } = serveCommand(runtime, serveArgs(socket, pluginSocket, extraArgs, start.plugins));
  const { env, cwd } = serveEnv(runtime, start.env, path.dirname(path.dirname(socket)));
  const run = spawnSync(command, args, { cwd, env, encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
  if (run.error && (run.error as NodeJS.ErrnoException).code !== "ETIMEDOUT") throw run.error;
  return { status: run.status, signal: run.signal, stderr: run.stderr };
}

/**
 * Starts `domsplice serve --plugin identity --socket <dir>/hooks/domsplice.sock --plugin-socket
 * <dir>/plugin/domsplice.sock [extra]` on `runtime` and resolves once it logged "msg":"serving"
 * (rejects with its stderr if it exits or stays silent for `readyMs`). With `reuse`, it serves on
 * that scratch directory's paths (which stop() then leaves in place) instead of a new one. With
 * `plugins`, those are the --plugin options, in that order, instead of identity alone.
 */
export async function startSidecar(
  runtime: SidecarRuntime,
  extraArgs: readonly string[] = [],
  options: { readonly reuse?: { dir: string; socket: string; pluginSocket: string }; readonly readyMs?: number } & SidecarStart = {},
): Promise<SidecarProcess> {
  const readyMs = options.readyMs ?? 20_000;
  const { dir, socket, pluginSocket } = options.reuse ?? socketScratch(runtime);
  const { command, args } = serveCommand(runtime, serveArgs(socket, pluginSocket, extraArgs, options.plugins));
  const { env, cwd } = serveEnv(runtime, options.env, dir);
  const child = spawn(command, args, { cwd, stdio: ["ignore", "ignore", "pipe"], env });
  let stderrText = "";
  let pending = "";
  const logs: Record<string, unknown>[] = [];
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) =>
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  let onServing: ((line: Record<string, unknown>) => void) | undefined;
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderrText += chunk;
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      if (parsed && typeof parsed === "object") {
        logs.push(parsed as Record<string, unknown>);
        if ((parsed as Record<string, unknown>).msg === "serving") onServing?.(parsed as Record<string, unknown>);
      }
    }
  });
  const stop = async () => {
    if (!exit) {
      child.kill("SIGKILL");
      await exited;
    }
    if (!options.reuse) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const serving = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${runtime}: no "msg":"serving" log line within ${readyMs} ms; stderr:\n${stderrText}`)), readyMs);
      onServing = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      void exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`${runtime}: exited (code ${e.code}, signal ${e.signal}) before serving; stderr:\n${stderrText}`));
      });
    });
    return {
      runtime,
      child,
      dir,
      socket,
      pluginSocket,
      serving,
      logs,
      stderr: () => stderrText,
      exited,
      alive: () => exit === undefined,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Entries of a directory, for "the socket is gone" assertions. */
export function listDirectory(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

// ---------------------------------------------------------------------------------------------
// A call held in flight: raw HTTP/2, so the test decides when the request body is complete

export interface HeldCall {
  /** Sends the rest of the request; the server can answer only after this. */
  finish(): void;
  /** Drops the connection with the request half sent, as a caller that gives up or dies does. */
  hangUp(): void;
  /** grpc-status and grpc-message from the trailers, and the reply message (unframed). */
  readonly reply: Promise<{ grpcStatus: number; grpcMessage: string; message: Uint8Array }>;
}

/**
 * Opens a gRPC call on a new connection and sends its headers and the first half of the framed
 * request, then waits until those bytes are written: the call is in flight on the server, which
 * cannot answer before finish() sends the rest. `headers` adds to the call's, e.g. a grpc-timeout.
 * `reply` rejects if no answer came within `replyMs` after the call was opened.
 */
export async function holdCall(
  socketPath: string,
  methodPath: string,
  requestMessage: Uint8Array,
  headers: http2.OutgoingHttpHeaders = {},
  replyMs = 15_000,
): Promise<HeldCall> {
  const framed = new Uint8Array(5 + requestMessage.byteLength);
  new DataView(framed.buffer).setUint32(1, requestMessage.byteLength); // byte 0: not compressed
  framed.set(requestMessage, 5);
  const split = Math.max(6, framed.byteLength >> 1);
  const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) });
  session.on("error", () => {}); // reported through the stream
  const stream = session.request({ ":method": "POST", ":path": methodPath, "content-type": "application/grpc", te: "trailers", ...headers });
  const chunks: Buffer[] = [];
  const reply = new Promise<{ grpcStatus: number; grpcMessage: string; message: Uint8Array }>((resolve, reject) => {
    let headerStatus: string | undefined;
    let headerMessage = "";
    stream.on("response", (headers) => {
      // A trailers-only answer carries grpc-status in the response headers.
      if (headers["grpc-status"] !== undefined) {
        headerStatus = String(headers["grpc-status"]);
        headerMessage = decodeURIComponent(String(headers["grpc-message"] ?? ""));
      }
    });
    let trailerStatus: string | undefined;
    let trailerMessage = "";
    stream.on("trailers", (trailers) => {
      trailerStatus = String(trailers["grpc-status"]);
      trailerMessage = decodeURIComponent(String(trailers["grpc-message"] ?? ""));
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", reject);
    // The answer is complete when the server ends its side (trailers carry END_STREAM), even if
    // this side is still open: a server may answer (e.g. DEADLINE_EXCEEDED) before the request ends.
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const grpcStatus = trailerStatus ?? headerStatus;
      if (grpcStatus === undefined) return reject(new Error(`no grpc-status on ${methodPath} (stream closed with code ${stream.rstCode})`));
      const body = Buffer.concat(chunks);
      resolve({ grpcStatus: Number(grpcStatus), grpcMessage: trailerStatus !== undefined ? trailerMessage : headerMessage, message: new Uint8Array(body.subarray(5)) });
    };
    stream.on("end", settle);
    stream.on("close", () => {
      session.close();
      settle();
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      session.destroy();
      reject(new Error(`no answer to the held ${methodPath} within ${replyMs} ms`));
    }, replyMs);
  });
  reply.catch(() => {}); // awaited by the caller
  await new Promise<void>((resolve, reject) => stream.write(framed.subarray(0, split), (error) => (error ? reject(error) : resolve())));
  return {
    finish: () => stream.end(framed.subarray(split)),
    hangUp: () => session.destroy(),
    reply,
  };
}

/** Decodes a reply message of `service`/`name` with protobufjs. */
export function decodeReply(service: string, name: string, bytes: Uint8Array): Record<string, any> {
  return plain(method(service, name).response, Buffer.from(bytes));
}
