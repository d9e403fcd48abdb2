// `domsplice hook`: one hook call from the command line, through exactly the functions
// `domsplice serve` answers gRPC calls with (src/hooks/calls.ts), minus the protobuf. Its
// arguments and output follow KubeVirt's sidecar-shim exec protocol, so a one-line wrapper
// script named onDefineDomain or preCloudInitIso makes it a sidecar-shim hook:
//   onDefineDomain  --vmi JSON --domain XML      -> the new domain XML on stdout
//   preCloudInitIso --vmi JSON --cloud-init JSON -> the new CloudInitData JSON on stdout
// Loaded only when `hook` is asked for; it never loads grpc-js.

import process from "node:process";
import { Buffer } from "node:buffer";
import { HookCallError, StatusCode, statusName } from "../hooks/call-error.ts";
import { defineDomain, prepareCloudInit, type HookSetup } from "../hooks/calls.ts";
import { readHookEnv } from "../hooks/env.ts";
import { knownPluginNames, loadPlugins, UnknownPluginError } from "../plugins/registry.ts";
import { PluginOptionError, pluginOptions } from "../plugins/options.ts";
import { PluginError } from "../plugins/types.ts";
import { readInputFile, writeStdout } from "./files.ts";
import { EXIT_BAD_INPUT, EXIT_BUG, EXIT_OK, parseCommandArgs, printError, UsageError } from "./usage.ts";

export const HOOK_HELP = `Usage: domsplice hook --plugin NAME [--plugin NAME]... --vmi FILE|JSON --domain FILE|XML
       domsplice hook --plugin NAME [--plugin NAME]... --vmi FILE|JSON --cloud-init FILE|JSON

Runs one hook call the way 'domsplice serve' runs it: the domain must be well-formed, the VMI
a JSON object; the plugins run in the order given, each getting the previous one's output.
  --domain       OnDefineDomain: prints the new domain XML (exact bytes) on stdout
  --cloud-init   PreCloudInitIso: the JSON is KubeVirt's CloudInitData (as sidecar-shim passes
                 it to preCloudInitIso); prints the new CloudInitData JSON on stdout

Each of --vmi, --domain and --cloud-init takes the content itself or a file: a value that
starts with '{' (--vmi, --cloud-init) or '<' (--domain), after any whitespace, is the content;
anything else is read as a file path.

Options:
  --plugin NAME          the plugin to run (repeatable; known: ${knownPluginNames().join(", ")})
  --option KEY=VALUE     a plugin setting (repeatable), as for serve; else DOMSPLICE_<KEY>
  --vmi FILE|JSON        the VirtualMachineInstance, JSON
  --domain FILE|XML      the libvirt domain XML
  --cloud-init FILE|JSON the CloudInitData JSON
  -h, --help             show this help

Environment passed to plugins: NETWORK_BINDING_PLUGIN_NAME, CONTAINER_NAME.
Exit status: 0 success; 2 for bad input (malformed XML as line:col, bad JSON, a plugin's
refusal), with one line on stderr; 1 when a plugin fails unexpectedly.
`;

