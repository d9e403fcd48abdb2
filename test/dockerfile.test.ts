// Dockerfile.bun, checked where no image can be built: `dockerfile-utils lint` finds no problem
// (and does find one in a damaged copy, so the lint really runs), and the file keeps its
// contract: the builder is the Bun of package-lock.json and runs the npm script CI runs, the
// runtime stage is distroless, runs as 107:107, starts `/domsplice serve`, bakes
// DOMSPLICE_PLUGINS and carries the OCI labels. The artifact itself: test/artifact.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "./hook-manager.ts";

const dockerfilePath = path.join(repoRoot, "Dockerfile.bun");
const dockerfile = readFileSync(dockerfilePath, "utf8");
const packageJson = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
const packageLock = JSON.parse(readFileSync(path.join(repoRoot, "package-lock.json"), "utf8"));

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

/** Instructions with continuation lines joined; comments and the parser directive dropped. */
function instructions(text: string): Instruction[] {
  const result: Instruction[] = [];
  let pending = "";
  let startLine = 0;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) return;
    if (pending === "") startLine = index + 1;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      return;
    }
    const whole = (pending + line).trim();
    pending = "";
    const space = whole.search(/\s/);
    result.push({ keyword: whole.slice(0, space).toUpperCase(), args: whole.slice(space).trim(), line: startLine });
  });
  return result;
}

/** The instructions of each stage, from its FROM on. */
function stages(all: readonly Instruction[]): Instruction[][] {
  const list: Instruction[][] = [];
  for (const instruction of all) {
    if (instruction.keyword === "FROM") list.push([]);
    list.at(-1)?.push(instruction);
  }
  return list;
}

