// What the limits benchmark runs under KubeVirt's sidecar limits: the image's executable
// (dist/domsplice, Bun --compile), Node running the esbuild bundle (bin/domsplice) and Deno
// running the source, each as `serve --plugin P --socket S`; or any command given on the command
// line, with {socket} where its socket path goes. Built outputs are rebuilt first when older
// than what they are built from, so a run never measures stale code.

import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { newestMtime } from "../../scripts/node-bundle.mjs";
import type { Command } from "../hooks/targets.ts";
import type { LimitsPlugin } from "./call.ts";

export type LimitsTargetName = "artifact" | "node" | "deno";
export const LIMITS_TARGETS: readonly LimitsTargetName[] = ["artifact", "node", "deno"];

export const TARGET_LABELS: Record<string, string> = {
  artifact: "dist/domsplice (Bun --compile --bytecode --minify, the image's executable)",
  node: "Node, esbuild bundle (bin/domsplice)",
  deno: "Deno, source (deno run -A src/cli.ts)",
};

export interface LimitsTarget {
  name: string;
  /** The command serving on `socket`. */
  command(socket: string): Command;
}

export function artifactPath(repoRoot: string): string {
  return path.join(repoRoot, "dist", "domsplice");
}

export function limitsTarget(repoRoot: string, name: LimitsTargetName, plugin: LimitsPlugin): LimitsTarget {
  const serve = (socket: string) => ["serve", "--plugin", plugin, "--socket", socket];
  switch (name) {
    case "artifact":
      return { name, command: (socket) => ({ file: artifactPath(repoRoot), args: serve(socket) }) };
    case "node":
      return { name, command: (socket) => ({ file: process.execPath, args: [path.join(repoRoot, "bin", "domsplice"), ...serve(socket)] }) };
    case "deno":
      return {
        name,
        command: (socket) => ({ file: path.join(repoRoot, "node_modules", ".bin", "deno"), args: ["run", "-A", path.join(repoRoot, "src", "cli.ts"), ...serve(socket)] }),
      };
  }
}

/** A command from the command line: words, with "{socket}" replaced by the socket path. */
export function customTarget(words: readonly string[]): LimitsTarget {
  if (words.length === 0) throw new Error("a custom sidecar command needs at least the program");
  if (!words.some((word) => word.includes("{socket}"))) throw new Error(`the custom sidecar command must take the socket as {socket}: ${words.join(" ")}`);
  return { name: "custom", command: (socket) => ({ file: words[0], args: words.slice(1).map((word) => word.replaceAll("{socket}", socket)) }) };
}

/**
 * Runs `npm run <script>` when `output` is missing or older than any file of `inputs` (files or
 * directories); throws with the build's output when it fails.
 */
export function ensureBuilt(repoRoot: string, output: string, inputs: readonly string[], script: string, log: (line: string) => void): void {
  const newest = Math.max(...inputs.map((input) => (statSync(input).isDirectory() ? newestMtime(input) : statSync(input).mtimeMs)));
  if (existsSync(output) && statSync(output).mtimeMs >= newest) return;
  log(`${path.relative(repoRoot, output)} is missing or older than its sources: npm run ${script}`);
  const build = spawnSync("npm", ["run", script], { cwd: repoRoot, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`npm run ${script} failed (exit ${build.status}):\n${build.stdout}\n${build.stderr}`);
}

/** dist/domsplice, rebuilt by build:image-artifact when older than src/ or its build script. */
export function ensureArtifact(repoRoot: string, log: (line: string) => void): void {
  ensureBuilt(repoRoot, artifactPath(repoRoot), [path.join(repoRoot, "src"), path.join(repoRoot, "scripts", "build-image-artifact.mjs")], "build:image-artifact", log);
}

/** dist/cli.js (what bin/domsplice runs), rebuilt by npm run build when older than src/. */
export function ensureNodeBundle(repoRoot: string, log: (line: string) => void): void {
  ensureBuilt(repoRoot, path.join(repoRoot, "dist", "cli.js"), [path.join(repoRoot, "src")], "build", log);
}
