// `node scripts/bench-hooks.mjs`: the hook server's benchmarks (bench/hooks.ts). Bundles them
// with esbuild and runs them under plain Node, as scripts/bench.mjs does for the engine, so no
// transpiling loader sits in the client side of the timed calls. Arguments are passed on:
// node scripts/bench-hooks.mjs --quick
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodeBundleOptions } from "./node-bundle.mjs";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outfile = path.join(root, "build", "bench-hooks.mjs"); // build/: same depth as bench/, see hooks.ts's repoRoot
await build({
  absWorkingDir: root,
  entryPoints: ["bench/hooks.ts"],
  outfile,
  ...nodeBundleOptions,
});
const run = spawnSync(process.execPath, [outfile, ...process.argv.slice(2)], { cwd: root, stdio: "inherit" });
process.exit(run.status ?? 1);
