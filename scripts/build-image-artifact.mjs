// Builds dist/domsplice: the one executable the sidecar image ships (Dockerfile.bun runs this
// same script in its build stage). Bun.build with `compile` of src/cli.ts, the options the
// command line spells `bun build --compile --bytecode --minify --compile-jit-policy=100
// --no-compile-autoload-dotenv --no-compile-autoload-bunfig` (IMAGE_ARTIFACT_BUN_FLAGS), plus
// one plugin the command line has no flag for (lazyRequires below): the Bun runtime, the bundled
// code (grpc-js, the engine, the plugins) as precompiled bytecode, and the WASM kernel (embedded
// in src/xml/kernel.wasm.generated.ts, so no file is read at run time).
// Bun.build runs only under Bun: under Node this script runs itself again with Bun
// (bunBinary()). bench:hooks (bench/hooks/targets.ts) and the probes compile their Bun
// binaries with compileExecutable() from here, so what they measure is built as the image's
// executable is.
//
// Usage: node scripts/build-image-artifact.mjs [--target bun-linux-x64|bun-linux-arm64|...]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.join(root, "dist", "domsplice");
const script = path.join(root, "scripts", "build-image-artifact.mjs");

// jitPolicy 100 (--compile-jit-policy=100): JavaScriptCore's tier-up thresholds x100, so code a
// sidecar runs a few times per VM stays in the interpreter instead of holding JIT code and
// compiler memory. bench:limits, one run, two builds each (README "Under KubeVirt's sidecar
// limits"): RssAnon 2 s after the last call 23.1/22.7 -> 16.3/15.5 MB, idle VmHWM 52.3 -> 48.7
// MB; an 8 KB call 0.36 -> 0.5 ms inside the server, the same end to end within noise.
// (--compile-exec-argv=--smol was measured too and gained nothing.)
// autoloadDotenv/autoloadBunfig false: the executable does not look for .env and bunfig.toml in
// its working directory at start (a sidecar has no use for them): ready time ~0.4 ms less
// (bench/probes/ready-builds.ts, 100 interleaved rounds).
const COMPILE_OPTIONS = Object.freeze({ jitPolicy: 100, autoloadDotenv: false, autoloadBunfig: false });
const BUILD_OPTIONS = Object.freeze({ bytecode: true, minify: true });

/** The same build as `bun build` flags (for reports; the plugin below has no flag). */
export const IMAGE_ARTIFACT_BUN_FLAGS = Object.freeze([
  "--compile",
  "--bytecode",
  "--minify",
  `--compile-jit-policy=${COMPILE_OPTIONS.jitPolicy}`,
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
]);

/**
 * Node built-ins that @grpc/grpc-js requires at the top of a module but a hook server uses late
 * or never: http and url (http_proxy.js, the client's HTTP CONNECT proxy), dns (resolver-dns.js,
 * client name resolution), os (service-config.js, subchannel-call.js: inside functions), zlib
 * (compression-filter.js, server-interceptors.js: compressed messages only) and tls
 * (instanceof checks and the client's secure channels). In grpc-js's own modules each such
 * `const x = require("mod");` becomes an object that requires the module at its first property
 * read, which is how grpc-js uses them (x.fn(...), new x.Class(...), instanceof x.Class), so
 * the server behaves the same and pays for them only if it uses them: loading node:http alone
 * costs Bun ~1 ms at start-up. bench/probes/ready-builds.ts, 60-80 interleaved rounds, four
 * runs: Info answered 0.9-1.9 ms sooner (http and url give most of it; zlib alone ~0.2).
 */
export const LAZY_BUILTINS = Object.freeze(["http", "url", "dns", "os", "zlib", "tls"]);

/**
 * The same for grpc-js's own modules where a server module links to the client stack only for
 * functions a server does not call: orca.js (ORCA's client: make-client, channel-credentials)
 * and channelz.js (channelz's client and admin service registration: make-client, admin).
 * src/hooks/server.ts loads the server's modules without the package's index, so with these
 * links lazy the client stack (channel, subchannels, resolvers, load balancers, ~60 modules)
 * is never loaded: Info answered ~1 ms sooner (three runs of 60 rounds: -1.7, -0.9, -1.0 ms).
 */
export const LAZY_GRPC_LINKS = Object.freeze({
  "orca.js": Object.freeze(["./make-client", "./channel-credentials"]),
  "channelz.js": Object.freeze(["./make-client", "./admin"]),
});

