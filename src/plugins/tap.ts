// The tap network binding: each interface bound to it becomes an <interface type="ethernet">
// on a device the CNI made in the pod (the pod interface itself when the CNI made it a tap, or
// the tap KubeVirt's `domainAttachmentType: tap` names beside it), with no DHCP of KubeVirt's
// in the path: a CNI with its own DHCP/IPAM (dual-stack, e.g. Kube-OVN) keeps serving the guest.
//
// As a lossless patch: an ethernet interface aliased ua-<name> (what virt-launcher writes for
// `domainAttachmentType: tap`) is edited in place, keeping its address, driver queues and boot
// order; an interface of another type with that alias is replaced; none is appended.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { patch, DocumentReader, xml, type PatchOp, type XmlFragment } from "../index.ts";
import { pciAddress } from "./passt.ts";
import { podInterfaceName, tapDeviceName, USER_ALIAS_PREFIX } from "./pod-interface.ts";
import { PluginError, type DomainHookContext, type Plugin, type PluginFactory, type PluginOptions, type Vmi, type VmiInterface, type VmiNetwork } from "./types.ts";

/** The binding name when KubeVirt does not say (NETWORK_BINDING_PLUGIN_NAME unset). */
export const DEFAULT_BINDING_NAME = "tap";

/** Where KubeVirt's downward API puts the kubevirt.io/network-info annotation (downwardapi.MountPath). */
export const DEFAULT_NETWORK_INFO = "/etc/podinfo/network-info";

/** The pod's network devices, as the sidecar (same network namespace) sees them. */
export const DEFAULT_SYS_CLASS_NET = "/sys/class/net";

/** Which device the guest's interface opens: see the `target-dev` setting. */
export type TargetDevChoice = "auto" | "pod" | "tap";
const TARGET_DEV_CHOICES: readonly TargetDevChoice[] = ["auto", "pod", "tap"];

export interface TapSettings {
  readonly networkInfoPath: string;
  readonly sysClassNet: string;
  readonly targetDev: TargetDevChoice;
}

const MAC_ADDRESS = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** What the plugin decided for one interface. */
export interface TapBinding {
  readonly iface: VmiInterface;
  readonly network: VmiNetwork;
  readonly podInterfaceName: string;
  /** The device <target dev> names. */
  readonly targetDev: string;
  readonly model: string;
  readonly mac?: string;
  readonly mtu?: number;
}

/**
 * The MACs of the downward API file (annotation kubevirt.io/network-info, KubeVirt's
 * downwardapi.NetworkInfo: {"interfaces":[{"network":NAME,"deviceInfo":{...},"mac":MAC}]}),
 * by VMI network name. No file (the binding was registered without `downwardAPI`): none.
 */
export function networkInfoMacs(file: string): Map<string, string> {
  const macs = new Map<string, string>();
  let content: string;
  try {
    content = readFileSync(file, "utf8");
  } catch {
    return macs;
  }
  if (content.trim() === "") return macs; // KubeVirt has not written the annotation yet
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (error) {
    throw new PluginError(`${file} (annotation kubevirt.io/network-info) is not JSON: ${(error as Error).message}`);
  }
  const interfaces = (parsed as { interfaces?: unknown } | null)?.interfaces;
  if (!Array.isArray(interfaces)) return macs;
  for (const entry of interfaces) {
    const { network, mac } = (entry ?? {}) as Record<string, unknown>;
    if (typeof network === "string" && typeof mac === "string" && mac !== "") macs.set(network, mac);
  }
  return macs;
}

/** A device's MTU from sysfs, when the sidecar can see it. */
function deviceMtu(sysClassNet: string, device: string): number | undefined {
  try {
    const mtu = Number(readFileSync(path.join(sysClassNet, device, "mtu"), "utf8").trim());
    return Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535 ? mtu : undefined;
  } catch {
    return undefined;
  }
}

