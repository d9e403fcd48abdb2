// How big the sidecar image is, measured without Docker or a registry (neither the base images nor
// a daemon can be reached here):
// - dist/domsplice raw and gzip-compressed (registries store layers gzip-compressed; Go's default
//   level is 6), and the files it links (ldd);
// - Dockerfile.bun itself, built with buildah (vfs storage, chroot isolation) on two stand-in base
//   images made here under the names the Dockerfile uses: the runtime base holds only the glibc
//   files ldd lists (the part of distroless base-nossl the artifact uses), the builder holds
//   /bin/sh, the devDependency's Bun (the version the Dockerfile pins) and the CA bundle. The
//   built image goes to an OCI layout whose manifest gives each gzip layer's size;
// - then that image runs as a Network Binding Plugin runs it: its entrypoint, no args, only
//   NETWORK_BINDING_PLUGIN_NAME=passt and CONTAINER_NAME, a host directory mounted at
//   /var/run/kubevirt-hooks; it must log "serving" with plugins ["passt"], make its socket as
//   107:107, answer Info, and exit 0 with the socket gone after a Shutdown call.
// Everything buildah stores goes in a temporary directory that is removed on every exit path.
//
// Usage: node bench/image-size.mjs [--out bench/results/image-size.md] [--no-buildah]
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Client, credentials, Metadata } from "@grpc/grpc-js";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const artifact = path.join(root, "dist", "domsplice");
const dockerfile = path.join(root, "Dockerfile.bun");
const MiB = 2 ** 20;
const mib = (bytes) => (bytes / MiB).toFixed(1);

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log(`Usage: node bench/image-size.mjs [--out FILE] [--no-buildah]

Measures dist/domsplice (raw, gzip -6, gzip -9) and the files it links; with buildah
(apt-get install buildah) builds Dockerfile.bun on stand-in base images, reports its gzip layer
sizes and runs it as a Network Binding Plugin would. Writes FILE (default
bench/results/image-size.md).`);
  process.exit(0);
}
let out = path.join(root, "bench", "results", "image-size.md");
let useBuildah = true;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out" && args[i + 1]) out = path.resolve(args[++i]);
  else if (args[i] === "--no-buildah") useBuildah = false;
  else {
    console.error(`image-size: unknown argument ${JSON.stringify(args[i])} (see --help)`);
    process.exit(2);
  }
}

if (!existsSync(artifact)) {
  const built = spawnSync(process.execPath, [path.join(root, "scripts", "build-image-artifact.mjs")], { stdio: "inherit" });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

// ---- the artifact ----
const raw = readFileSync(artifact);
const gzip6 = gzipSync(raw, { level: 6 }).length;
const gzip9 = gzipSync(raw, { level: 9 }).length;
console.log(`dist/domsplice: ${mib(raw.length)} MiB raw, ${mib(gzip6)} MiB gzip -6, ${mib(gzip9)} MiB gzip -9`);

/** [path the loader looks up, real file] for each library ldd lists (vdso has no file). */
function linkedLibraries(executable) {
  const libraries = [];
  for (const line of execFileSync("ldd", [executable], { encoding: "utf8" }).split("\n")) {
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match) libraries.push([match[1], realpathSync(match[1])]);
  }
  return libraries;
}
const libraries = linkedLibraries(artifact);
const librariesRaw = libraries.reduce((sum, [, file]) => sum + statSync(file).size, 0);
for (const [wanted, file] of libraries) console.log(`  ${wanted} -> ${file} (${mib(statSync(file).size)} MiB)`);

// ---- Dockerfile.bun, built and run with buildah ----

/** The image names of the Dockerfile's FROM lines, without the optional digest part. */
function baseImages() {
  const froms = [...readFileSync(dockerfile, "utf8").matchAll(/^FROM\s+(\S+)/gm)].map((match) => match[1].replace(/\$\{\w+:\+@\}\$\{\w+\}$/, ""));
  if (froms.length !== 2) throw new Error(`Dockerfile.bun: expected 2 FROM lines, found ${froms.length}`);
  return { builder: froms[0].includes("/") ? `docker.io/${froms[0]}` : froms[0], runtime: froms[1] };
}

/** Resolves once `line` appears in the child's stderr (rejects if it exits first or after `ms`). */
function waitForLine(child, stderr, pattern, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms; stderr:\n${stderr.text}`)), ms);
    const check = () => {
      const line = stderr.text.split("\n").find((candidate) => pattern.test(candidate));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    child.stderr.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${pattern}; stderr:\n${stderr.text}`));
    });
  });
}

