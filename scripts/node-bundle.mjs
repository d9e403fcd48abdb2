// The esbuild options every Node bundle of this repository shares (the package's dist/, the
// benchmark runner, the profiling and CLI-test rebuilds): ESM for Node 20, dependencies left
// as imports, so a bundle measures and ships exactly the project's own code. Also how the
// benchmark and the CLI test tell a stale bundle.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

export const nodeBundleOptions = Object.freeze({
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});

/**
 * The command line's bundle: code splitting (ESM chunks under dist/chunks/), so the code that
 * `domsplice serve` and `hook` load with import() (the hook server, grpc-js's import, the
 * plugins) stays out of what `patch` and `check` parse at start-up. Needs `outdir`.
 */
export const nodeCliBundleOptions = Object.freeze({
  ...nodeBundleOptions,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});

/** Newest modification time (ms) of any file under `dir`: a bundle older than it is stale. */
export function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}