/** libvirt's model type: virtio (or none) becomes the (non-)transitional virtio model. */
function modelType(iface: VmiInterface, useVirtioTransitional: boolean): string {
  if (iface.model !== undefined && iface.model !== "" && iface.model !== "virtio") return iface.model;
  return useVirtioTransitional ? "virtio-transitional" : "virtio-non-transitional";
}

/** The interfaces bound to this plugin, each with its device, model, MAC and MTU. */
export function tapBindings(vmi: Vmi, bindingName: string, settings: TapSettings): TapBinding[] {
  const interfaces = (vmi.spec?.domain?.devices?.interfaces ?? []).filter((candidate) => candidate?.binding?.name === bindingName);
  if (interfaces.length === 0) {
    throw new PluginError(`no interface in spec.domain.devices.interfaces is set with the ${JSON.stringify(bindingName)} network binding plugin`);
  }
  const useVirtioTransitional = vmi.spec?.domain?.devices?.useVirtioTransitional === true;
  let downwardMacs: Map<string, string> | undefined;
  return interfaces.map((iface) => {
    const network = (vmi.spec?.networks ?? []).find((candidate) => candidate?.name === iface.name);
    if (network === undefined) {
      throw new PluginError(`interface ${JSON.stringify(iface.name)} has no network of the same name in spec.networks`);
    }
    if (network.pod == null && network.multus == null) {
      throw new PluginError(`network ${JSON.stringify(network.name)} is neither a pod nor a multus network; the tap binding needs a pod interface`);
    }
    const podInterface = podInterfaceName(vmi, network);
    const tap = tapDeviceName(podInterface, network);
    const targetDev =
      settings.targetDev === "pod" ? podInterface
      : settings.targetDev === "tap" ? tap
      : existsSync(path.join(settings.sysClassNet, tap)) ? tap
      : podInterface;
    let mac = iface.macAddress || undefined;
    if (mac === undefined) {
      downwardMacs ??= networkInfoMacs(settings.networkInfoPath);
      mac = downwardMacs.get(network.name);
    }
    if (mac !== undefined && !MAC_ADDRESS.test(mac)) {
      throw new PluginError(`interface ${JSON.stringify(iface.name)}: invalid MAC address ${JSON.stringify(mac)}`);
    }
    const mtu = deviceMtu(settings.sysClassNet, targetDev) ?? deviceMtu(settings.sysClassNet, podInterface);
    return { iface, network, podInterfaceName: podInterface, targetDev, model: modelType(iface, useVirtioTransitional), mac, mtu };
  });
}

/** A complete interface, children in the order KubeVirt's Go structs marshal them. */
export function tapInterface(binding: TapBinding): XmlFragment {
  const parts: XmlFragment[] = [];
  const address = pciAddress(binding.iface);
  if (address !== undefined) parts.push(address);
  parts.push(xml`<target dev=${binding.targetDev} managed="no"/>`);
  parts.push(xml`<model type=${binding.model}/>`);
  if (binding.mac !== undefined) parts.push(xml`<mac address=${binding.mac}/>`);
  if (binding.mtu !== undefined) parts.push(xml`<mtu size=${String(binding.mtu)}/>`);
  parts.push(xml`<alias name=${USER_ALIAS_PREFIX + binding.iface.name}/>`);
  parts.push(xml`<rom enabled="no"/>`);
  const acpiIndex = binding.iface.acpiIndex;
  if (typeof acpiIndex === "number" && Number.isInteger(acpiIndex) && acpiIndex > 0) parts.push(xml`<acpi index=${String(acpiIndex)}/>`);
  return xml`<interface type="ethernet">${parts}</interface>`;
}

/** A selector literal for `value`, in whichever quote it does not contain. */
function selectorLiteral(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new PluginError(`interface name ${JSON.stringify(value)} contains both quote characters`);
}

/**
 * A child of the interface made to carry `attributes`: appended when missing, its attributes
 * set where they differ, untouched where they hold the value already (so a second run changes
 * no byte, and whatever else the child carries stays).
 */