/** One unary call with an empty request (Info, Shutdown) on a fresh connection; the reply's bytes. */
function emptyCall(socket, method) {
  const client = new Client(`unix:${socket}`, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(method, () => Buffer.alloc(0), (bytes) => bytes, Buffer.alloc(0), new Metadata(), { deadline: Date.now() + 5_000 }, (error, reply) => {
      client.close();
      if (error) reject(error);
      else resolve(reply);
    }),
  );
}

async function buildahImage() {
  const probe = spawnSync("buildah", ["--version"], { encoding: "utf8" });
  if (probe.error) return { skipped: "buildah is not installed (apt-get install buildah)" };
  const work = mkdtempSync(path.join(os.tmpdir(), "domsplice-image-size-"));
  const storage = ["--root", path.join(work, "storage"), "--runroot", path.join(work, "run"), "--storage-driver", "vfs"];
  const buildah = (...command) => execFileSync("buildah", [...storage, ...command], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * MiB }).trim();
  let serving;
  const cleanUp = () => {
    serving?.kill("SIGKILL");
    spawnSync("buildah", [...storage, "rm", "--all"], { stdio: "ignore" });
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    cleanUp();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const bases = baseImages();
    // Runtime stand-in: the glibc files, where the loader looks for them.
    const runtimeBase = buildah("from", "scratch");
    for (const [wanted, file] of libraries) buildah("copy", runtimeBase, file, wanted);
    buildah("commit", "--quiet", runtimeBase, bases.runtime);
    // Builder stand-in: that, plus /bin/sh, Bun and the CA bundle (this machine's TLS roots may
    // include a proxy's, which Bun reads from NODE_EXTRA_CA_CERTS).
    const builderBase = buildah("from", "--pull-never", bases.runtime);
    for (const [wanted, file] of linkedLibraries("/bin/sh")) buildah("copy", builderBase, file, wanted);
    buildah("copy", builderBase, realpathSync("/bin/sh"), "/bin/sh");
    const bun = realpathSync(path.join(root, "node_modules", "bun", "bin", "bun.exe"));
    buildah("copy", builderBase, bun, "/usr/local/bin/bun");
    const caBundle = process.env.NODE_EXTRA_CA_CERTS ?? "/etc/ssl/certs/ca-certificates.crt";
    if (existsSync(caBundle)) buildah("copy", builderBase, caBundle, "/etc/ssl/certs/ca-certificates.crt");
    buildah("run", "--isolation", "chroot", builderBase, "--", "/usr/local/bin/bun", "-e", 'const fs = require("fs"); for (const d of ["/tmp", "/root"]) fs.mkdirSync(d, { recursive: true }); fs.chmodSync("/tmp", 0o1777)');
    buildah("config", "--env", "PATH=/usr/local/bin:/usr/bin:/bin", "--env", "HOME=/root", "--env", "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt", builderBase);
    buildah("commit", "--quiet", builderBase, bases.builder);
    const bunVersion = buildah("run", "--isolation", "chroot", builderBase, "--", "/usr/local/bin/bun", "--version");

    // The Dockerfile itself.
    const started = performance.now();
    buildah("bud", "--isolation", "chroot", "--pull-never", "--quiet", "-f", dockerfile, "-t", "domsplice-image-size", root);
    const buildSeconds = (performance.now() - started) / 1000;
    const layout = path.join(work, "oci");
    buildah("push", "--quiet", "--disable-compression=false", "domsplice-image-size", `oci:${layout}:domsplice`);
    const blob = (digest) => JSON.parse(readFileSync(path.join(layout, "blobs", ...digest.split(":")), "utf8"));
    const manifest = blob(JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8")).manifests[0].digest);
    const config = blob(manifest.config.digest).config;

    // Run it as a binding plugin: the entrypoint, no args, KubeVirt's two variables.
    const hooks = path.join(work, "hooks");
    mkdirSync(hooks);
    chmodSync(hooks, 0o777);
    const container = buildah("from", "--pull-never", "domsplice-image-size");
    serving = spawn("buildah", [...storage, "run", "--isolation", "chroot", "-v", `${hooks}:/var/run/kubevirt-hooks`, "--env", "NETWORK_BINDING_PLUGIN_NAME=passt", "--env", "CONTAINER_NAME=hook-sidecar-0", container, "--", ...config.Entrypoint], { stdio: ["ignore", "ignore", "pipe"] });
    const stderr = { text: "" };
    serving.stderr.setEncoding("utf8");
    serving.stderr.on("data", (chunk) => (stderr.text += chunk));
    const exited = new Promise((resolve) => serving.on("exit", (code, signal) => resolve({ code, signal })));
    const servingLine = JSON.parse(await waitForLine(serving, stderr, /"msg":"serving"/, 20_000));
    const sockets = readdirSync(hooks);
    const socket = path.join(hooks, sockets[0] ?? "none");
    const owner = statSync(socket);
    const info = await emptyCall(socket, "/kubevirt.hooks.info.Info/Info");
    await emptyCall(socket, "/kubevirt.hooks.v1alpha3.Callbacks/Shutdown");
    const exit = await exited;
    serving = undefined;
    const run = {
      entrypoint: config.Entrypoint,
      user: config.User,
      plugins: servingLine.plugins,
      readyMs: servingLine.readyMs,
      socket: `${sockets.join(", ")} owned by ${owner.uid}:${owner.gid}`,
      infoBytes: info.length,
      exit: `${exit.code ?? exit.signal}`,
      socketsLeft: readdirSync(hooks).length,
    };
    if (JSON.stringify(run.plugins) !== '["passt"]' || owner.uid !== 107 || exit.code !== 0 || run.socketsLeft !== 0) {
      throw new Error(`the image did not run as a passt binding plugin should: ${JSON.stringify(run)}\n${stderr.text}`);
    }
    return { bunVersion, buildSeconds, layers: manifest.layers.map((layer) => ({ mediaType: layer.mediaType, size: layer.size })), configSize: manifest.config.size, run };
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    cleanUp();
  }
}

