// The passt network binding: wires the VMI's pod network interface to passt through a
// vhost-user interface, with the same rules as KubeVirt's network-passt-binding sidecar
// (cmd/sidecars/network-passt-binding/domain/configurator.go and server/server.go), but as a
// lossless patch: only <memoryBacking> (when missing) and the pod network's <interface> change.
//
// KubeVirt registers the sidecar as a Network Binding Plugin; virt-launcher calls it on
// OnDefineDomain only (its Info lists no other hook point that changes the domain).

import { patch, DocumentReader, xml, type PatchOp, type XmlFragment } from "../index.ts";
import { PluginError, type DomainHookContext, type Plugin, type PluginFactory, type Vmi, type VmiInterface } from "./types.ts";

/** The binding name when KubeVirt does not say (NETWORK_BINDING_PLUGIN_NAME unset). */
export const DEFAULT_BINDING_NAME = "passt";

/** Where passt writes its log; virt-launcher collects it from there. */
export const PASST_LOG_FILE = "/var/run/kubevirt/passt.log";

/** KubeVirt's prefix for aliases of devices named in the VMI (api.UserAliasPrefix). */
const USER_ALIAS_PREFIX = "ua-";

/**
 * Ports Istio's sidecar proxy owns (KubeVirt pkg/network/istio ReservedPorts): with the proxy
 * injected, passt must not forward them to the guest, or the proxy stops working.
 */
export const ISTIO_RESERVED_PORTS: readonly number[] = [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090];

const ISTIO_INJECT_ANNOTATION = "sidecar.istio.io/inject";

// KubeVirt's hardware.ParsePciAddress pattern, with the dot before the function taken
// literally (KubeVirt's unescaped '.' accepts any character there, which libvirt would not).
const PCI_ADDRESS = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;

/** What the plugin needs to know about the VMI, looked up and checked once per call. */
export interface PasstBinding {
  readonly iface: VmiInterface;
  /** The pod's interface passt attaches to (status.interfaces[].podInterfaceName). */
  readonly podInterfaceName: string;
  readonly useVirtioTransitional: boolean;
  readonly istioProxyInjected: boolean;
}

/**
 * The pod network's interface, checked as KubeVirt's configurator does: a pod network, an
 * interface of the same name bound to this plugin, and its pod interface name in the status.
 */
export function passtBinding(vmi: Vmi, bindingName: string): PasstBinding {
  const networks = vmi.spec?.networks ?? [];
  const network = networks.find((candidate) => candidate?.pod !== undefined && candidate.pod !== null);
  if (network === undefined) {
    throw new PluginError(`no pod network in spec.networks (the ${JSON.stringify(bindingName)} binding serves the pod network)`);
  }
  const iface = (vmi.spec?.domain?.devices?.interfaces ?? []).find((candidate) => candidate?.name === network.name);
  if (iface === undefined) {
    throw new PluginError(`pod network ${JSON.stringify(network.name)} has no interface of the same name in spec.domain.devices.interfaces`);
  }
  if (iface.binding?.name !== bindingName) {
    const actual = iface.binding?.name === undefined ? "it has no binding" : `its binding is ${JSON.stringify(iface.binding.name)}`;
    throw new PluginError(`interface ${JSON.stringify(iface.name)} is not set with the ${JSON.stringify(bindingName)} network binding plugin (${actual})`);
  }
  const status = (vmi.status?.interfaces ?? []).find((candidate) => candidate?.name === network.name);
  if (status === undefined) {
    throw new PluginError(`interface ${JSON.stringify(iface.name)} has no entry in status.interfaces (virt-handler has not reported the pod interface yet)`);
  }
  if (typeof status.podInterfaceName !== "string" || status.podInterfaceName === "") {
    throw new PluginError(`interface ${JSON.stringify(iface.name)} has no podInterfaceName in status.interfaces`);
  }
  const injection = vmi.metadata?.annotations?.[ISTIO_INJECT_ANNOTATION];
  return {
    iface,
    podInterfaceName: status.podInterfaceName,
    useVirtioTransitional: vmi.spec?.domain?.devices?.useVirtioTransitional === true,
    istioProxyInjected: typeof injection === "string" && injection.toLowerCase() === "true",
  };
}

/** libvirt's model type: virtio (or none) becomes the (non-)transitional virtio model. */
export function modelType(binding: PasstBinding): string {
  const model = binding.iface.model;
  if (model !== undefined && model !== "" && model !== "virtio") return model;
  return binding.useVirtioTransitional ? "virtio-transitional" : "virtio-non-transitional";
}

/** `<address type="pci" .../>` from a VMI pciAddress (DDDD:BB:SS.F). */
export function pciAddress(iface: VmiInterface): XmlFragment | undefined {
  if (iface.pciAddress === undefined || iface.pciAddress === "") return undefined;
  const fields = PCI_ADDRESS.exec(iface.pciAddress);
  if (fields === null) {
    throw new PluginError(`interface ${JSON.stringify(iface.name)}: invalid pciAddress ${JSON.stringify(iface.pciAddress)} (expected DDDD:BB:SS.F, e.g. 0000:02:01.0)`);
  }
  const [, domain, bus, slot, fn] = fields;
  return xml`<address type="pci" domain=${"0x" + domain} bus=${"0x" + bus} slot=${"0x" + slot} function=${"0x" + fn}/>`;
}

/**
 * The portForward elements: Istio's ports excluded first (when its proxy is injected), then
 * the interface's ports by protocol (none or TCP -> tcp, UDP -> udp, any case; others are not
 * supported by passt and left out, as KubeVirt does). No range at all forwards every port.
 */
