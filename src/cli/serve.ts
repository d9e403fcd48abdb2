// `domsplice serve`: the KubeVirt hook sidecar. Chooses the plugins, binds the socket(s) through
// startHookServer, and owns the process: SIGTERM, SIGINT and SIGHUP (and virt-launcher's
// Shutdown call) stop it gracefully with exit 0; a fatal error exits 1; the socket files are
// removed on every one of those paths. Loaded only when `serve` is asked for.

import process from "node:process";
import { readHookEnv } from "../hooks/env.ts";
import { MAX_MESSAGE_BYTES, startHookServer, type HookServer } from "../hooks/server.ts";
import { SocketError } from "../hooks/socket.ts";
import { logRecord, stderrLog } from "../hooks/log.ts";
import { knownPluginNames, loadPlugins, UnknownPluginError } from "../plugins/registry.ts";
import { PluginOptionError, pluginOptions } from "../plugins/options.ts";
import { PluginError } from "../plugins/types.ts";
import { EXIT_BAD_INPUT, EXIT_BUG, EXIT_OK, guardStdout, parseCommandArgs, printError, UsageError } from "./usage.ts";

/** Where KubeVirt mounts a hook sidecar's socket directory (its own, per sidecar). */
export const HOOK_SOCKET_DIRECTORY = "/var/run/kubevirt-hooks";
export const DEFAULT_NAME = "domsplice";

/**
 * Plugins a Network Binding Plugin registration chooses by its name alone: with no args and
 * none of its own env, the sidecar runs the binding plugin whose name is exactly the one the
 * binding was registered under (NETWORK_BINDING_PLUGIN_NAME).
 */
export const BINDING_PLUGIN_NAMES: readonly string[] = Object.freeze(["passt", "slirp", "tap"]);

export const SERVE_HELP = `Usage: domsplice serve [--plugin NAME]... [--option KEY=VALUE]... [--socket PATH]
                       [--plugin-socket PATH] [--name NAME] [--priority N]

Runs the KubeVirt hook sidecar. On --socket it serves KubeVirt's hook API, which virt-launcher
calls: kubevirt.hooks.info.Info and the Callbacks of v1alpha1, v1alpha2 and v1alpha3
(OnDefineDomain, PreCloudInitIso, Shutdown). With --plugin-socket it also serves the Plugin API
of KubeVirt >= 1.9 (kubevirt.hooks.plugins.v1alpha1 DomainHookService/MutateDomain and
NodeHookService/ExecuteNodeHook) on that path, from the same process.

The chosen plugins run in the order given, each getting the previous one's output. Info lists
the hook points they subscribe to, plus Shutdown, each with --priority.

Options:
  --plugin NAME          enable a built-in plugin (repeatable; known: ${knownPluginNames().join(", ")});
                         without it, see "Choosing plugins" below
  --option KEY=VALUE     a plugin setting (repeatable), e.g. --option policy=/etc/domsplice/policy.yaml;
                         without it a plugin reads DOMSPLICE_<KEY> from the environment
                         (upper-cased, '-' as '_'), else its default (README "Built-in plugins")
  --socket PATH          legacy hook API socket (default ${HOOK_SOCKET_DIRECTORY}/<name>.sock);
                         its directory must exist and hold nothing else
  --plugin-socket PATH   also serve the Plugin API on PATH, e.g.
                         /var/run/kubevirt-plugin/<plugin>/domsplice.sock
  --name NAME            the name Info answers (default ${DEFAULT_NAME})
  --priority N           priority Info gives each hook point, an int32 (default 0). KubeVirt
                         means higher to run first, but its hook manager (pkg/hooks/manager.go)
                         sorts each sidecar's own hook point list, not the sidecars: they run
                         in the order their sockets are found (directory order)
  -h, --help             show this help

Choosing plugins (first that applies): the --plugin options; else the comma-separated names in
$DOMSPLICE_PLUGINS (the image bakes it from its build argument), when not empty; else, when
$NETWORK_BINDING_PLUGIN_NAME is set (a Network Binding Plugin registration gives the sidecar no
args, only that name), the binding plugin of exactly that name: one of ${BINDING_PLUGIN_NAMES.join(", ")}
(register the binding under the plugin's name); any other value is refused (exit 2); else
none (Info lists Shutdown only).

Sockets: a stale socket file left by a dead process is replaced; a path a live server listens
on, or a file that is not a socket, is refused. The socket files are removed when serving ends.
Limits: messages up to ${MAX_MESSAGE_BYTES / (1024 * 1024)} MiB each way (bigger: RESOURCE_EXHAUSTED); domain XML up to the
engine's limits (nesting depth 1024) else INVALID_ARGUMENT.
Logs: one JSON line per call on stderr (component, level, msg, timestamp, method, plugin,
bytesIn, bytesOut, durationMs, code on error); the first line has "msg":"serving".
Environment passed to plugins: NETWORK_BINDING_PLUGIN_NAME, CONTAINER_NAME.

Exit status: 0 after Shutdown, SIGTERM, SIGINT or SIGHUP; 2 for bad options, an unknown
plugin or a socket path that cannot be used (one line on stderr); 1 for a fatal error.
`;

