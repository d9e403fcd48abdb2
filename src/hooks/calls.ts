// The one code path of a hook call, shared by `domsplice serve` (server.ts) and `domsplice
// hook` (src/cli/hook.ts): check the input (the domain is well-formed per the engine, the VMI
// is a JSON object, parsed once), run the enabled plugins that subscribe to the hook point in
// the order they were chosen, each getting the previous one's output, and hand back the last
// output. Every failure is a HookCallError value with a gRPC status code, never a throw:
//   malformed / empty domain, bad VMI or cloud-init JSON, undecodable message -> INVALID_ARGUMENT
//   a plugin's PluginError                -> FAILED_PRECONDITION "plugin NAME: reason"
//   any other plugin failure or bad output -> INTERNAL "plugin NAME failed: reason"
// The answer* functions add the protobuf decode/encode around it for the gRPC services; the
// server itself only moves bytes.

import { PluginError, type CloudInitResult, type HookEnv, type HookPointName, type InvocationContext, type Plugin } from "../plugins/types.ts";
import { HookCallError, StatusCode } from "./call-error.ts";
import { parseJsonInput } from "./json-input.ts";
import { parseVmi } from "./vmi.ts";
import {
  CodecError,
  ExecuteNodeHookRequestCodec,
  ExecuteNodeHookResponseCodec,
  MutateDomainRequestCodec,
  MutateDomainResponseCodec,
  OnDefineDomainParamsCodec,
  OnDefineDomainResultCodec,
  PreCloudInitIsoParamsCodec,
  PreCloudInitIsoResultCodec,
  type MessageCodec,
} from "./codec.ts";

/**
 * The engine's check, loaded with the first domain call rather than with this module: Info and
 * the sidecar's start need no engine (a plugin that edits domains has loaded it at start-up
 * anyway; with none, the sidecar serves ~0.5 ms sooner).
 */
type Check = (typeof import("../xml/check.ts"))["check"];
let engineCheck: Promise<Check> | undefined;
const loadCheck = (): Promise<Check> => (engineCheck ??= import("../xml/check.ts").then((engine) => engine.check));

/** What every call runs with: the enabled plugins, in the order chosen, and KubeVirt's env. */
export interface HookSetup {
  readonly plugins: readonly Plugin[];
  readonly env: HookEnv;
}

export interface DomainHookInput {
  readonly domainXml: Uint8Array;
  readonly vmiJson: Uint8Array;
  /** Plugin API (MutateDomain) only. */
  readonly invocationContext?: InvocationContext;
}

export interface CloudInitInput {
  readonly cloudInitNoCloudSource: Uint8Array;
  readonly cloudInitData: Uint8Array;
  readonly vmiJson: Uint8Array;
}

/** Names of the plugins that ran, for the call's log line. */
interface Ran {
  readonly plugins: readonly string[];
}

export interface DomainOutcome extends Ran {
  readonly domainXml: Uint8Array;
}

export interface CloudInitOutcome extends Ran, CloudInitResult {}

/** A gRPC call answered: the encoded response message. */
export interface CallAnswer extends Ran {
  readonly response: Uint8Array;
}

/** The hook points the enabled plugins subscribe to, each once, in the order Info lists them. */
export function subscribedHookPoints(plugins: readonly Plugin[]): HookPointName[] {
  const order: HookPointName[] = ["OnDefineDomain", "PreCloudInitIso"];
  return order.filter((point) => plugins.some((plugin) => plugin.hookPoints.includes(point)));
}

// ---------------------------------------------------------------- the shared path

