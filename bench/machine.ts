// What the benchmark ran on, recorded next to the numbers: CPU model and core count, the
// runtimes installed with the project (Node running the benchmark; Bun and Deno from their npm
// packages) and the exact versions of every library measured.

import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  /** The runtime this benchmark ran under, e.g. "Node 20.20.2" or "Bun 1.4.5". */
  ranOn: string;
  runtimes: { node: string; v8: string; bun: string | null; deno: string | null };
  libraries: Record<string, string>;
}

function cpuModel(): string {
  try {
    const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
    const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo);
    if (model) return model[1].trim();
  } catch {
    // Not Linux: fall back to what the OS reports.
  }
  return os.cpus()[0]?.model ?? "unknown";
}

function versionOf(binary: string, args: string[]): string | null {
  try {
    const output = execFileSync(path.join(repoRoot, "node_modules", ".bin", binary), args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 10_000,
    });
    return /\d+\.\d+\.\d+/.exec(output)?.[0] ?? null;
  } catch {
    return null;
  }
}

function currentRuntime(): string {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.bun) return `Bun ${versions.bun}`;
  if (versions.deno) return `Deno ${versions.deno}`;
  return `Node ${versions.node}`;
}

function packageVersion(name: string): string {
  const manifest = path.join(repoRoot, name === "domsplice" ? "" : path.join("node_modules", name), "package.json");
  return JSON.parse(readFileSync(manifest, "utf8")).version;
}

export function describeMachine(): Machine {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    ranOn: currentRuntime(),
    runtimes: {
      node: process.versions.node,
      v8: process.versions.v8,
      bun: versionOf("bun", ["--version"]),
      deno: versionOf("deno", ["--version"]),
    },
    libraries: Object.fromEntries(
      ["domsplice", "txml", "@rgrove/parse-xml", "xmlbuilder2", "tinybench"].map((name) => [name, packageVersion(name)]),
    ),
  };
}
