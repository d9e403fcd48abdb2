// How big the sidecar image is, measured without Docker or a registry: dist/domsplice raw and
// gzip-compressed (registries store layers gzip-compressed, Go's default level 6), the glibc files
// it links (ldd), and a FROM-scratch image built with buildah (vfs storage, chroot isolation) in
// two layers as Dockerfile.bun would have them, glibc then the artifact, committed to an OCI
// layout whose manifest gives each compressed layer's size. The artifact is also run inside that
// image (`/domsplice --help` and `/domsplice check`, with the image user 107:107), which shows those files are
// all it needs. (`--version` is not used: it reads package.json beside src/, which is not there.)
// Everything buildah stores goes in a temporary directory that is removed on every exit path.
//
// Usage: node bench/image-size.mjs [--out bench/results/image-size.md] [--no-buildah]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const artifact = path.join(root, "dist", "domsplice");
const MiB = 2 ** 20;
const mib = (bytes) => (bytes / MiB).toFixed(1);

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log(`Usage: node bench/image-size.mjs [--out FILE] [--no-buildah]

Measures dist/domsplice (raw, gzip -6, gzip -9), the glibc files it links, and, with buildah
(apt-get install buildah), a FROM-scratch image of those files plus the artifact: compressed
layer sizes from the OCI manifest. Writes FILE (default bench/results/image-size.md).`);
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

// ---- the shared libraries it links, as the paths the loader asks for and the files behind them ----
/** [path the loader looks up, real file] for each library ldd lists (vdso has no file). */
function linkedLibraries(executable) {
  const lines = execFileSync("ldd", [executable], { encoding: "utf8" }).split("\n");
  const libraries = [];
  for (const line of lines) {
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match) libraries.push([match[1], realpathSync(match[1])]);
  }
  return libraries;
}
const libraries = linkedLibraries(artifact);
const librariesRaw = libraries.reduce((sum, [, file]) => sum + statSync(file).size, 0);
for (const [wanted, file] of libraries) console.log(`  ${wanted} -> ${file} (${mib(statSync(file).size)} MiB)`);

// ---- a FROM-scratch image with buildah ----
function buildahImage() {
  const probe = spawnSync("buildah", ["--version"], { encoding: "utf8" });
  if (probe.error) return { skipped: "buildah is not installed (apt-get install buildah)" };
  const work = mkdtempSync(path.join(os.tmpdir(), "domsplice-image-size-"));
  const base = ["--root", path.join(work, "storage"), "--runroot", path.join(work, "run"), "--storage-driver", "vfs"];
  const buildah = (...command) => execFileSync("buildah", [...base, ...command], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  const cleanUp = () => {
    spawnSync("buildah", [...base, "rm", "--all"], { stdio: "ignore" });
    rmSync(work, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    cleanUp();
    process.exit(130);
  });
  try {
    const container = buildah("from", "scratch");
    for (const [wanted, file] of libraries) buildah("copy", container, file, wanted);
    buildah("commit", "--quiet", container, "glibc-layer");
    const app = buildah("from", "glibc-layer");
    buildah("copy", "--chmod", "0555", app, artifact, "/domsplice");
    buildah("config", "--user", "107:107", "--entrypoint", '["/domsplice", "serve"]', "--env", "DOMSPLICE_PLUGINS=", app);
    const help = buildah("run", "--isolation", "chroot", app, "--", "/domsplice", "--help").split("\n")[0];
    buildah("copy", app, path.join(root, "examples", "domain.xml"), "/tmp/domain.xml");
    const check = buildah("run", "--isolation", "chroot", app, "--", "/domsplice", "check", "/tmp/domain.xml");
    const layout = path.join(work, "oci");
    buildah("commit", "--quiet", "--disable-compression=false", app, `oci:${layout}:domsplice`);
    const blob = (digest) => JSON.parse(readFileSync(path.join(layout, "blobs", ...digest.split(":")), "utf8"));
    const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8"));
    const manifest = blob(index.manifests[0].digest);
    return {
      ran: `--help: "${help}"; check: exit 0${check ? ` (${check})` : ""}`,
      layers: manifest.layers.map((layer) => ({ mediaType: layer.mediaType, size: layer.size })),
      configSize: manifest.config.size,
    };
  } finally {
    cleanUp();
  }
}
const image = useBuildah ? buildahImage() : { skipped: "--no-buildah" };
if (image.skipped) console.log(`image: skipped (${image.skipped})`);
else console.log(`image: layers ${image.layers.map((l) => `${mib(l.size)} MiB (${l.mediaType})`).join(", ")}; in it: ${image.ran}`);

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
  `| glibc files it links (${libraries.length}, ldd) | ${mib(librariesRaw)} MiB | see layers |`,
];
if (!image.skipped) {
  const [glibcLayer, appLayer] = image.layers;
  const total = image.layers.reduce((sum, layer) => sum + layer.size, 0) + image.configSize;
  lines.push(
    `| FROM-scratch image, layer 1: the glibc files | | ${mib(glibcLayer.size)} MiB |`,
    `| FROM-scratch image, layer 2: /domsplice | | ${mib(appLayer.size)} MiB |`,
    `| FROM-scratch image, all layers + config (what a node pulls) | | ${mib(total)} MiB |`,
    "",
    `Layers are ${[...new Set(image.layers.map((layer) => layer.mediaType))].join(", ")} as buildah commits them to an OCI layout;`,
    `sizes are the manifest's. Run inside that image (user 107:107 configured), \`/domsplice --help\` and \`/domsplice check\` on`,
    `examples/domain.xml gave: ${image.ran}; so the artifact needs nothing beyond those files.`,
  );
} else {
  lines.push("", `The image part was skipped: ${image.skipped}.`);
}
lines.push(
  "",
  "Linked files:",
  "",
  ...libraries.map(([wanted, file]) => `- \`${wanted}\` (${file === wanted ? "" : `${file}, `}${mib(statSync(file).size)} MiB)`),
  "",
  "The shipped image (Dockerfile.bun) puts the artifact layer on gcr.io/distroless/base-nossl-debian12",
  "instead of the bare glibc layer above. Its compressed size is not published in the documentation",
  "found here; the distroless README gives about 2 MiB for static-debian12, and base-nossl is",
  "static plus glibc, so the base is estimated as about 2 MiB plus the glibc layer measured above,",
  "and the whole image as that plus the artifact layer.",
);
if (!image.skipped) {
  const baseEstimate = 2 * MiB + image.layers[0].size;
  lines.push("", `Estimate for the shipped image: base about ${mib(baseEstimate)} MiB + artifact layer ${mib(image.layers[1].size)} MiB = about ${mib(baseEstimate + image.layers[1].size)} MiB compressed.`);
}
lines.push("");
writeFileSync(out, lines.join("\n"));
console.log(`wrote ${path.relative(root, out)}`);
