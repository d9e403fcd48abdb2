// `node scripts/bench-limits.mjs` (npm run bench:limits): the sidecar under KubeVirt's sidecar
// limits (bench/limits.ts). Bundles it with esbuild and runs it under plain Node, as
// scripts/bench-hooks.mjs does, so no transpiling loader sits in the client side of the timed
// calls. Arguments are passed on: npm run bench:limits -- --quick
import { build } from "esbuild";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nodeBundleOptions } from "./node-bundle.mjs";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outfile = path.join(root, "build", "bench-limits.mjs"); // build/: same depth as bench/, see limits.ts's repoRoot
await build({
  absWorkingDir: root,
  entryPoints: ["bench/limits.ts"],
  outfile,
  ...nodeBundleOptions,
});
// A signal to this launcher is passed on to the benchmark, which removes its cgroups and exits.
const child = spawn(process.execPath, [outfile, ...process.argv.slice(2)], { cwd: root, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[signal] ?? 0) : 1)));
