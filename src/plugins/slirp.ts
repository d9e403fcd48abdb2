// The slirp network binding: QEMU's user-mode network stack for each interface bound to it,
// as KubeVirt's network-slirp-binding sidecar did before KubeVirt removed it
// (cmd/sidecars/network-slirp-binding/domain/domain.go, dns/resolvconf.go): a `-netdev user`
// and a `-device` argument pair per interface in <qemu:commandline>, as a lossless patch.
//
// Nothing is added twice: the arguments of an interface already on the command line (found by
// their id, which is the interface name) are brought up to date in place, the rest appended.

import { readFileSync } from "node:fs";
import { patch, DocumentReader, xml, type PatchOp, type XmlFragment } from "../index.ts";
import { PluginError, type DomainHookContext, type Plugin, type PluginFactory, type PluginOptions, type Vmi, type VmiInterface, type VmiNetwork } from "./types.ts";

/** The binding name when KubeVirt does not say (NETWORK_BINDING_PLUGIN_NAME unset). */
export const DEFAULT_BINDING_NAME = "slirp";

/** QEMU's own default user network, and KubeVirt's (api.DefaultVMCIDR). */
export const DEFAULT_VM_NETWORK_CIDR = "10.0.2.0/24";

export const DEFAULT_RESOLV_CONF = "/etc/resolv.conf";

/** What KubeVirt searches when the pod's resolv.conf names no search domain. */
const DEFAULT_SEARCH_DOMAIN = "cluster.local";

export const QEMU_NAMESPACE = "http://libvirt.org/schemas/domain/qemu/1.0";

/** The NIC models QEMU's slirp works with; any other model becomes the first. */
export const SLIRP_MODELS: readonly string[] = ["e1000", "rtl8139"];

const COMMANDLINE = "/domain/qemu:commandline[1]";

/**
 * The search domains of a resolv.conf, as KubeVirt's dns.ParseSearchDomains reads them: every
 * `search` line, in order, lower-cased (Kubernetes names are); none at all -> cluster.local.
 */
export function searchDomains(resolvConf: string): string[] {
  const domains: string[] = [];
  for (const line of resolvConf.split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== "search") continue;
    for (const domain of fields.slice(1)) domains.push(domain.toLowerCase());
  }
  return domains.length > 0 ? domains : [DEFAULT_SEARCH_DOMAIN];
}

/** QEMU's option syntax: a comma inside a value is written twice. */
const optionValue = (value: string) => value.replaceAll(",", ",,");

function vmNetworkCidr(iface: VmiInterface, network: VmiNetwork): string {
  const cidr = network.pod?.vmNetworkCIDR;
  if (cidr === undefined || cidr === "") return DEFAULT_VM_NETWORK_CIDR;
  const fields = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (fields === null || fields.slice(1, 5).some((octet) => Number(octet) > 255) || Number(fields[5]) > 32) {
    throw new PluginError(`interface ${JSON.stringify(iface.name)}: invalid vmNetworkCIDR ${JSON.stringify(cidr)} in network ${JSON.stringify(network.name)} (expected an IPv4 CIDR, e.g. 10.0.2.0/24)`);
  }
  return cidr;
}

/** hostfwd entries: each distinct protocol/port once (QEMU exits on a port forwarded twice). */
function hostForwards(iface: VmiInterface): string[] {
  const forwards: string[] = [];
  for (const port of iface.ports ?? []) {
    if (!Number.isInteger(port?.port) || port.port <= 0 || port.port > 65535) {
      throw new PluginError(`interface ${JSON.stringify(iface.name)}: invalid port ${JSON.stringify(port?.port)}`);
    }
    const protocol = (port.protocol || "TCP").toLowerCase();
    if (protocol !== "tcp" && protocol !== "udp") {
      throw new PluginError(`interface ${JSON.stringify(iface.name)}: port ${port.port} has protocol ${JSON.stringify(port.protocol)}; slirp forwards only TCP and UDP`);
    }
    const forward = `hostfwd=${protocol}::${port.port}-:${port.port}`;
    if (!forwards.includes(forward)) forwards.push(forward);
  }
  return forwards;
}