export async function runHook(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    "hook",
    args,
    {
      plugin: { type: "string", multiple: true },
      option: { type: "string", multiple: true },
      vmi: { type: "string" },
      domain: { type: "string" },
      "cloud-init": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(HOOK_HELP);
    return EXIT_OK;
  }
  const pluginNames = (values.plugin as string[] | undefined) ?? [];
  const vmiArg = values.vmi as string | undefined;
  const domainArg = values.domain as string | undefined;
  const cloudInitArg = values["cloud-init"] as string | undefined;
  if (pluginNames.length === 0) throw new UsageError(`missing --plugin NAME (known: ${knownPluginNames().join(", ")})`, "hook");
  if (vmiArg === undefined) throw new UsageError("missing --vmi FILE|JSON", "hook");
  if ((domainArg === undefined) === (cloudInitArg === undefined)) throw new UsageError("give exactly one of --domain FILE|XML and --cloud-init FILE|JSON", "hook");

  let setup: HookSetup;
  try {
    setup = { plugins: await loadPlugins(pluginNames, pluginOptions((values.option as string[] | undefined) ?? [], process.env)), env: readHookEnv(process.env) };
  } catch (error) {
    if (error instanceof UnknownPluginError || error instanceof PluginOptionError) throw new UsageError(error.message, "hook");
    if (error instanceof PluginError) throw new UsageError(`plugin settings: ${error.message}`, "hook");
    throw error;
  }
  const vmiJson = await contentOrFile(vmiArg, "{");

  if (domainArg !== undefined) {
    const outcome = await defineDomain(setup, { domainXml: await contentOrFile(domainArg, "<"), vmiJson });
    if (outcome instanceof HookCallError) return reportFailure(outcome);
    await writeStdout(outcome.domainXml);
    return EXIT_OK;
  }

  const cloudInitData = await contentOrFile(cloudInitArg as string, "{");
  const cloudInitNoCloudSource = noCloudSourceOf(cloudInitData);
  const outcome = await prepareCloudInit(setup, { cloudInitData, cloudInitNoCloudSource, vmiJson });
  if (outcome instanceof HookCallError) return reportFailure(outcome);
  await writeStdout(cloudInitDataOf(outcome, { cloudInitData, cloudInitNoCloudSource }));
  return EXIT_OK;
}

/** Inline content when the value starts with `marker` after whitespace, else a file's bytes. */
async function contentOrFile(value: string, marker: "{" | "<"): Promise<Uint8Array> {
  return value.trimStart().startsWith(marker) ? Buffer.from(value, "utf8") : readInputFile(value);
}

/**
 * The CloudInitNoCloudSource JSON virt-launcher sends next to CloudInitData for older hooks:
 * the same user and network data (pkg/hooks/manager.go, preCloudInitIsoDataToJSON). Empty when
 * the CloudInitData is not a JSON object (the call then reports the JSON error).
 */
function noCloudSourceOf(cloudInitData: Uint8Array): Uint8Array {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(cloudInitData.buffer, cloudInitData.byteOffset, cloudInitData.byteLength).toString("utf8"));
  } catch {
    return new Uint8Array(0);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) return new Uint8Array(0);
  const { UserData, NetworkData } = data as { UserData?: unknown; NetworkData?: unknown };
  const source: Record<string, unknown> = {};
  if (typeof UserData === "string" && UserData !== "") source.userData = UserData;
  if (typeof NetworkData === "string" && NetworkData !== "") source.networkData = NetworkData;
  return Buffer.from(JSON.stringify(source), "utf8");
}

interface CloudInitPair {
  readonly cloudInitData: Uint8Array;
  readonly cloudInitNoCloudSource: Uint8Array;
}

/**
 * What virt-launcher would take from the answer (pkg/hooks/manager.go,
 * preCloudInitIsoValidateResult): the returned CloudInitData when it has user data, else the
 * user and network data of the returned CloudInitNoCloudSource (a hook written for the older
 * field) over the CloudInitData. A legacy field that came back as sent changed nothing.
 */
function cloudInitDataOf(returned: CloudInitPair, sent: CloudInitPair): Uint8Array {
  if (Buffer.compare(returned.cloudInitNoCloudSource, sent.cloudInitNoCloudSource) === 0) return returned.cloudInitData;
  const data = parseObject(returned.cloudInitData);
  if (typeof data?.UserData === "string" && data.UserData !== "") return returned.cloudInitData;
  const source = parseObject(returned.cloudInitNoCloudSource) ?? {};
  const base = data ?? parseObject(sent.cloudInitData) ?? {};
  return Buffer.from(JSON.stringify({ ...base, UserData: source.userData ?? "", NetworkData: source.networkData ?? "" }), "utf8");
}

function parseObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** One line; a plugin that broke (INTERNAL) is a bug, everything else bad input. */
function reportFailure(error: HookCallError): number {
  printError(`domsplice hook: ${statusName(error.code)}: ${error.message}`);
  return error.code === StatusCode.INTERNAL ? EXIT_BUG : EXIT_BAD_INPUT;
}
