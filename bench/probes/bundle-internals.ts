// Bundles a checkout's src/ with esbuild as the package build does (the WASM module is the one
// embedded in ROOT/src/xml/kernel.wasm.generated.ts; nothing is rebuilt), exporting beside the
// public API the internals the probes time apart: applyToTable (apply without its tokenize),
// tokenizeLent and releaseLentTable. Used by apply-ab.ts and patch-breakdown.ts.

import { build } from "esbuild";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { nodeBundleOptions } from "../../scripts/node-bundle.mjs";

export type Internals = typeof import("../../src/index.ts") & {
  applyToTable: typeof import("../../src/xml/plan.ts").applyToTable;
  tokenizeLent: typeof import("../../src/xml/tokenizer.ts").tokenizeLent;
  releaseLentTable: typeof import("../../src/xml/wasm.ts").releaseLentTable;
};

/** Bundles `root`'s src/ into `outfile` and imports it. */
export async function bundleInternals(root: string, outfile: string): Promise<Internals> {
  await build({
    absWorkingDir: root,
    stdin: {
      contents: `export * from "./src/index.ts"; export { applyToTable } from "./src/xml/plan.ts"; export { tokenizeLent } from "./src/xml/tokenizer.ts"; export { releaseLentTable } from "./src/xml/wasm.ts";`,
      resolveDir: root,
      sourcefile: "probe-entry.ts",
      loader: "ts",
    },
    outfile,
    ...nodeBundleOptions,
  });
  return import(pathToFileURL(path.resolve(outfile)).href);
}
