// The built-in plugins by the name `--plugin NAME` chooses them with. Each entry loads its
// plugin on demand, so a sidecar pays (in start-up time and memory) only for the plugins it
// runs. Add a plugin here when it lands in src/plugins.

import type { Plugin } from "./types.ts";

const builtInPlugins: Readonly<Record<string, () => Promise<Plugin>>> = Object.freeze({
  identity: async () => (await import("./identity.ts")).identityPlugin,
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

/** The plugins named, in the order given; throws UnknownPluginError for a name not built in. */
export async function loadPlugins(names: readonly string[]): Promise<Plugin[]> {
  for (const name of names) {
    if (!Object.hasOwn(builtInPlugins, name)) throw new UnknownPluginError(name);
  }
  return Promise.all(names.map((name) => builtInPlugins[name]()));
}
