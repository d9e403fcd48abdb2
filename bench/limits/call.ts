// The OnDefineDomain calls the limits benchmark and test make: KubeVirt's 8 KB domain (for
// latency) and the same domain grown to about 1 MB by repeating the children of <devices>
// (bench/inputs.ts growDevices; 180 interfaces), with a VMI as virt-launcher sends it whose pod
// network is bound to passt (status.interfaces filled, as virt-handler reports it). The answer a
// sidecar must give is computed here, in this process, by the same call path `serve` runs
// (src/hooks/calls.ts defineDomain with the registry's plugins): identity must return the
// domain byte for byte, passt its edit of it; either way every answer is compared byte for byte.

import { readFileSync } from "node:fs";
import { growDevices } from "../inputs.ts";
import { onDefineDomainCall } from "../hooks/call.ts";
import { defineDomain } from "../../src/hooks/calls.ts";
import { HookCallError } from "../../src/hooks/call-error.ts";
import { readHookEnv } from "../../src/hooks/env.ts";
import { loadPlugins } from "../../src/plugins/registry.ts";
import { pluginOptions } from "../../src/plugins/options.ts";
import type { OnDefineDomainParams } from "../../src/hooks/codec.ts";

/** The plugins the limits runs serve with: the no-op baseline and the binding KubeVirt's Go sidecar implements. */
export type LimitsPlugin = "identity" | "passt";
export const LIMITS_PLUGINS: readonly LimitsPlugin[] = ["passt", "identity"];

/** The corpus domain's VMI (mynamespace/testvmi), its pod network bound to the passt plugin. */
const VMI = {
  kind: "VirtualMachineInstance",
  apiVersion: "kubevirt.io/v1",
  metadata: {
    name: "testvmi",
    namespace: "mynamespace",
    uid: "e4686d2c-6e8d-4335-b8fd-81bee22f4814",
    annotations: { "kubevirt.io/latest-observed-api-version": "v1" },
    labels: { "kubevirt.io/nodeName": "node01" },
  },
  spec: {
    domain: {
      resources: { requests: { memory: "8Mi" } },
      cpu: { cores: 1, sockets: 1, threads: 1 },
      devices: {
        disks: [{ name: "containerdisk", disk: { bus: "virtio" } }],
        interfaces: [{ name: "default", binding: { name: "passt" }, ports: [{ name: "http", protocol: "TCP", port: 80 }] }],
      },
    },
    networks: [{ name: "default", pod: {} }],
    volumes: [{ name: "containerdisk", containerDisk: { image: "registry:5000/kubevirt/fedora-cloud-container-disk-demo:devel" } }],
  },
  status: {
    nodeName: "node01",
    phase: "Scheduled",
    interfaces: [{ name: "default", mac: "02:7e:2c:00:00:01", podInterfaceName: "eth0", infoSource: "domain" }],
  },
};

export interface LimitsCall {
  label: string;
  params: OnDefineDomainParams;
  /** The answer the sidecar must give, byte for byte. */
  expected: Uint8Array;
}

export interface LimitsCalls {
  /** Where the 8 KB domain came from. */
  domainFile: string;
  small: LimitsCall;
  large: LimitsCall;
}

const LARGE_BYTES = 1024 * 1024;

/** The 8 KB and 1 MB calls for `plugin`, each with its expected answer. */
export async function limitsCalls(repoRoot: string, plugin: LimitsPlugin): Promise<LimitsCalls> {
  const { domainFile } = onDefineDomainCall(repoRoot);
  const base = readFileSync(domainFile, "utf8");
  const vmi = new TextEncoder().encode(JSON.stringify(VMI));
  const setup = { plugins: await loadPlugins([plugin], pluginOptions([], process.env)), env: readHookEnv(process.env) };
  const callOf = async (label: string, xml: string): Promise<LimitsCall> => {
    const params = { domainXML: new TextEncoder().encode(xml), vmi };
    const outcome = await defineDomain(setup, { domainXml: params.domainXML, vmiJson: vmi });
    if (outcome instanceof HookCallError) throw new Error(`the ${label} call: plugin ${plugin} refuses it in this process: ${outcome.message}`);
    if (plugin === "identity" && outcome.domainXml !== params.domainXML) throw new Error("identity changed the domain");
    if (plugin !== "identity" && Buffer.from(outcome.domainXml).equals(params.domainXML)) throw new Error(`${plugin} left the ${label} domain unchanged: nothing would be checked`);
    return { label, params, expected: outcome.domainXml };
  };
  return { domainFile, small: await callOf("8 KB", base), large: await callOf("1 MB", growDevices(base, LARGE_BYTES)) };
}
