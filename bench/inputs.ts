// Benchmark inputs: KubeVirt's own domain XML (examples/domain.xml, an unmodified copy of
// ../shared/corpus/kubevirt/domain.xml, 8 KB), and the same document grown to about 64 KB and
// 1 MB by repeating the children of <devices> (every copy brings its interface with a <rom>,
// so the edits scale with the input). Built in memory; bytes, as a hook receives them.

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface BenchInput {
  /** "8 KB", "64 KB", "1 MB" */
  label: string;
  bytes: Uint8Array;
}

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const DOMAIN_XML_PATH = path.join(repoRoot, "examples", "domain.xml");

/** `base` with the content of its <devices> element repeated until the whole is about `target` bytes. */
export function growDevices(base: string, target: number): string {
  const open = base.indexOf("<devices>");
  const close = base.indexOf("</devices>");
  if (open < 0 || close < 0) throw new Error("growDevices: no <devices> element");
  const contentStart = open + "<devices>".length;
  // The repeated unit is the content without its trailing indentation, so that copies line up.
  const content = base.slice(contentStart, base.lastIndexOf("\n", close));
  const head = base.slice(0, contentStart);
  const tail = base.slice(contentStart + content.length);
  const copies = Math.max(1, Math.round((target - head.length - tail.length) / content.length));
  return head + content.repeat(copies) + tail;
}

export function benchInputs(): BenchInput[] {
  const base = readFileSync(DOMAIN_XML_PATH, "utf8");
  const encoder = new TextEncoder();
  return [
    { label: "8 KB", bytes: encoder.encode(base) },
    { label: "64 KB", bytes: encoder.encode(growDevices(base, 64 * 1024)) },
    { label: "1 MB", bytes: encoder.encode(growDevices(base, 1024 * 1024)) },
  ];
}