const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

export async function runServe(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    "serve",
    withNegativePriorityJoined(args),
    {
      plugin: { type: "string", multiple: true },
      option: { type: "string", multiple: true },
      socket: { type: "string" },
      "plugin-socket": { type: "string" },
      name: { type: "string" },
      priority: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    false,
  );
  if (values.help) {
    guardStdout();
    process.stdout.write(SERVE_HELP);
    return EXIT_OK;
  }
  const name = (values.name as string | undefined) ?? DEFAULT_NAME;
  if (name === "" || /[/\0]/.test(name)) throw new UsageError(`--name must be a non-empty name without '/' (got '${name}')`, "serve");
  const priority = parsePriority(values.priority as string | undefined);
  const socket = (values.socket as string | undefined) ?? `${HOOK_SOCKET_DIRECTORY}/${name}.sock`;
  const pluginSocket = values["plugin-socket"] as string | undefined;
  if (socket === "" || pluginSocket === "") throw new UsageError("socket paths must not be empty", "serve");
  const pluginNames = choosePluginNames(values.plugin as string[] | undefined, process.env);

  // Stop signals are caught from before the socket exists: kubelet may send SIGTERM at any time,
  // and a signal with no listener yet would kill the process and leave the socket file behind.
  const supervision = superviseProcess();
  try {
    let server: HookServer;
    try {
      const plugins = await loadPlugins(pluginNames, pluginOptions((values.option as string[] | undefined) ?? [], process.env));
      server = await startHookServer({ socket, pluginSocket, name, priority, plugins, env: readHookEnv(process.env) });
    } catch (error) {
      if (error instanceof UnknownPluginError || error instanceof PluginOptionError) throw new UsageError(error.message, "serve");
      if (error instanceof PluginError) throw new UsageError(`plugin settings: ${error.message}`, "serve");
      if (error instanceof SocketError) {
        printError(`domsplice serve: ${error.message}`);
        return EXIT_BAD_INPUT;
      }
      throw error;
    }
    supervision.serving(server);
    await server.closed;
    return EXIT_OK;
  } finally {
    supervision.release();
  }
}

/**
 * Turns SIGTERM, SIGINT and SIGHUP into a graceful shutdown (remembered if one arrives before
 * the server is up), and a fatal error into exit 1 after one log line (the server's exit hook
 * removes the socket files).
 */
function superviseProcess(): { serving(server: HookServer): void; release(): void } {
  let server: HookServer | undefined;
  let stopRequest: string | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    stopRequest ??= `signal ${signal}`;
    if (server !== undefined) void server.shutdown(stopRequest);
  };
  const onFatal = (error: unknown): void => {
    stderrLog(logRecord({ level: "error", msg: `fatal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` }));
    process.exit(EXIT_BUG);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  process.on("uncaughtException", onFatal);
  process.on("unhandledRejection", onFatal);
  return {
    serving(started) {
      server = started;
      if (stopRequest !== undefined) void server.shutdown(stopRequest);
    },
    release() {
      for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal);
      process.removeListener("uncaughtException", onFatal);
      process.removeListener("unhandledRejection", onFatal);
    },
  };
}

/** `--priority -5` as `--priority=-5`: parseArgs would take "-5" for an option. */
function withNegativePriorityJoined(args: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--priority" && i + 1 < args.length && /^-\d+$/.test(args[i + 1])) {
      joined.push(`--priority=${args[i + 1]}`);
      i++;
    } else {
      joined.push(args[i]);
    }
  }
  return joined;
}

function parsePriority(text: string | undefined): number {
  if (text === undefined) return 0;
  const value = Number(text);
  if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < -(2 ** 31) || value > 2 ** 31 - 1) {
    throw new UsageError(`--priority must be an integer from -2147483648 to 2147483647 (got '${text}')`, "serve");
  }
  return value;
}

/**
 * --plugin names, else $DOMSPLICE_PLUGINS (comma-separated) when it names any, else the binding
 * plugin named exactly $NETWORK_BINDING_PLUGIN_NAME when that is set, else none; each at most once.
 */
function choosePluginNames(fromOptions: string[] | undefined, environment: Readonly<Record<string, string | undefined>>): string[] {
  const fromEnv = (environment.DOMSPLICE_PLUGINS ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const names = fromOptions ?? (fromEnv.length > 0 ? fromEnv : bindingPluginNames(environment.NETWORK_BINDING_PLUGIN_NAME));
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new UsageError(`plugin '${name}' is given twice`, "serve");
    seen.add(name);
  }
  return names;
}

function bindingPluginNames(bindingName: string | undefined): string[] {
  if (bindingName === undefined || bindingName === "") return [];
  if (BINDING_PLUGIN_NAMES.includes(bindingName)) return [bindingName];
  throw new UsageError(
    `no --plugin and no DOMSPLICE_PLUGINS, and NETWORK_BINDING_PLUGIN_NAME '${bindingName}' names no binding plugin ` +
      `(choices: ${BINDING_PLUGIN_NAMES.join(", ")}): register the binding under one of those names, or set DOMSPLICE_PLUGINS in the image`,
    "serve",
  );
}
