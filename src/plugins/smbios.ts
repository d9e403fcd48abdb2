// The smbios plugin: SMBIOS strings the guest reads (dmidecode) from VMI annotations, as
// KubeVirt's example sidecar cmd/sidecars/smbios does for `smbios.vm.kubevirt.io/baseBoardManufacturer`,
// generalised to every section and field libvirt's <sysinfo type="smbios"> knows.
//
// Annotations (prefix smbios.vm.kubevirt.io/), two spellings for the same entry:
//   <section><Field>     KubeVirt's own form: baseBoardManufacturer, systemProduct, biosVendor
//   <section>.<field>    the same, dotted: baseBoard.manufacturer, system.product, bios.vendor
//   oemStrings           one OEM string per line (<oemStrings>, type 11)
// Sections and fields are libvirt's (domaincommon.rng sysinfo-*-name), so what this plugin
// writes always validates. An unknown name under the prefix is refused: a typo must not boot a
// VM silently without the string its owner asked for.
//
// As a lossless patch: <os><smbios mode="sysinfo"/> is ensured (mode set on an existing
// <smbios>), <sysinfo type="smbios"> ensured, and each entry edited in place when virt-launcher
// already wrote it (KubeVirt writes empty <entry name="manufacturer"></entry> lines), added
// otherwise; nothing is duplicated. KubeVirt's sidecar unmarshals and re-marshals the whole
// domain (dropping what its Go structs do not know, e.g. passt's <source dev>); this one edits
// only the entries it names.

import { patch, DocumentReader, xml, type PatchOp } from "../index.ts";
import { PluginError, type DomainHookContext, type Plugin, type PluginFactory, type Vmi } from "./types.ts";

/** KubeVirt's annotation prefix (cmd/sidecars/smbios: smbios.vm.kubevirt.io/baseBoardManufacturer). */
export const SMBIOS_ANNOTATION_PREFIX = "smbios.vm.kubevirt.io/";

/** The sections with named entries and the entry names libvirt accepts in each (domaincommon.rng). */
export const SMBIOS_FIELDS: Readonly<Record<SmbiosSection, readonly string[]>> = Object.freeze({
  bios: ["vendor", "version", "date", "release"],
  system: ["manufacturer", "product", "version", "serial", "uuid", "sku", "family"],
  baseBoard: ["manufacturer", "product", "version", "serial", "asset", "location"],
  chassis: ["manufacturer", "version", "serial", "asset", "sku"],
});

export type SmbiosSection = "bios" | "system" | "baseBoard" | "chassis";
const SECTIONS = Object.keys(SMBIOS_FIELDS) as SmbiosSection[];

/** The annotation holding OEM strings, one per line. */
export const OEM_STRINGS_ANNOTATION = `${SMBIOS_ANNOTATION_PREFIX}oemStrings`;

/** One <entry name=field> the annotations ask for. */
export interface SmbiosEntry {
  readonly section: SmbiosSection;
  readonly field: string;
  readonly value: string;
  /** The annotation it came from, for messages. */
  readonly annotation: string;
}

export interface SmbiosRequest {
  readonly entries: readonly SmbiosEntry[];
  /** Undefined when the VMI has no oemStrings annotation (the domain's are left alone). */
  readonly oemStrings?: readonly string[];
}

const SYSINFO = "/domain/sysinfo[@type='smbios']";

function validNames(): string {
  const names = SECTIONS.flatMap((section) => SMBIOS_FIELDS[section].map((field) => `${section}${field[0].toUpperCase()}${field.slice(1)}`));
  return [...names, "oemStrings"].join(", ");
}

/** Which section and field an annotation key (after the prefix) names; undefined when none. */
function parseKey(key: string): { section: SmbiosSection; field: string } | undefined {
  const dot = key.indexOf(".");
  if (dot >= 0) {
    const section = key.slice(0, dot) as SmbiosSection;
    const field = key.slice(dot + 1);
    return SECTIONS.includes(section) && SMBIOS_FIELDS[section].includes(field) ? { section, field } : undefined;
  }
  for (const section of SECTIONS) {
    if (!key.startsWith(section) || key.length === section.length) continue;
    const rest = key.slice(section.length);
    // KubeVirt's camel case: the field starts upper-case (baseBoardManufacturer).
    if (rest[0] !== rest[0].toUpperCase()) continue;
    const field = rest[0].toLowerCase() + rest.slice(1);
    if (SMBIOS_FIELDS[section].includes(field)) return { section, field };
  }
  return undefined;
}