function childOps(domain: DocumentReader, iface: string, child: string, attributes: Readonly<Record<string, string>>, fragment: XmlFragment): PatchOp[] {
  const element = `${iface}/${child}`;
  if (domain.query(element).length === 0) return [{ op: "add", path: iface, pos: "append", xml: fragment }];
  return Object.entries(attributes)
    .filter(([name, value]) => domain.value(`${element}/@${name}`) !== value)
    .map(([name, value]) => ({ op: "set", path: `${element}/@${name}`, value }));
}

/** The edit for one interface: in place when it is already ethernet, else a whole new one. */
function interfaceOps(domain: DocumentReader, binding: TapBinding): PatchOp[] {
  const existing = `/domain/devices/interface[alias/@name=${selectorLiteral(USER_ALIAS_PREFIX + binding.iface.name)}][1]`;
  const found = domain.query(existing);
  if (found.length === 0) {
    return [{ op: "ensure", path: "/domain/devices" }, { op: "add", path: "/domain/devices", pos: "append", xml: tapInterface(binding) }];
  }
  if (domain.value(`${existing}/@type`) !== "ethernet") {
    return [{ op: "replace", path: existing, xml: tapInterface(binding) }];
  }
  const ops: PatchOp[] = [
    ...childOps(domain, existing, "target", { dev: binding.targetDev, managed: "no" }, xml`<target dev=${binding.targetDev} managed="no"/>`),
    ...childOps(domain, existing, "model", { type: binding.model }, xml`<model type=${binding.model}/>`),
  ];
  if (binding.mac !== undefined) ops.push(...childOps(domain, existing, "mac", { address: binding.mac }, xml`<mac address=${binding.mac}/>`));
  if (binding.mtu !== undefined) {
    const size = String(binding.mtu);
    ops.push(...childOps(domain, existing, "mtu", { size }, xml`<mtu size=${size}/>`));
  }
  ops.push(...childOps(domain, existing, "rom", { enabled: "no" }, xml`<rom enabled="no"/>`));
  return ops;
}

export function tapPatch(domainXml: Uint8Array, bindings: readonly TapBinding[]): PatchOp[] {
  const domain = new DocumentReader(domainXml);
  return bindings.flatMap((binding) => interfaceOps(domain, binding));
}

export function createTapPluginWith(settings: TapSettings): Plugin {
  return {
    name: "tap",
    hookPoints: ["OnDefineDomain"],
    onDefineDomain(context: DomainHookContext): Uint8Array {
      const bindingName = context.env.NETWORK_BINDING_PLUGIN_NAME || DEFAULT_BINDING_NAME;
      const ops = tapPatch(context.domainXml, tapBindings(context.vmi, bindingName, settings));
      return ops.length === 0 ? context.domainXml : (patch(context.domainXml, ops) as Uint8Array);
    },
  };
}

/**
 * Settings: `network-info` (DOMSPLICE_NETWORK_INFO), the downward API file with the CNI's MACs,
 * default /etc/podinfo/network-info; `sys-class-net` (DOMSPLICE_SYS_CLASS_NET), where the pod's
 * devices are seen, default /sys/class/net; `target-dev` (DOMSPLICE_TARGET_DEV): `auto`
 * (default: KubeVirt's tap name when such a device exists, else the pod interface), `pod`, `tap`.
 */
export const createTapPlugin: PluginFactory = (options: PluginOptions) => {
  const targetDev = (options.get("target-dev") || "auto") as TargetDevChoice;
  if (!TARGET_DEV_CHOICES.includes(targetDev)) {
    throw new PluginError(`option target-dev: ${JSON.stringify(targetDev)} is not one of ${TARGET_DEV_CHOICES.join(", ")}`);
  }
  return createTapPluginWith({
    networkInfoPath: options.get("network-info") || DEFAULT_NETWORK_INFO,
    sysClassNet: options.get("sys-class-net") || DEFAULT_SYS_CLASS_NET,
    targetDev,
  });
};
