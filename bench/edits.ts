// The benchmark's one job, stated once for every contender: on a KubeVirt domain,
//   1. ensure /domain/cpu exists and set its mode to host-passthrough,
//   2. append a passt <interface> to /domain/devices,
//   3. remove every <rom> under an interface.
// domsplice gets it as a patch document; the DOM peers build the same interface from
// PASST_INTERFACE. verifyEdits() judges any contender's output the same way (by parsing it with
// a strict parser and counting), so a peer that skipped an edit cannot win by accident.

import { parseXml, XmlElement } from "@rgrove/parse-xml";

/** An element to create: name, attributes in order, child elements. */
export interface ElementSpec {
  name: string;
  attributes: Record<string, string>;
  children: ElementSpec[];
}

const element = (name: string, attributes: Record<string, string>, children: ElementSpec[] = []): ElementSpec => ({
  name,
  attributes,
  children,
});

/** The interface KubeVirt's passt binding adds (backend passt, port forwards). */
export const PASST_INTERFACE: ElementSpec = element("interface", { type: "vhostuser" }, [
  element("source", { dev: "eth0" }),
  element("backend", { type: "passt", logFile: "/var/run/kubevirt/passt.log" }),
  element("model", { type: "virtio-non-transitional" }),
  element("alias", { name: "ua-passt" }),
  element("portForward", { proto: "tcp" }, [element("range", { start: "8080" }), element("range", { start: "15000", exclude: "yes" })]),
]);

/** The spec as XML text (attribute values here need no escaping), explicit end tags. */
export function specToXml(spec: ElementSpec): string {
  let text = `<${spec.name}`;
  for (const [name, value] of Object.entries(spec.attributes)) text += ` ${name}="${value}"`;
  text += ">";
  for (const child of spec.children) text += specToXml(child);
  return `${text}</${spec.name}>`;
}

function countElements(spec: ElementSpec): number {
  return 1 + spec.children.reduce((sum, child) => sum + countElements(child), 0);
}

/** The three edits as a domsplice patch document (DESIGN.md "Library API"). */
export const PATCH_OPS = [
  { op: "ensure", path: "/domain/cpu" },
  { op: "set", path: "/domain/cpu/@mode", value: "host-passthrough" },
  { op: "add", path: "/domain/devices", pos: "append", xml: specToXml(PASST_INTERFACE) },
  { op: "remove", path: "/domain/devices/interface/rom" },
] as const;

interface Census {
  elements: number;
  interfaces: number;
  roms: number;
  cpu: XmlElement | undefined;
  lastInterface: XmlElement | undefined;
}

function census(text: string): Census {
  const domain = parseXml(text).root;
  if (domain === null || domain.name !== "domain") throw new Error("no <domain> root");
  let elements = 0;
  const walk = (node: XmlElement): void => {
    elements++;
    for (const child of node.children) if (child instanceof XmlElement) walk(child);
  };
  walk(domain);
  const children = (node: XmlElement | undefined, name: string) =>
    (node?.children ?? []).filter((c): c is XmlElement => c instanceof XmlElement && c.name === name);
  const devices = children(domain, "devices")[0];
  const interfaces = children(devices, "interface");
  return {
    elements,
    interfaces: interfaces.length,
    roms: interfaces.reduce((sum, iface) => sum + children(iface, "rom").length, 0),
    cpu: children(domain, "cpu")[0],
    lastInterface: interfaces.at(-1),
  };
}

/**
 * Throws unless `output` is `input` with exactly the three edits: cpu mode set, one passt
 * interface appended (as the last interface), no <rom> left under any interface, and no other
 * element gained or lost.
 */
export function verifyEdits(contender: string, input: string, output: string): void {
  const before = census(input);
  const after = census(output);
  const fail = (what: string) => {
    throw new Error(`${contender}: output does not carry the edits: ${what}`);
  };
  if (after.cpu?.attributes.mode !== "host-passthrough") fail("/domain/cpu/@mode is not host-passthrough");
  if (after.roms !== 0) fail(`${after.roms} <rom> left under interfaces`);
  if (after.interfaces !== before.interfaces + 1) fail(`${after.interfaces} interfaces, expected ${before.interfaces + 1}`);
  const last = after.lastInterface;
  if (last?.attributes.type !== "vhostuser" || !last.children.some((c) => c instanceof XmlElement && c.name === "backend" && c.attributes.type === "passt")) {
    fail("the last interface is not the passt one");
  }
  const expected = before.elements - before.roms + countElements(PASST_INTERFACE) + (before.cpu ? 0 : 1);
  if (after.elements !== expected) fail(`${after.elements} elements, expected ${expected}`);
}
