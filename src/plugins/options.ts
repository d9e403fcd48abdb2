// Plugin settings from the command line and the environment (types.ts PluginOptions):
// `--option KEY=VALUE` (repeatable) wins over DOMSPLICE_<KEY> in the environment.

import type { PluginOptions } from "./types.ts";

/** A malformed --option (no '=', empty key, a key given twice). */
export class PluginOptionError extends Error {
  override readonly name = "PluginOptionError";
}

/** The environment variable a key falls back to: DOMSPLICE_ + upper-cased key, '-' and '.' as '_'. */
export function optionEnvName(key: string): string {
  return `DOMSPLICE_${key.toUpperCase().replace(/[-.]/g, "_")}`;
}

export function pluginOptions(flags: readonly string[], env: Readonly<Record<string, string | undefined>>): PluginOptions {
  const given = new Map<string, string>();
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    if (eq <= 0) throw new PluginOptionError(`--option '${flag}' is not KEY=VALUE`);
    const key = flag.slice(0, eq);
    if (given.has(key)) throw new PluginOptionError(`--option ${key} is given twice`);
    given.set(key, flag.slice(eq + 1));
  }
  return {
    get(key: string): string | undefined {
      return given.get(key) ?? env[optionEnvName(key)];
    },
  };
}