export function portForwards(binding: PasstBinding): XmlFragment[] {
  const tcp: XmlFragment[] = [];
  const udp: XmlFragment[] = [];
  if (binding.istioProxyInjected) {
    for (const port of ISTIO_RESERVED_PORTS) tcp.push(xml`<range start=${String(port)} exclude="yes"/>`);
  }
  for (const port of binding.iface.ports ?? []) {
    // KubeVirt's webhook admits only valid port numbers; anything else is skipped, as its sidecar does.
    if (!Number.isInteger(port?.port) || port.port < 0) continue;
    const protocol = (port.protocol ?? "").toLowerCase();
    if (protocol === "" || protocol === "tcp") tcp.push(xml`<range start=${String(port.port)}/>`);
    else if (protocol === "udp") udp.push(xml`<range start=${String(port.port)}/>`);
  }
  if (tcp.length === 0 && udp.length === 0) return [xml`<portForward proto="tcp"/>`, xml`<portForward proto="udp"/>`];
  const forwards: XmlFragment[] = [];
  if (tcp.length > 0) forwards.push(xml`<portForward proto="tcp">${tcp}</portForward>`);
  if (udp.length > 0) forwards.push(xml`<portForward proto="udp">${udp}</portForward>`);
  return forwards;
}

/**
 * The domain interface, children in the order KubeVirt's Go structs marshal them (address,
 * source, model, mac, alias, acpi, backend, portForward).
 */
export function passtInterface(binding: PasstBinding): XmlFragment {
  const { iface } = binding;
  const parts: XmlFragment[] = [];
  const address = pciAddress(iface);
  if (address !== undefined) parts.push(address);
  parts.push(xml`<source dev=${binding.podInterfaceName}/>`);
  parts.push(xml`<model type=${modelType(binding)}/>`);
  if (iface.macAddress !== undefined && iface.macAddress !== "") parts.push(xml`<mac address=${iface.macAddress}/>`);
  parts.push(xml`<alias name=${USER_ALIAS_PREFIX + iface.name}/>`);
  if (typeof iface.acpiIndex === "number" && Number.isInteger(iface.acpiIndex) && iface.acpiIndex > 0) {
    parts.push(xml`<acpi index=${String(iface.acpiIndex)}/>`);
  }
  parts.push(xml`<backend type="passt" logFile=${PASST_LOG_FILE}/>`);
  parts.push(...portForwards(binding));
  return xml`<interface type="vhostuser">${parts}</interface>`;
}

/**
 * vhost-user needs guest memory passt can map: a missing <memoryBacking> gets memfd + shared;
 * an access mode other than shared is someone else's decision, refused rather than overridden;
 * any other existing <memoryBacking> is left as it is (as KubeVirt does).
 */
function memoryBackingOps(domain: DocumentReader): PatchOp[] {
  if (domain.query("/domain/memoryBacking").length > 0) {
    const mode = domain.value("/domain/memoryBacking/access/@mode");
    if (mode !== undefined && mode !== "shared") {
      throw new PluginError(`the domain's memoryBacking access mode is ${JSON.stringify(mode)}; the passt binding (vhost-user) needs "shared" and will not override it`);
    }
    return [];
  }
  const memoryBacking = xml`<memoryBacking><source type="memfd"/><access mode="shared"/></memoryBacking>`;
  // After the memory sizes, where virt-launcher's own marshalling puts it; else last in <domain>.
  const sizes = ["/domain/memory", "/domain/maxMemory", "/domain/currentMemory"]
    .map((path) => ({ path, at: domain.query(path)[0]?.start ?? -1 }))
    .filter((size) => size.at >= 0)
    .sort((a, b) => b.at - a.at);
  if (sizes.length > 0) return [{ op: "add", path: `${sizes[0].path}[1]`, pos: "after", xml: memoryBacking }];
  return [{ op: "add", path: "/domain", pos: "append", xml: memoryBacking }];
}

/** A selector literal for `value`, in whichever quote it does not contain. */
function selectorLiteral(value: string, what: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new PluginError(`${what} ${JSON.stringify(value)} contains both quote characters`);
}

/** The whole edit: memory backing, then the interface replaced in place or appended. */
export function passtPatch(domainXml: Uint8Array, binding: PasstBinding): PatchOp[] {
  // One tokenize for every question asked of the domain.
  const domain = new DocumentReader(domainXml);
  const ops = memoryBackingOps(domain);
  const iface = passtInterface(binding);
  const alias = selectorLiteral(USER_ALIAS_PREFIX + binding.iface.name, "interface name");
  // The first interface with our alias is ours to replace (KubeVirt's lookupIfaceByAliasName).
  const existing = `/domain/devices/interface[alias/@name=${alias}][1]`;
  if (domain.query(existing).length > 0) {
    ops.push({ op: "replace", path: existing, xml: iface });
  } else {
    ops.push({ op: "ensure", path: "/domain/devices" }, { op: "add", path: "/domain/devices", pos: "append", xml: iface });
  }
  return ops;
}

export const passtPlugin: Plugin = {
  name: "passt",
  hookPoints: ["OnDefineDomain"],
  onDefineDomain(context: DomainHookContext): Uint8Array {
    const bindingName = context.env.NETWORK_BINDING_PLUGIN_NAME || DEFAULT_BINDING_NAME;
    const binding = passtBinding(context.vmi, bindingName);
    return patch(context.domainXml, passtPatch(context.domainXml, binding)) as Uint8Array;
  },
};

/** It has no settings: a Network Binding Plugin sidecar gets no flags and no env of ours. */
export const createPasstPlugin: PluginFactory = () => passtPlugin;