const image = useBuildah ? await buildahImage() : { skipped: "--no-buildah" };
if (image.skipped) console.log(`image: skipped (${image.skipped})`);
else console.log(`image: built in ${image.buildSeconds.toFixed(1)} s; layers ${image.layers.map((l) => `${mib(l.size)} MiB`).join(", ")}; run: ${JSON.stringify(image.run)}`);

// ---- report ----
const load = os.loadavg().map((value) => value.toFixed(2)).join(", ");
const lines = [
  "# Image size",
  "",
  `Measured ${new Date().toISOString()} by \`node bench/image-size.mjs\` on ${os.cpus().length} cores (load average ${load}).`,
  "",
  "| what | raw | compressed |",
  "| --- | ---: | ---: |",
  `| dist/domsplice (Bun --compile --bytecode --minify) | ${mib(raw.length)} MiB | ${mib(gzip6)} MiB gzip -6, ${mib(gzip9)} MiB gzip -9 |`,
  `| glibc files it links (${libraries.length}, ldd) | ${mib(librariesRaw)} MiB | |`,
];
if (!image.skipped) {
  const [baseLayer, ...appLayers] = image.layers;
  const appSize = appLayers.reduce((sum, layer) => sum + layer.size, 0);
  const total = baseLayer.size + appSize + image.configSize;
  const baseEstimate = 2 * MiB + baseLayer.size;
  lines.push(
    `| Dockerfile.bun image, base layer (stand-in: the glibc files only) | | ${mib(baseLayer.size)} MiB |`,
    `| Dockerfile.bun image, its own layer (/domsplice) | | ${mib(appSize)} MiB |`,
    `| Dockerfile.bun image on the stand-in base, all layers + config | | ${mib(total)} MiB |`,
    `| shipped image on distroless base-nossl (estimate, see below) | | about ${mib(baseEstimate + appSize)} MiB or a little more |`,
    "",
    `Dockerfile.bun was built with buildah (${image.buildSeconds.toFixed(1)} s, the builder stand-in running Bun ${image.bunVersion})`,
    `on stand-in base images, because neither oven/bun nor distroless can be pulled here; layer sizes`,
    `are the gzip layers of its OCI manifest (${[...new Set(image.layers.map((layer) => layer.mediaType))].join(", ")}).`,
    `Run as a Network Binding Plugin runs it (entrypoint ${JSON.stringify(image.run.entrypoint)}, user ${image.run.user},`,
    `no args, NETWORK_BINDING_PLUGIN_NAME=passt): it served with plugins ${JSON.stringify(image.run.plugins)}`,
    `(readyMs ${image.run.readyMs} in its own log), socket ${image.run.socket}, answered Info`,
    `(${image.run.infoBytes} bytes), and after Shutdown exited ${image.run.exit} leaving ${image.run.socketsLeft} files in the socket directory.`,
    "",
    "The shipped image's base is gcr.io/distroless/base-nossl-debian12, whose compressed size is not",
    "published in the documentation found here: the distroless README gives about 2 MiB for",
    "static-debian12, and base-nossl is static plus glibc, so the base is estimated as 2 MiB plus the",
    `glibc layer measured above (${mib(baseEstimate)} MiB): a lower bound, since Debian's libc6 as distroless`,
    "packages it holds more than the five files the artifact links.",
  );
} else {
  lines.push("", `The image part was skipped: ${image.skipped}.`);
}
lines.push("", "Linked files:", "", ...libraries.map(([wanted, file]) => `- \`${wanted}\` (${file === wanted ? "" : `${file}, `}${mib(statSync(file).size)} MiB)`), "");
writeFileSync(out, lines.join("\n"));
console.log(`wrote ${path.relative(root, out)}`);