/** OnDefineDomain (Callbacks v1alpha1/2/3), MutateDomain (Plugin API), `domsplice hook --domain`. */
export async function defineDomain(setup: HookSetup, input: DomainHookInput): Promise<DomainOutcome | HookCallError> {
  if (input.domainXml.length === 0) return new HookCallError(StatusCode.INVALID_ARGUMENT, "empty domain XML");
  const check = await loadCheck();
  const malformed = checkDomain(check, input.domainXml);
  if (malformed !== undefined) {
    return new HookCallError(StatusCode.INVALID_ARGUMENT, `malformed domain XML at line ${malformed.line}, column ${malformed.column}: ${malformed.message}`);
  }
  const vmi = parseVmi(input.vmiJson);
  if (vmi instanceof HookCallError) return vmi;

  let domainXml = input.domainXml;
  const ran: string[] = [];
  for (const plugin of setup.plugins) {
    if (!plugin.hookPoints.includes("OnDefineDomain") || plugin.onDefineDomain === undefined) continue;
    ran.push(plugin.name);
    let output: unknown;
    try {
      output = await plugin.onDefineDomain({ domainXml, vmi, vmiJson: input.vmiJson, env: setup.env, invocationContext: input.invocationContext });
    } catch (error) {
      return pluginFailure(plugin, error);
    }
    if (!(output instanceof Uint8Array)) return badOutput(plugin, `returned ${describe(output)} instead of the domain XML bytes`);
    // A plugin edits through the engine, so its output is well-formed by construction; this
    // check keeps a plugin bug from reaching libvirt (unchanged bytes need no second look).
    if (output !== domainXml) {
      if (output.length === 0) return badOutput(plugin, "returned an empty domain XML");
      const broken = checkDomain(check, output);
      if (broken !== undefined) return badOutput(plugin, `returned malformed domain XML at line ${broken.line}, column ${broken.column}: ${broken.message}`);
    }
    domainXml = output;
  }
  return { domainXml, plugins: ran };
}

/**
 * PreCloudInitIso (Callbacks v1alpha2/3), `domsplice hook --cloud-init`. KubeVirt's legacy
 * rules: virt-launcher sends cloudInitData (JSON of its CloudInitData) and, for sidecars that
 * predate it, cloudInitNoCloudSource (JSON of a CloudInitNoCloudSource with the same user and
 * network data); it uses the returned cloudInitData when that has user data, else the returned
 * cloudInitNoCloudSource. So both travel through the plugins and both come back.
 */
export async function prepareCloudInit(setup: HookSetup, input: CloudInitInput): Promise<CloudInitOutcome | HookCallError> {
  for (const [bytes, what] of [
    [input.cloudInitData, "cloudInitData JSON"],
    [input.cloudInitNoCloudSource, "cloudInitNoCloudSource JSON"],
  ] as const) {
    if (bytes.length === 0) continue;
    const parsed = parseJsonInput(bytes, what);
    if (parsed instanceof HookCallError) return parsed;
  }
  const vmi = parseVmi(input.vmiJson);
  if (vmi instanceof HookCallError) return vmi;

  let result: CloudInitResult = { cloudInitNoCloudSource: input.cloudInitNoCloudSource, cloudInitData: input.cloudInitData };
  const ran: string[] = [];
  for (const plugin of setup.plugins) {
    if (!plugin.hookPoints.includes("PreCloudInitIso") || plugin.preCloudInitIso === undefined) continue;
    ran.push(plugin.name);
    let output: unknown;
    try {
      output = await plugin.preCloudInitIso({ ...result, vmi, vmiJson: input.vmiJson, env: setup.env });
    } catch (error) {
      return pluginFailure(plugin, error);
    }
    const fields = output as Partial<CloudInitResult> | null | undefined;
    if (!(fields?.cloudInitData instanceof Uint8Array) || !(fields.cloudInitNoCloudSource instanceof Uint8Array)) {
      return badOutput(plugin, `returned ${describe(output)} instead of { cloudInitNoCloudSource, cloudInitData } bytes`);
    }
    result = { cloudInitNoCloudSource: fields.cloudInitNoCloudSource, cloudInitData: fields.cloudInitData };
  }
  return { ...result, plugins: ran };
}

function checkDomain(check: Check, domainXml: Uint8Array): { line: number; column: number; message: string } | undefined {
  const verdict = check(domainXml);
  return verdict.ok ? undefined : verdict.error;
}

function pluginFailure(plugin: Plugin, error: unknown): HookCallError {
  const reason = error instanceof Error ? error.message : String(error);
  if (error instanceof PluginError) return new HookCallError(StatusCode.FAILED_PRECONDITION, `plugin ${plugin.name}: ${reason}`, plugin.name);
  return new HookCallError(StatusCode.INTERNAL, `plugin ${plugin.name} failed: ${reason}`, plugin.name);
}

function badOutput(plugin: Plugin, what: string): HookCallError {
  return new HookCallError(StatusCode.INTERNAL, `plugin ${plugin.name} failed: it ${what}`, plugin.name);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return "a string";
  if (typeof value !== "object") return `a ${typeof value}`;
  const kind = (value as object).constructor?.name;
  return kind === undefined || kind === "Object" ? "an object" : `a ${kind}`;
}

