// libvirt's own RelaxNG schema for domain XML (Debian package libvirt-clients, installed by
// .ci/run), through xmllint: plugins' outputs must validate wherever their inputs did.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { patch } from "../src/index.ts";

export const DOMAIN_SCHEMA = "/usr/share/libvirt/schemas/domain.rng";

export interface SchemaVerdict {
  readonly valid: boolean;
  /** xmllint's messages (stderr), for assertion messages. */
  readonly messages: string;
}

/** Validates a domain document against libvirt's domain.rng (throws when the schema is not installed). */
export function validateDomain(domainXml: Uint8Array | string): SchemaVerdict {
  if (!existsSync(DOMAIN_SCHEMA)) {
    throw new Error(`${DOMAIN_SCHEMA} is missing: apt-get install libvirt-clients libxml2-utils (.ci/run does)`);
  }
  const run = spawnSync("xmllint", ["--noout", "--relaxng", DOMAIN_SCHEMA, "-"], { input: domainXml, encoding: "utf8" });
  if (run.error) throw run.error;
  return { valid: run.status === 0, messages: run.stderr };
}

/**
 * KubeVirt's example domain (corpus kubevirt/domain.xml, virt-launcher's real format) made to
 * pass libvirt's schema, edited with domsplice itself: it fails by itself because of empty
 * sysinfo children (<bios></bios>, empty <entry>) and name= on block disk sources, neither of
 * which any plugin touches. Plugin tests use it to show their outputs stay schema-valid.
 */
export function schemaValidKubevirtDomain(domainXml: Uint8Array): Uint8Array {
  return patch(domainXml, [
    { op: "remove", path: "/domain/sysinfo/bios" },
    { op: "remove", path: "/domain/sysinfo/baseBoard" },
    { op: "remove", path: "/domain/sysinfo/chassis" },
    { op: "remove", path: "/domain/sysinfo/system/entry[@name='manufacturer']" },
    { op: "remove", path: "/domain/sysinfo/system/entry[@name='family']" },
    { op: "remove", path: "/domain/sysinfo/system/entry[@name='product']" },
    { op: "remove", path: "/domain/sysinfo/system/entry[@name='sku']" },
    { op: "remove", path: "/domain/sysinfo/system/entry[@name='version']" },
    { op: "remove", path: "/domain/devices/disk/source/@name" },
  ]) as Uint8Array;
}

// libvirt's schema as installed here (Debian 12: libvirt 9.0) predates vhost-user with a passt
// backend (libvirt 11.1): there, a vhostuser interface must name a unix socket. Where the schema
// does not know it, passt's vhostuser interfaces are checked as type="user" (same children, same
// attributes: what the old schema accepts for passt), and everything else as it is.
let knowsVhostuserPasst: boolean | undefined;

/** Whether the installed schema accepts a vhostuser interface with a passt backend (asked once, of a minimal domain). */
export function schemaKnowsVhostuserPasst(): boolean {
  knowsVhostuserPasst ??= validateDomain(
    `<domain type="kvm"><name>x</name><memory>1024</memory><os><type>hvm</type></os><devices><interface type="vhostuser"><source dev="eth0"/><backend type="passt"/></interface></devices></domain>`,
  ).valid;
  return knowsVhostuserPasst;
}

/** validateDomain for domains holding passt interfaces, valid on this schema whether or not it knows vhost-user passt. */
export function validatePasstDomain(domainXml: Uint8Array | string): SchemaVerdict {
  if (schemaKnowsVhostuserPasst()) return validateDomain(domainXml);
  const asUserType = patch(domainXml, [{ op: "set", path: "/domain/devices/interface[backend/@type='passt' and @type='vhostuser']/@type", value: "user", optional: true }]);
  return validateDomain(asUserType);
}
