// The identity plugin: hands back exactly what it was given, on both hook points. It proves
// the transport (a domain must come back byte-identical through virt-launcher's client) and is
// the template for a new plugin: a plain object with a name, the hook points it subscribes to,
// and a handler per hook point.

import type { CloudInitContext, CloudInitResult, DomainHookContext, Plugin, PluginFactory } from "./types.ts";

export const identityPlugin: Plugin = {
  name: "identity",
  hookPoints: ["OnDefineDomain", "PreCloudInitIso"],
  onDefineDomain(context: DomainHookContext): Uint8Array {
    return context.domainXml;
  },
  preCloudInitIso(context: CloudInitContext): CloudInitResult {
    return { cloudInitNoCloudSource: context.cloudInitNoCloudSource, cloudInitData: context.cloudInitData };
  },
};

/** It has no settings. */
export const createIdentityPlugin: PluginFactory = () => identityPlugin;