// ---------------------------------------------------------------- the gRPC messages around it

const INVOCATION_CONTEXTS: readonly InvocationContext[] = ["Boot", "MigrationSource", "MigrationTarget"];

/** The only domain type virt-launcher sends and domsplice mutates. */
export const LIBVIRT_DOMAIN_TYPE = "libvirt";

/** Callbacks.OnDefineDomain, the same for v1alpha1, v1alpha2 and v1alpha3. */
export async function answerOnDefineDomain(setup: HookSetup, request: Uint8Array): Promise<CallAnswer | HookCallError> {
  const params = decode(OnDefineDomainParamsCodec, request, "OnDefineDomainParams");
  if (params instanceof HookCallError) return params;
  const outcome = await defineDomain(setup, { domainXml: params.domainXML, vmiJson: params.vmi });
  if (outcome instanceof HookCallError) return outcome;
  return { response: OnDefineDomainResultCodec.encode({ domainXML: outcome.domainXml }), plugins: outcome.plugins };
}

/** Callbacks.PreCloudInitIso, the same for v1alpha2 and v1alpha3. */
export async function answerPreCloudInitIso(setup: HookSetup, request: Uint8Array): Promise<CallAnswer | HookCallError> {
  const params = decode(PreCloudInitIsoParamsCodec, request, "PreCloudInitIsoParams");
  if (params instanceof HookCallError) return params;
  const outcome = await prepareCloudInit(setup, { cloudInitNoCloudSource: params.cloudInitNoCloudSource, cloudInitData: params.cloudInitData, vmiJson: params.vmi });
  if (outcome instanceof HookCallError) return outcome;
  const response = PreCloudInitIsoResultCodec.encode({ cloudInitNoCloudSource: outcome.cloudInitNoCloudSource, cloudInitData: outcome.cloudInitData });
  return { response, plugins: outcome.plugins };
}

/** DomainHookService.MutateDomain (Plugin API, KubeVirt >= 1.9): OnDefineDomain with a reason. */
export async function answerMutateDomain(setup: HookSetup, request: Uint8Array): Promise<CallAnswer | HookCallError> {
  const params = decode(MutateDomainRequestCodec, request, "MutateDomainRequest");
  if (params instanceof HookCallError) return params;
  if (params.domainType !== LIBVIRT_DOMAIN_TYPE) {
    return new HookCallError(StatusCode.INVALID_ARGUMENT, `unsupported domain_type ${JSON.stringify(params.domainType)}: domsplice mutates "${LIBVIRT_DOMAIN_TYPE}" domains only`);
  }
  const context = params.sidecarContext?.invocationContext ?? "";
  if (!(INVOCATION_CONTEXTS as readonly string[]).includes(context)) {
    return new HookCallError(
      StatusCode.INVALID_ARGUMENT,
      `${context === "" ? "missing" : `unknown`} sidecar_context.invocation_context${context === "" ? "" : ` ${JSON.stringify(context)}`}; expected one of ${INVOCATION_CONTEXTS.join(", ")}`,
    );
  }
  const outcome = await defineDomain(setup, { domainXml: params.domain, vmiJson: params.vmi, invocationContext: context as InvocationContext });
  if (outcome instanceof HookCallError) return outcome;
  return { response: MutateDomainResponseCodec.encode({ domain: outcome.domainXml }), plugins: outcome.plugins };
}

/**
 * NodeHookService.ExecuteNodeHook (Plugin API): node-level lifecycle points no built-in plugin
 * handles yet, so a well-formed request is acknowledged with the (empty) response, which
 * virt-handler takes as success.
 */
export async function answerExecuteNodeHook(_setup: HookSetup, request: Uint8Array): Promise<CallAnswer | HookCallError> {
  const params = decode(ExecuteNodeHookRequestCodec, request, "ExecuteNodeHookRequest");
  if (params instanceof HookCallError) return params;
  return { response: ExecuteNodeHookResponseCodec.encode({}), plugins: [] };
}

function decode<T>(codec: MessageCodec<T>, bytes: Uint8Array, name: string): T | HookCallError {
  try {
    return codec.decode(bytes);
  } catch (error) {
    const reason = error instanceof CodecError || error instanceof Error ? error.message : String(error);
    return new HookCallError(StatusCode.INVALID_ARGUMENT, `undecodable ${name} message: ${reason}`);
  }
}