function lint(file: string): { severity: string; message: string; range: { start: { line: number } } }[] {
  const run = spawnSync(path.join(repoRoot, "node_modules", ".bin", "dockerfile-utils"), ["lint", "--json", file], { encoding: "utf8" });
  assert.equal(run.error, undefined, `dockerfile-utils could not run: ${run.error?.message}`);
  try {
    return JSON.parse(run.stdout);
  } catch {
    assert.fail(`dockerfile-utils lint --json printed no JSON (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
}

const all = instructions(dockerfile);
const [builder, runtime] = stages(all);

test("dockerfile-utils lint finds no problem in Dockerfile.bun", () => {
  const problems = lint(dockerfilePath);
  assert.deepEqual(
    problems.map((problem) => `line ${problem.range.start.line + 1}: ${problem.severity}: ${problem.message}`),
    [],
  );
});

test("dockerfile-utils lint reports a damaged copy (the lint is real)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "domsplice-dockerfile-"));
  try {
    const damaged = path.join(dir, "Dockerfile.bun");
    writeFileSync(damaged, dockerfile.replace("COPY --from=build", "COPY --form=build").replace('USER 107:107', "USER"));
    const messages = lint(damaged).map((problem) => problem.message);
    assert.ok(messages.some((message) => /form/.test(message)), `no problem reported for the unknown flag --form: ${JSON.stringify(messages)}`);
    assert.ok(messages.includes("Instruction has no arguments"), `no problem reported for USER without a user: ${JSON.stringify(messages)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("two stages: a builder and the runtime image", () => {
  assert.equal(stages(all).length, 2, `stages: ${all.filter((i) => i.keyword === "FROM").map((i) => i.args).join(" | ")}`);
});

test("the builder is oven/bun at the exact version package-lock.json installs, with an optional digest", () => {
  const locked = packageLock.packages["node_modules/bun"]?.version;
  assert.match(locked ?? "", /^\d+\.\d+\.\d+$/, "package-lock.json has no exact bun version");
  assert.match(builder[0].args, new RegExp(`^oven/bun:${locked.replaceAll(".", "\\.")}\\$\\{BUN_DIGEST:\\+@\\}\\$\\{BUN_DIGEST\\} AS build$`));
  assert.ok(all.some((i) => i.keyword === "ARG" && /^BUN_DIGEST(=|$)/.test(i.args) && i.line < builder[0].line), "ARG BUN_DIGEST must be declared before the FROM that uses it");
});

test("the builder installs from package-lock.json, frozen, and runs the npm script CI runs", () => {
  const runs = builder.filter((i) => i.keyword === "RUN").map((i) => i.args);
  assert.ok(runs.some((run) => /^bun install --frozen-lockfile\b/.test(run)), `no frozen install in ${JSON.stringify(runs)}`);
  assert.ok(builder.some((i) => i.keyword === "COPY" && /\bpackage-lock\.json\b/.test(i.args)), "package-lock.json is not copied before the install");
  assert.ok(runs.some((run) => /^bun run build:image-artifact\b/.test(run)), `no 'bun run build:image-artifact' in ${JSON.stringify(runs)}`);
  assert.equal(packageJson.scripts["build:image-artifact"], "node scripts/build-image-artifact.mjs");
  assert.match(packageJson.scripts.build, /scripts\/build\.mjs/);
  assert.match(readFileSync(path.join(repoRoot, "scripts", "build.mjs"), "utf8"), /build-image-artifact\.mjs/, "npm ci must build dist/domsplice too");
});

test("the runtime stage is distroless with glibc, pinnable by digest, and holds only the artifact", () => {
  assert.match(runtime[0].args, /^gcr\.io\/distroless\/(base-nossl|base|cc)-debian\d+:[\w.-]+\$\{BASE_DIGEST:\+@\}\$\{BASE_DIGEST\}$/);
  const copies = runtime.filter((i) => i.keyword === "COPY").map((i) => i.args);
  assert.deepEqual(copies, ["--from=build --chown=0:0 --chmod=0555 /src/dist/domsplice /domsplice"]);
  assert.equal(runtime.filter((i) => i.keyword === "RUN").length, 0, "the runtime stage has no shell to RUN with");
});

test("the runtime runs as 107:107 and starts `/domsplice serve` in exec form", () => {
  const users = runtime.filter((i) => i.keyword === "USER").map((i) => i.args);
  assert.deepEqual(users, ["107:107"]);
  const entrypoints = runtime.filter((i) => i.keyword === "ENTRYPOINT").map((i) => JSON.parse(i.args));
  assert.deepEqual(entrypoints, [["/domsplice", "serve"]]);
  assert.equal(runtime.filter((i) => i.keyword === "CMD").length, 0, "a CMD would add args to every start");
});

test("DOMSPLICE_PLUGINS is a build argument baked into the environment", () => {
  assert.ok(runtime.some((i) => i.keyword === "ARG" && /^DOMSPLICE_PLUGINS(=|$)/.test(i.args)));
  assert.ok(runtime.some((i) => i.keyword === "ENV" && i.args === 'DOMSPLICE_PLUGINS="${DOMSPLICE_PLUGINS}"'));
});

test("OCI labels: title, description, licenses from package.json, version defaulting to package.json's", () => {
  const labels = runtime.filter((i) => i.keyword === "LABEL").map((i) => i.args).join(" ");
  for (const key of ["title", "description", "source", "licenses", "version", "revision", "created"]) {
    assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`), `label org.opencontainers.image.${key} missing`);
  }
  assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.licenses="${packageJson.license}"`));
  assert.ok(runtime.some((i) => i.keyword === "ARG" && i.args === `VERSION="${packageJson.version}"`), "ARG VERSION must default to package.json's version");
});

test(".dockerignore keeps this checkout's build output and node_modules out of the build context", () => {
  const ignored = readFileSync(path.join(repoRoot, ".dockerignore"), "utf8").split("\n").map((line) => line.trim());
  for (const entry of ["node_modules", "dist", "build", ".git", "src/xml/kernel.wasm.generated.ts"]) assert.ok(ignored.includes(entry), `${entry} not in .dockerignore`);
});