/** The `-netdev` value: user,id=<iface>,net=<cidr>[,dnssearch=...][,hostfwd=...]. */
export function netdevArgument(iface: VmiInterface, network: VmiNetwork, domains: readonly string[]): string {
  const options = [`user`, `id=${optionValue(iface.name)}`, `net=${vmNetworkCidr(iface, network)}`];
  for (const domain of domains) options.push(`dnssearch=${optionValue(domain)}`);
  options.push(...hostForwards(iface));
  return options.join(",");
}

/** The `-device` value: QEMU's JSON form, e1000 or rtl8139, with the VMI's MAC when it has one. */
export function deviceArgument(iface: VmiInterface): string {
  const driver = iface.model !== undefined && SLIRP_MODELS.includes(iface.model) ? iface.model : SLIRP_MODELS[0];
  const device: Record<string, string> = { driver, netdev: iface.name, id: iface.name };
  if (iface.macAddress !== undefined && iface.macAddress !== "") device.mac = iface.macAddress;
  return JSON.stringify(device);
}

/** One interface's arguments, in the order KubeVirt wrote them. */
export interface SlirpArguments {
  readonly iface: VmiInterface;
  readonly netdev: string;
  readonly device: string;
}

/** The interfaces bound to this plugin and their arguments; none bound is a refusal. */
export function slirpArguments(vmi: Vmi, bindingName: string, domains: readonly string[]): SlirpArguments[] {
  const interfaces = (vmi.spec?.domain?.devices?.interfaces ?? []).filter((candidate) => candidate?.binding?.name === bindingName);
  if (interfaces.length === 0) {
    throw new PluginError(`no interface in spec.domain.devices.interfaces is set with the ${JSON.stringify(bindingName)} network binding plugin`);
  }
  return interfaces.map((iface) => {
    const network = (vmi.spec?.networks ?? []).find((candidate) => candidate?.name === iface.name);
    if (network === undefined) {
      throw new PluginError(`interface ${JSON.stringify(iface.name)} has no network of the same name in spec.networks`);
    }
    return { iface, netdev: netdevArgument(iface, network, domains), device: deviceArgument(iface) };
  });
}

/** The comma-separated options of a -netdev / legacy -device value, or a JSON -device's fields. */
function argumentId(value: string): { id?: string; netdev?: string } {
  if (value.trimStart().startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed !== null && typeof parsed === "object") {
        const { id, netdev } = parsed as Record<string, unknown>;
        return { id: typeof id === "string" ? id : undefined, netdev: typeof netdev === "string" ? netdev : undefined };
      }
    } catch {
      // Not JSON after all: not one of ours.
    }
    return {};
  }
  const found: { id?: string; netdev?: string } = {};
  for (const option of value.split(",")) {
    if (option.startsWith("id=")) found.id = option.slice(3);
    else if (option.startsWith("netdev=")) found.netdev = option.slice(7);
  }
  return found;
}

/** The <qemu:arg> values of the first <qemu:commandline>, by position (an arg without value is ""). */
function commandLineArguments(domain: DocumentReader): string[] {
  const args = domain.query(`${COMMANDLINE}/qemu:arg`, { namespaces: { qemu: QEMU_NAMESPACE } });
  const values = new Map(domain.query(`${COMMANDLINE}/qemu:arg/@value`, { namespaces: { qemu: QEMU_NAMESPACE } }).map((match) => [match.start, match.value]));
  return args.map((match) => values.get(match.start) ?? "");
}

/**
 * The qemu prefix must name libvirt's QEMU namespace where the arguments go: declared on
 * <domain> (libvirt's own form; added when missing) or on an existing <qemu:commandline>.
 */
