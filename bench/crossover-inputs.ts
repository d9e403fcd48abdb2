// Inputs of bench/crossover.ts: KubeVirt's domain XML at 300 B and 1 KB (its first <devices>
// child repeated in a minimal domain), as shipped (8 KB), and grown to 64 KB and 1 MB by
// repeating the <devices> children (bench/inputs.ts).

import { DOMAIN_XML_PATH, growDevices } from "./inputs.ts";

export interface CrossoverInput {
  label: string;
  bytes: Uint8Array;
}

/** `readFile` is node:fs readFileSync, passed in so this module stays import-light. */
export function crossoverInputs(readFile: (path: string, encoding: "utf8") => string): CrossoverInput[] {
  const base = readFile(DOMAIN_XML_PATH, "utf8");
  const encoder = new TextEncoder();
  const smallDomain = (size: number): string => {
    const open = base.indexOf("<devices>") + "<devices>".length;
    const child = base.slice(open, base.indexOf("</interface>", open) + "</interface>".length);
    let devices = "";
    do devices += child;
    while (devices.length + child.length < size - 150);
    return `<domain type="kvm" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">\n  <name>vm</name>\n  <devices>${devices}\n  </devices>\n</domain>\n`;
  };
  return [
    { label: "300 B", bytes: encoder.encode(smallDomain(300)) },
    { label: "1 KB", bytes: encoder.encode(smallDomain(1024)) },
    { label: "8 KB", bytes: encoder.encode(base) },
    { label: "64 KB", bytes: encoder.encode(growDevices(base, 64 * 1024)) },
    { label: "1 MB", bytes: encoder.encode(growDevices(base, 1024 * 1024)) },
  ];
}
