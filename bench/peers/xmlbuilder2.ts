// The three benchmark edits (bench/edits.ts) with xmlbuilder2: create() parses into its DOM,
// the builder API edits, end() serializes. Whitespace-only text is kept (the default drops it)
// so the output keeps the document's layout, as a hook must.

import { create } from "xmlbuilder2";
import type { XMLBuilder } from "xmlbuilder2/lib/interfaces.js";
import type { ElementSpec } from "../edits.ts";
import { PASST_INTERFACE } from "../edits.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function build(parent: XMLBuilder, spec: ElementSpec): void {
  const node = parent.ele(spec.name, spec.attributes);
  for (const child of spec.children) build(node, child);
}

const named = (name: string) => (node: XMLBuilder) => node.node.nodeName === name;

export function xmlbuilder2Patch(input: Uint8Array): Uint8Array {
  const document = create({ skipWhitespaceOnlyText: false }, decoder.decode(input));
  const domain = document.root();
  const cpu = domain.find(named("cpu"), false, false) ?? domain.ele("cpu");
  cpu.att("mode", "host-passthrough");
  const devices = domain.find(named("devices"), false, false);
  if (devices === undefined) throw new Error("xmlbuilder2: no <devices>");
  const roms: XMLBuilder[] = [];
  devices.each((child) => {
    if (child.node.nodeName === "interface") child.each((grandchild) => { if (grandchild.node.nodeName === "rom") roms.push(grandchild); });
  });
  for (const rom of roms) rom.remove();
  build(devices, PASST_INTERFACE);
  return encoder.encode(document.end({ headless: true, prettyPrint: false }));
}
