// The three benchmark edits (bench/edits.ts) with txml: parse to its light node tree, edit the
// tree, txml's own stringify(). Whitespace and comments are kept so the output resembles the
// input; entities are neither decoded nor re-encoded (txml's fastest and still correct mode,
// since text is carried through raw). selfClosingTags is emptied: txml's default treats HTML void
// elements as childless, which breaks libvirt's <input ...></input>.

import { parse, stringify, type TNode } from "txml/txml";
import type { ElementSpec } from "../edits.ts";
import { PASST_INTERFACE } from "../edits.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function build(spec: ElementSpec): TNode {
  return { tagName: spec.name, attributes: { ...spec.attributes }, children: spec.children.map(build) };
}

const isElement = (node: TNode | string, name: string): node is TNode => typeof node !== "string" && node.tagName === name;

export function txmlPatch(input: Uint8Array): Uint8Array {
  const nodes = parse(decoder.decode(input), { keepWhitespace: true, keepComments: true, selfClosingTags: [] });
  const domain = nodes.find((n): n is TNode => isElement(n, "domain"));
  if (domain === undefined) throw new Error("txml: no <domain>");
  let cpu = domain.children.find((n): n is TNode => isElement(n, "cpu"));
  if (cpu === undefined) {
    cpu = { tagName: "cpu", attributes: {}, children: [] };
    domain.children.push(cpu);
  }
  cpu.attributes.mode = "host-passthrough";
  const devices = domain.children.find((n): n is TNode => isElement(n, "devices"));
  if (devices === undefined) throw new Error("txml: no <devices>");
  for (const child of devices.children) {
    if (isElement(child, "interface")) child.children = child.children.filter((n) => !isElement(n, "rom"));
  }
  devices.children.push(build(PASST_INTERFACE));
  return encoder.encode(stringify(nodes, { keepWhitespace: true, selfCloseEmpty: false }));
}
