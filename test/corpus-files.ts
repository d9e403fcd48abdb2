// Where the shared test corpora are, and which of their files the tests read: the libvirt,
// KubeVirt and tricky domain documents, and the W3C cases of xmlconf/SELECTION.tsv.
// ../shared/corpus beside the repository, or DOMSPLICE_CORPUS.
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const corpus = process.env.DOMSPLICE_CORPUS ?? path.resolve(repoRoot, "../shared/corpus");

function xmlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...xmlFilesUnder(full));
    else if (name.endsWith(".xml")) out.push(full);
  }
  return out;
}

/** Every libvirt, KubeVirt and tricky domain document, sorted by path. */
export function domainCorpusFiles(): string[] {
  return ["libvirt-domains", "kubevirt", "tricky"].flatMap((d) => xmlFilesUnder(path.join(corpus, d)));
}
