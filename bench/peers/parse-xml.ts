// The three benchmark edits (bench/edits.ts) with @rgrove/parse-xml: a strict, spec-following
// parser to a DOM-like tree; it has no serializer, so bench/peers/parse-xml-serializer.ts (ours,
// minimal) writes the result back.

import { parseXml, XmlElement } from "@rgrove/parse-xml";
import type { ElementSpec } from "../edits.ts";
import { PASST_INTERFACE } from "../edits.ts";
import { serializeXmlDocument } from "./parse-xml-serializer.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function build(spec: ElementSpec, parent: XmlElement | null): XmlElement {
  const node = new XmlElement(spec.name, { ...spec.attributes });
  node.parent = parent;
  for (const child of spec.children) node.children.push(build(child, node));
  return node;
}

const childNamed = (node: XmlElement, name: string): XmlElement | undefined =>
  node.children.find((c): c is XmlElement => c instanceof XmlElement && c.name === name);

export function parseXmlPatch(input: Uint8Array): Uint8Array {
  const document = parseXml(decoder.decode(input), {
    preserveComments: true,
    preserveCdata: true,
    preserveDocumentType: true,
    preserveXmlDeclaration: true,
  });
  const domain = document.root;
  if (domain === null || domain.name !== "domain") throw new Error("parse-xml: no <domain>");
  let cpu = childNamed(domain, "cpu");
  if (cpu === undefined) {
    cpu = new XmlElement("cpu");
    cpu.parent = domain;
    domain.children.push(cpu);
  }
  cpu.attributes.mode = "host-passthrough";
  const devices = childNamed(domain, "devices");
  if (devices === undefined) throw new Error("parse-xml: no <devices>");
  for (const child of devices.children) {
    if (child instanceof XmlElement && child.name === "interface") {
      child.children = child.children.filter((c) => !(c instanceof XmlElement && c.name === "rom"));
    }
  }
  devices.children.push(build(PASST_INTERFACE, devices));
  return encoder.encode(serializeXmlDocument(document));
}
