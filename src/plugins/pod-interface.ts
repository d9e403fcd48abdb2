// KubeVirt's names for a VMI network's interfaces inside the virt-launcher pod
// (pkg/network/namescheme and pkg/network/link): which pod interface the CNI made for a network,
// and which tap device KubeVirt's `domainAttachmentType: tap` expects beside it. Shared by the
// network binding plugins that attach the guest to a pod interface (tap; passt reads status only).

import { createHash } from "node:crypto";
import type { Vmi, VmiNetwork } from "./types.ts";

/** The pod's primary interface (namescheme.PrimaryPodInterfaceName). */
export const PRIMARY_POD_INTERFACE_NAME = "eth0";

/** KubeVirt's prefix for aliases of devices named in the VMI (api.UserAliasPrefix). */
export const USER_ALIAS_PREFIX = "ua-";

// The kernel allows 15 characters; KubeVirt keeps 4 for its "-nic" suffix: "pod" + 11 hex digits.
const HASHED_NAME_PREFIX = "pod";
const HASHED_NAME_DIGITS = 11;

/** A Multus network that is not the pod's default one: its interface gets a hashed name. */
export function isSecondaryMultusNetwork(network: VmiNetwork): boolean {
  return network.multus !== undefined && network.multus !== null && network.multus.default !== true;
}

/** namescheme.GenerateHashedInterfaceName: "pod" + the first 11 hex digits of sha256(network name). */
export function hashedPodInterfaceName(networkName: string): string {
  return HASHED_NAME_PREFIX + createHash("sha256").update(networkName, "utf8").digest("hex").slice(0, HASHED_NAME_DIGITS);
}

/**
 * The pod interface of a VMI network: what virt-handler reported in status.interfaces[]
 * (it knows when the pod uses the older ordinal names, net1, net2, ...), else KubeVirt's
 * hashed scheme: eth0 for the pod network or Multus default network, pod<hash> otherwise.
 */
export function podInterfaceName(vmi: Vmi, network: VmiNetwork): string {
  const status = (vmi.status?.interfaces ?? []).find((candidate) => candidate?.name === network.name);
  if (typeof status?.podInterfaceName === "string" && status.podInterfaceName !== "") return status.podInterfaceName;
  return isSecondaryMultusNetwork(network) ? hashedPodInterfaceName(network.name) : PRIMARY_POD_INTERFACE_NAME;
}

/**
 * link.GenerateTapDeviceName: the tap virt-launcher points a `domainAttachmentType: tap`
 * interface at: "tap0" for the primary network, "tap" + the pod interface name without its
 * three-letter prefix ("pod" or "net") for a secondary one.
 */
export function tapDeviceName(podInterface: string, network: VmiNetwork): string {
  return isSecondaryMultusNetwork(network) ? "tap" + podInterface.slice(3) : "tap0";
}
