// The environment KubeVirt gives a hook sidecar, read once at start-up. A Network Binding
// Plugin sidecar gets NETWORK_BINDING_PLUGIN_NAME (the name it was registered under, which
// interfaces[].binding.name refers to) and CONTAINER_NAME; nothing else is passed to plugins.

import type { HookEnv } from "../plugins/types.ts";

export function readHookEnv(environment: Readonly<Record<string, string | undefined>>): HookEnv {
  const env: { NETWORK_BINDING_PLUGIN_NAME?: string; CONTAINER_NAME?: string } = {};
  if (environment.NETWORK_BINDING_PLUGIN_NAME !== undefined) env.NETWORK_BINDING_PLUGIN_NAME = environment.NETWORK_BINDING_PLUGIN_NAME;
  if (environment.CONTAINER_NAME !== undefined) env.CONTAINER_NAME = environment.CONTAINER_NAME;
  return Object.freeze(env);
}
