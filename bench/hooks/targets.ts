// What bench/hooks.ts starts, and how each runtime starts it. A *runtime* is one way the
// sidecar can ship: Node running the esbuild bundle (bin/domsplice), Bun running the TypeScript
// source, Bun's single binary built as dist/domsplice is (scripts/build-image-artifact.mjs's
// flags), Deno running the source. A *program* is
// what runs: the real `domsplice serve --plugin identity`, or one of the probes in bench/probes/
// that take the start-up apart from the outside (so the product code carries no bench hooks).

import { existsSync, linkSync, copyFileSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { compileExecutable } from "../../scripts/build-image-artifact.mjs";

export type RuntimeName = "node" | "bun" | "bun-compiled" | "deno";
export const RUNTIMES: readonly RuntimeName[] = ["node", "bun", "bun-compiled", "deno"];

export const RUNTIME_LABELS: Record<RuntimeName, string> = {
  node: "Node, esbuild bundle (bin/domsplice)",
  bun: "Bun, source (bun src/cli.ts)",
  "bun-compiled": "Bun, compiled as dist/domsplice",
  deno: "Deno, source (deno run -A src/cli.ts)",
};

/**
 * idle         the runtime alone, kept alive doing nothing (memory floor)
 * start        the runtime running a script that only prints the line the harness waits for
 * load-cli     the runtime importing the CLI (Node: dist/cli.js; others: src/cli.ts), not serving
 * grpc-import  the runtime importing @grpc/grpc-js alone
 * grpc-floor   a bare grpc-js server with Info/OnDefineDomain defined by hand (bench/probes)
 * http2-floor  a bare node:http2 server answering Info/OnDefineDomain by hand, no grpc-js
 * bun-h2-floor Bun only: Bun.listen and a hand-written HTTP/2 frame loop, no node:http2 at all
 * server       the product: domsplice serve --plugin identity
 * server-gc    Bun only, memory only: the product with a full GC forced every 100 ms (how much
 *              of its anonymous memory is garbage not yet collected)
 */
export type ProgramName = "idle" | "start" | "load-cli" | "grpc-import" | "grpc-floor" | "http2-floor" | "bun-h2-floor" | "server" | "server-gc";
export const PROGRAMS: readonly ProgramName[] = ["idle", "start", "load-cli", "grpc-import", "grpc-floor", "http2-floor", "bun-h2-floor", "server", "server-gc"];
/** What ready time is measured for (idle is start's twin, for memory). */
export const READY_PROGRAMS: readonly ProgramName[] = ["start", "load-cli", "grpc-import", "grpc-floor", "http2-floor", "bun-h2-floor", "server"];
/** What memory is measured for. */
export const MEMORY_PROGRAMS: readonly ProgramName[] = ["idle", "grpc-floor", "http2-floor", "bun-h2-floor", "server", "server-gc"];
/** Programs that listen on a socket and answer Info; the others exit after their line. */
export const SERVING_PROGRAMS: readonly ProgramName[] = ["grpc-floor", "http2-floor", "bun-h2-floor", "server", "server-gc"];

/** Whether a program runs on a runtime (two probes use Bun's own APIs). */
export function runsOn(program: ProgramName, runtime: RuntimeName): boolean {
  if (program === "bun-h2-floor" || program === "server-gc") return runtime === "bun" || runtime === "bun-compiled";
  return true;
}

export interface Command {
  file: string;
  args: string[];
}

export interface Paths {
  repoRoot: string;
  bun: string;
  deno: string;
  /** Where the compiled binaries are built: build/hooks-bench/ */
  compiledDir: string;
}

export function pathsUnder(repoRoot: string): Paths {
  return {
    repoRoot,
    bun: path.join(repoRoot, "node_modules", ".bin", "bun"),
    deno: path.join(repoRoot, "node_modules", ".bin", "deno"),
    compiledDir: path.join(repoRoot, "build", "hooks-bench"),
  };
}

/** The source file each program runs from, per runtime family. */
function entryOf(paths: Paths, program: ProgramName, runtime: RuntimeName): string {
  const probes = path.join(paths.repoRoot, "bench", "probes");
  switch (program) {
    case "idle":
      return path.join(probes, "idle.mjs");
    case "start":
      return path.join(probes, "start.mjs");
    case "load-cli":
      return path.join(probes, runtime === "node" ? "load-cli-node.mjs" : "load-cli.mjs");
    case "grpc-import":
      return path.join(probes, "grpc-import.mjs");
    case "grpc-floor":
      return path.join(probes, "grpc-floor.mjs");
    case "http2-floor":
      return path.join(probes, "http2-floor.mjs");
    case "bun-h2-floor":
      return path.join(probes, "bun-h2-floor.mjs");
    case "server-gc":
      return path.join(probes, "server-gc.mjs");
    case "server":
      return runtime === "node" ? path.join(paths.repoRoot, "bin", "domsplice") : path.join(paths.repoRoot, "src", "cli.ts");
  }
}

/** Arguments after the entry: the socket for the servers (floors take it as argv[2]). */
function argumentsOf(program: ProgramName, socket: string): string[] {
  if (program === "server" || program === "server-gc") return ["serve", "--plugin", "identity", "--socket", socket];
  if (program === "grpc-floor" || program === "http2-floor" || program === "bun-h2-floor") return [socket];
  return [];
}

/** Where the compiled binary of a program lives (see compileAll). */
export function compiledBinary(paths: Paths, program: ProgramName): string {
  return path.join(paths.compiledDir, program === "server" ? "domsplice" : `probe-${program}`);
}

export function commandFor(paths: Paths, runtime: RuntimeName, program: ProgramName, socket: string): Command {
  const entry = entryOf(paths, program, runtime);
  const args = argumentsOf(program, socket);
  switch (runtime) {
    case "node":
      return { file: process.execPath, args: [entry, ...args] };
    case "bun":
      return { file: paths.bun, args: [entry, ...args] };
    case "deno":
      return { file: paths.deno, args: ["run", "-A", entry, ...args] };
    case "bun-compiled":
      return { file: compiledBinary(paths, program), args };
  }
}

export interface CompiledBinary {
  program: ProgramName;
  file: string;
  bytes: number;
  buildMs: number;
}

/**
 * compileExecutable() of scripts/build-image-artifact.mjs, the one build of dist/domsplice (its
 * Bun.build options, IMAGE_ARTIFACT_BUN_FLAGS as the command line spells them, and its grpc-js
 * lazy-builtins plugin), for the server (src/cli.ts, so its binary is dist/domsplice's twin) and
 * the probes, into build/hooks-bench/. The binary bundles what it imports (grpc-js, the engine
 * with its embedded WASM kernel), so it needs no node_modules at run time; compiledServerOutside
 * helps prove that.
 */
export function compileAll(paths: Paths, programs: readonly ProgramName[]): CompiledBinary[] {
  mkdirSync(paths.compiledDir, { recursive: true });
  return programs.filter((program) => runsOn(program, "bun-compiled")).map((program) => {
    const file = compiledBinary(paths, program);
    const started = performance.now();
    compileExecutable(entryOf(paths, program, "bun-compiled"), file);
    return { program, file, bytes: statSync(file).size, buildMs: performance.now() - started };
  });
}

/**
 * A hard link (or copy) of the compiled server outside the checkout, for proving that the binary
 * embeds what it needs (grpc-js, the engine, the WASM kernel): bench/hooks.ts serves from it in a
 * temporary directory, with no node_modules within reach, and asks it for Info.
 */
export function compiledServerOutside(paths: Paths, scratch: string): { binary: string; dir: string } {
  const dir = path.join(scratch, "compiled-alone");
  mkdirSync(dir, { recursive: true });
  const binary = path.join(dir, "domsplice");
  try {
    linkSync(compiledBinary(paths, "server"), binary);
  } catch {
    copyFileSync(compiledBinary(paths, "server"), binary);
  }
  return { binary, dir };
}

export function requireRuntimes(paths: Paths): void {
  for (const binary of [paths.bun, paths.deno]) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: npm ci installs Bun and Deno`);
  }
}
