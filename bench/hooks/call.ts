// The OnDefineDomain call every hook measurement makes: KubeVirt's own 8 KB domain XML
// (../shared/corpus/kubevirt/domain.xml, or DOMSPLICE_CORPUS; examples/domain.xml is the same
// bytes) and a VMI as virt-launcher sends it (JSON bytes), with one pod-network interface bound
// by a network binding plugin. The identity plugin must hand the domain back byte for byte.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { OnDefineDomainParams } from "../../src/hooks/codec.ts";

const VMI = {
  apiVersion: "kubevirt.io/v1",
  kind: "VirtualMachineInstance",
  metadata: {
    name: "testvmi-passt",
    namespace: "default",
    uid: "0a6a5bf4-6a51-4d9b-9a1e-33d2d25b1c07",
    annotations: { "kubevirt.io/latest-observed-api-version": "v1" },
    labels: { "kubevirt.io/vm": "testvmi-passt" },
  },
  spec: {
    domain: {
      cpu: { cores: 1, sockets: 1, threads: 1 },
      devices: {
        disks: [{ name: "containerdisk", disk: { bus: "virtio" } }],
        interfaces: [{ name: "default", binding: { name: "passt" }, ports: [{ port: 80, protocol: "TCP" }] }],
      },
      memory: { guest: "128Mi" },
      resources: { requests: { memory: "128Mi" } },
    },
    networks: [{ name: "default", pod: {} }],
    volumes: [{ name: "containerdisk", containerDisk: { image: "quay.io/kubevirt/cirros-container-disk-demo" } }],
  },
};

export interface HookCall {
  /** Where the domain XML came from (recorded with the results). */
  domainFile: string;
  params: OnDefineDomainParams;
}

export function onDefineDomainCall(repoRoot: string): HookCall {
  const corpus = process.env.DOMSPLICE_CORPUS ?? path.resolve(repoRoot, "../shared/corpus");
  const fromCorpus = path.join(corpus, "kubevirt", "domain.xml");
  const domainFile = existsSync(fromCorpus) ? fromCorpus : path.join(repoRoot, "examples", "domain.xml");
  return {
    domainFile,
    params: { domainXML: new Uint8Array(readFileSync(domainFile)), vmi: new TextEncoder().encode(JSON.stringify(VMI)) },
  };
}