function namespaceOps(domain: DocumentReader, hasCommandLine: boolean): PatchOp[] {
  const declared = domain.value("/domain/@xmlns:qemu");
  if (declared !== undefined && declared !== QEMU_NAMESPACE) {
    throw new PluginError(`the domain binds the prefix qemu to ${JSON.stringify(declared)}, not libvirt's QEMU namespace ${QEMU_NAMESPACE}`);
  }
  if (hasCommandLine) {
    // Written with another prefix (xmlns:q=...): our qemu:arg children would not be in its namespace.
    const local = domain.value(`${COMMANDLINE}/@xmlns:qemu`, { namespaces: { qemu: QEMU_NAMESPACE } });
    if (declared === undefined && local !== QEMU_NAMESPACE) {
      throw new PluginError(`the domain's qemu:commandline uses a prefix other than qemu for ${QEMU_NAMESPACE}; write it as qemu:commandline`);
    }
    return [];
  }
  return declared === undefined ? [{ op: "set", path: "/domain/@xmlns:qemu", value: QEMU_NAMESPACE }] : [];
}

/** The whole edit: arguments already there updated in place, missing ones appended. */
export function slirpPatch(domainXml: Uint8Array, wanted: readonly SlirpArguments[]): PatchOp[] {
  const domain = new DocumentReader(domainXml);
  const hasCommandLine = domain.query(COMMANDLINE, { namespaces: { qemu: QEMU_NAMESPACE } }).length > 0;
  const ops = namespaceOps(domain, hasCommandLine);
  const values = commandLineArguments(domain);
  const appended: string[] = [];
  for (const { iface, netdev, device } of wanted) {
    const pairs: [flag: string, value: string, ours: (value: string) => boolean][] = [
      ["-netdev", netdev, (value) => argumentId(value).id === iface.name],
      ["-device", device, (value) => { const found = argumentId(value); return found.id === iface.name || found.netdev === iface.name; }],
    ];
    for (const [flag, value, ours] of pairs) {
      const at = values.findIndex((candidate, index) => candidate === flag && index + 1 < values.length && ours(values[index + 1]));
      if (at < 0) {
        appended.push(flag, value);
      } else if (values[at + 1] !== value) {
        // qemu:arg[n] counts <qemu:arg> siblings from 1; the value follows its flag.
        ops.push({ op: "set", path: `${COMMANDLINE}/qemu:arg[${at + 2}]/@value`, value, namespaces: { qemu: QEMU_NAMESPACE } });
      }
    }
  }
  if (appended.length === 0) return ops;
  const args: XmlFragment[] = appended.map((value) => xml`<qemu:arg value=${value}/>`);
  if (hasCommandLine) {
    ops.push({ op: "add", path: COMMANDLINE, pos: "append", xml: xml`${args}`, namespaces: { qemu: QEMU_NAMESPACE } });
  } else {
    // Last in <domain>, where libvirt writes it.
    ops.push({ op: "add", path: "/domain", pos: "append", xml: xml`<qemu:commandline>${args}</qemu:commandline>` });
  }
  return ops;
}

export function createSlirpPluginWith(domains: readonly string[]): Plugin {
  return {
    name: "slirp",
    hookPoints: ["OnDefineDomain"],
    onDefineDomain(context: DomainHookContext): Uint8Array {
      const bindingName = context.env.NETWORK_BINDING_PLUGIN_NAME || DEFAULT_BINDING_NAME;
      const wanted = slirpArguments(context.vmi, bindingName, domains);
      const ops = slirpPatch(context.domainXml, wanted);
      return ops.length === 0 ? context.domainXml : (patch(context.domainXml, ops) as Uint8Array);
    },
  };
}

/**
 * Setting `resolv-conf` (DOMSPLICE_RESOLV_CONF): the resolv.conf whose search domains the guest
 * gets, default /etc/resolv.conf (the pod's, which the sidecar shares). Read once at start-up,
 * as KubeVirt's sidecar did: it does not change for the life of the pod.
 */
export const createSlirpPlugin: PluginFactory = (options: PluginOptions) => {
  const path = options.get("resolv-conf") || DEFAULT_RESOLV_CONF;
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch (error) {
    throw new PluginError(`option resolv-conf: cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return createSlirpPluginWith(searchDomains(content));
};
