// `npm run bench`: bundles bench/run.ts with esbuild and runs it under plain Node, so that no
// transpiling loader sits in the timed code (tsx also transforms the imported dist/ bundle and
// adds a helper call per closure, ~9% of apply at 8 KB). domsplice itself is still loaded as
// users get it, through package.json `exports` (bench/run.ts rebuilds dist/ when stale).
// Arguments are passed on: npm run bench -- --quick
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodeBundleOptions } from "./node-bundle.mjs";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outfile = path.join(root, "build", "bench-run.mjs"); // build/: same depth as bench/, see run.ts's repoRoot
await build({
  absWorkingDir: root,
  entryPoints: ["bench/run.ts"],
  outfile,
  ...nodeBundleOptions,
});
const run = spawnSync(process.execPath, [outfile, ...process.argv.slice(2)], { cwd: root, stdio: "inherit" });
process.exit(run.status ?? 1);
