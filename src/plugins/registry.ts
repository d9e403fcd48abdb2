// The built-in plugins by the name `--plugin NAME` chooses them with. Each entry loads its
// plugin on demand, so a sidecar pays (in start-up time and memory) only for the plugins it
// runs. Add a plugin here when it lands in src/plugins.

import process from "node:process";
import type { Plugin, PluginFactory, PluginOptions } from "./types.ts";
import { pluginOptions } from "./options.ts";

// Each module exports its PluginFactory; import() keeps the ones not chosen out of memory.
const builtInPlugins: Readonly<Record<string, () => Promise<PluginFactory>>> = Object.freeze({
  identity: async () => (await import("./identity.ts")).createIdentityPlugin,
  passt: async () => (await import("./passt.ts")).createPasstPlugin,
  exec: async () => (await import("./exec.ts")).createExecPlugin,
  "cloud-init": async () => (await import("./cloud-init.ts")).createCloudInitPlugin,
  slirp: async () => (await import("./slirp.ts")).createSlirpPlugin,
  tap: async () => (await import("./tap.ts")).createTapPlugin,
  smbios: async () => (await import("./smbios.ts")).createSmbiosPlugin,
  "annotation-patch": async () => (await import("./annotation-patch.ts")).createAnnotationPatchPlugin,
});

/** An unknown plugin name; the message lists the known ones. */
export class UnknownPluginError extends Error {
  override readonly name = "UnknownPluginError";
  constructor(readonly pluginName: string) {
    super(`unknown plugin '${pluginName}' (known plugins: ${knownPluginNames().join(", ")})`);
  }
}

/** Names `--plugin` accepts, sorted. */
export function knownPluginNames(): string[] {
  return Object.keys(builtInPlugins).sort();
}

/**
 * The plugins named, in the order given, made with `options` (default: settings from the
 * environment only); throws UnknownPluginError for a name not built in, and whatever a
 * factory throws for a bad setting (PluginError naming the option).
 */
export async function loadPlugins(names: readonly string[], options: PluginOptions = pluginOptions([], process.env)): Promise<Plugin[]> {
  for (const name of names) {
    if (!Object.hasOwn(builtInPlugins, name)) throw new UnknownPluginError(name);
  }
  const factories = await Promise.all(names.map((name) => builtInPlugins[name]()));
  return Promise.all(factories.map((create) => create(options)));
}