/** The SMBIOS strings a VMI's annotations ask for; refuses unknown names, conflicts and a system uuid. */
export function smbiosRequest(vmi: Vmi): SmbiosRequest {
  const annotations = vmi.metadata?.annotations ?? {};
  const entries = new Map<string, SmbiosEntry>();
  let oemStrings: string[] | undefined;
  for (const [annotation, value] of Object.entries(annotations)) {
    if (!annotation.startsWith(SMBIOS_ANNOTATION_PREFIX)) continue;
    if (typeof value !== "string") throw new PluginError(`annotation ${annotation}: the value is not a string`);
    if (annotation === OEM_STRINGS_ANNOTATION) {
      // One string per line; a trailing newline (YAML's `|` block) adds no empty string.
      oemStrings = value.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
      continue;
    }
    const key = annotation.slice(SMBIOS_ANNOTATION_PREFIX.length);
    const name = parseKey(key);
    if (!name) {
      throw new PluginError(`annotation ${annotation}: '${key}' is not an SMBIOS field libvirt knows; use one of ${validNames()} (or section.field, e.g. baseBoard.manufacturer)`);
    }
    if (name.section === "system" && name.field === "uuid") {
      // libvirt refuses a sysinfo uuid that differs from the domain's <uuid>, and KubeVirt
      // writes that one from spec.domain.firmware.uuid.
      throw new PluginError(`annotation ${annotation}: the system uuid must equal the domain's; set spec.domain.firmware.uuid instead`);
    }
    const id = `${name.section}.${name.field}`;
    const earlier = entries.get(id);
    if (earlier && earlier.value !== value) {
      throw new PluginError(`annotations ${earlier.annotation} and ${annotation} both set SMBIOS ${id} to different values`);
    }
    entries.set(id, { ...name, value, annotation });
  }
  // A stable order (libvirt's section order, then annotation order) so the output does not
  // depend on how the VMI's annotations happened to be ordered.
  const ordered = [...entries.values()].sort((a, b) => SECTIONS.indexOf(a.section) - SECTIONS.indexOf(b.section));
  return { entries: ordered, oemStrings };
}

/** The patch that writes a request into a domain (which decides between editing and adding <oemStrings>). */
export function smbiosOps(request: SmbiosRequest, domainXml: Uint8Array): PatchOp[] {
  const domain = new DocumentReader(domainXml);
  const ops: PatchOp[] = [];
  // An existing <smbios mode="host"> is switched, not joined by a second <smbios>. A domain
  // without <os> (a partial document, e.g. a migration's) gets none: an <os> holding only
  // <smbios> would be invalid, and virt-launcher always writes one.
  if (domain.query("/domain/os").length > 0) {
    ops.push({ op: "ensure", path: "/domain/os/smbios" }, { op: "set", path: "/domain/os/smbios/@mode", value: "sysinfo" });
  }
  ops.push({ op: "ensure", path: SYSINFO });
  for (const { section, field, value } of request.entries) {
    const entry = `${SYSINFO}/${section}/entry[@name='${field}']`;
    ops.push({ op: "ensure", path: entry }, { op: "replace", path: `${entry}/text()`, value });
  }
  if (request.oemStrings) {
    const oem = xml`<oemStrings>${request.oemStrings.map((text) => xml`<entry>${text}</entry>`)}</oemStrings>`;
    const present = domain.query(`${SYSINFO}/oemStrings`).length > 0;
    ops.push(present ? { op: "replace", path: `${SYSINFO}/oemStrings`, xml: oem } : { op: "add", path: SYSINFO, pos: "append", xml: oem });
  }
  return ops;
}

export const createSmbiosPlugin: PluginFactory = () => ({
  name: "smbios",
  hookPoints: ["OnDefineDomain"],
  onDefineDomain(context: DomainHookContext): Uint8Array {
    const request = smbiosRequest(context.vmi);
    // No annotation of ours: the domain goes back untouched (KubeVirt's sidecar does the same).
    if (request.entries.length === 0 && request.oemStrings === undefined) return context.domainXml;
    return patch(context.domainXml, smbiosOps(request, context.domainXml));
  },
}) satisfies Plugin;
