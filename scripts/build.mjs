// Builds what `npm ci` must leave ready: the WASM kernel (assembly/ -> embedded module in
// src/xml/kernel.wasm.generated.ts) and the Node bundles in dist/ (the package's `default`
// export and the CLI that bin/domsplice runs). Bun and Deno run src/ directly.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

await build({
  absWorkingDir: root,
  entryPoints: { index: "src/index.ts", cli: "src/cli.ts" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  sourcemap: false,
  logLevel: "warning",
});