const lazyRequires = {
  name: "grpc-js-lazy-requires",
  setup(build) {
    build.onLoad({ filter: /[\\/]@grpc[\\/]grpc-js[\\/]build[\\/]src[\\/][^\\/]+\.js$/ }, (args) => {
      const links = LAZY_GRPC_LINKS[path.basename(args.path)] ?? [];
      const source = readFileSync(args.path, "utf8");
      const contents = source.replace(/^const (\w+) = require\("([\w./-]+)"\);$/gm, (line, name, module) =>
        LAZY_BUILTINS.includes(module) || links.includes(module) ? `const ${name} = new Proxy({}, { get: (_target, key) => require("${module}")[key] });` : line,
      );
      return { contents, loader: "js" };
    });
  },
};

// Imported (by bench:hooks, the probes) this module only lends compileExecutable(), its flags
// and bunBinary(); run, it builds (with --compile-only ENTRY OUTFILE [TARGET], under Bun: one
// compileExecutable() build). (Bundled into bench:hooks, import.meta.url is the bundle, which is
// also argv[1]: hence the name.)
const self = fileURLToPath(import.meta.url);
if (path.basename(self) === "build-image-artifact.mjs" && process.argv[1] !== undefined && existsSync(process.argv[1]) && realpathSync(process.argv[1]) === realpathSync(self)) {
  const args = process.argv.slice(2);
  if (args[0] === "--compile-only") {
    bunBuild(args[1], args[2], args[3]).catch((error) => {
      console.error(error);
      process.exit(1);
    });
  } else {
    buildImageArtifact(args);
  }
}

/** The build: dist/domsplice from src/cli.ts (compileExecutable). */
function buildImageArtifact(args) {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(`Usage: npm run build:image-artifact [-- --target bun-linux-x64|bun-linux-arm64]\n\nBuilds dist/domsplice (bun build ${IMAGE_ARTIFACT_BUN_FLAGS.join(" ")} src/cli.ts, and grpc-js's\nrequires of ${LAZY_BUILTINS.join(", ")} and its server's links to its client made lazy), the executable the image ships.`);
    process.exit(0);
  }
  let target;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--target" && args[i + 1]) target = args[++i];
    else if (args[i].startsWith("--target=")) target = args[i].slice("--target=".length);
    else {
      console.error(`build:image-artifact: unknown argument ${JSON.stringify(args[i])} (see --help)`);
      process.exit(2);
    }
  }

  // The kernel module is generated by scripts/build.mjs (npm ci runs it); build it when missing.
  if (!existsSync(path.join(root, "src/xml/kernel.wasm.generated.ts"))) {
    const built = spawnSync(process.execPath, [path.join(root, "scripts/build.mjs")], {
      stdio: "inherit",
      env: { ...process.env, DOMSPLICE_BUILD_ARTIFACT_NEXT: "1" },
    });
    if (built.status !== 0) process.exit(built.status ?? 1);
  }

  mkdirSync(path.dirname(out), { recursive: true });
  const started = performance.now();
  try {
    compileExecutable(path.join(root, "src/cli.ts"), out, target);
  } catch (error) {
    console.error(`build:image-artifact: ${error.message}`);
    process.exit(1);
  }
  const mib = (statSync(out).size / 2 ** 20).toFixed(1);
  console.log(`build:image-artifact: ${path.relative(root, out)} (${mib} MiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * Compiles `entry` to the executable `outfile` as dist/domsplice is built (optionally for another
 * `target`, e.g. bun-linux-arm64): this script run by Bun with --compile-only (Bun.build exists
 * only under Bun, and a child keeps this function synchronous for its callers). Throws an
 * Error when the build fails (what Bun printed went to this process's stdout and stderr).
 */
export function compileExecutable(entry, outfile, target) {
  const args = [script, "--compile-only", entry, outfile];
  if (target) args.push(target);
  const result = spawnSync(bunBinary(), args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (result.error) throw new Error(`cannot run bun: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`bun build of ${path.relative(root, entry)} failed (exit ${result.status ?? result.signal})`);
}

/** One build, in this process; Bun only. */
async function bunBuild(entry, outfile, target) {
  const result = await globalThis.Bun.build({
    entrypoints: [entry],
    ...BUILD_OPTIONS,
    compile: { ...COMPILE_OPTIONS, outfile, ...(target ? { target } : {}) },
    plugins: [lazyRequires],
  });
  if (!result.success) {
    for (const log of result.logs) console.error(String(log));
    process.exit(1);
  }
}

// The Bun running this script (the image's builder stage runs it with oven/bun, which has no
// Node), else Bun from the devDependency (npm ci), else the bun on PATH.
export function bunBinary() {
  if (process.versions.bun) return process.execPath;
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve("bun/package.json", { paths: [root] });
    const bin = path.join(path.dirname(pkg), "bin", "bun.exe");
    if (existsSync(bin)) return bin;
  } catch {}
  return "bun";
}
